// GQ-10, DV-13: repeated sign-in codes, SSO starts, approval link and SCIM token guesses and domain checks
// are refused with a typed error (429 and Retry-After on REST routes), on a budget every instance shares.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DomainRefreshDocument,
  LoginCodeRequestDocument,
  MergeProposalReviewDocument,
} from '../generated/graphql.js';
import { capturedParent } from '../support/identity.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

const LOW_LIMITS = {
  RATE_LIMIT_LOGIN_CODES_PER_IP: '4/900',
  RATE_LIMIT_SSO_STARTS_PER_IP: '3/60',
  RATE_LIMIT_APPROVAL_FAILURES_PER_IP: '3/900',
  RATE_LIMIT_SCIM_AUTH_FAILURES_PER_IP: '3/300',
  RATE_LIMIT_DOMAIN_CHECKS_PER_USER: '3/3600',
  DOMAIN_REFRESH_MIN_SECONDS: '0',
};

describe('rate limits', () => {
  let a: Stack;
  let b: Stack;
  beforeAll(async () => {
    a = await startStack({ env: LOW_LIMITS });
    b = await startStack({ env: LOW_LIMITS, instanceOf: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const retryAfter = (response: Response) => Number(response.headers.get('retry-after'));

  it('limits the domain checks of one user, each GraphQL call counted', async () => {
    // One sign-in code and one domain check are spent here.
    const parent = await capturedParent(a, `ratelimit-${randomUUID().slice(0, 8)}.com`);
    const domainId = (
      await a.app.orm.em
        .fork()
        .getConnection()
        .execute<Array<{ id: string }>>('select id from domains where parent_id = ?', [parent.parentId])
    )[0]!.id;
    // Two aliases in one request are two checks: the budget of 3 is spent after this request.
    const aliased = await fetch(`${a.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${parent.owner.token}` },
      body: JSON.stringify({
        query: `mutation($id: ID!) { r1: domainRefresh(id: $id) { domain { id } } r2: domainRefresh(id: $id) { domain { id } } }`,
        variables: { id: domainId },
      }),
    });
    expect(((await aliased.json()) as { errors?: unknown }).errors).toBeUndefined();
    // Instance B counts against the same budget as instance A.
    const refused = await b.gql(DomainRefreshDocument, { id: domainId }, parent.owner.token);
    expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(refused.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(3000);
  });

  it('limits sign-in codes per client address across addresses and instances', async () => {
    // Budget 4: one was spent above; two here on A, one on B, then both refuse.
    for (const stack of [a, a, b]) {
      const result = await stack.gql(LoginCodeRequestDocument, { input: { email: uniqueEmail('spray') } });
      expect(result.errors).toBeUndefined();
    }
    for (const stack of [a, b]) {
      const result = await stack.gql(LoginCodeRequestDocument, { input: { email: uniqueEmail('spray') } });
      expect(result.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
      expect(result.data?.loginCodeRequest ?? null).toBeNull();
    }
  });

  it('limits SSO starts per client address with 429 and Retry-After', async () => {
    const start = (stack: Stack) =>
      fetch(`${stack.url}/sso/saml/${randomUUID()}/login`, { redirect: 'manual' });
    for (const stack of [a, b, a]) expect((await start(stack)).status).toBe(404);
    const refused = await start(b);
    expect(refused.status).toBe(429);
    expect(retryAfter(refused)).toBeGreaterThan(0);
    const oidc = await fetch(`${a.url}/sso/oidc/${randomUUID()}/login`, { redirect: 'manual' });
    expect(oidc.status).toBe(429);
  });

  it('refuses approval links after repeated wrong ones, over the link page and GraphQL alike', async () => {
    const linkPage = (stack: Stack) => fetch(`${stack.url}/merge-proposals/review?token=${'x'.repeat(43)}`);
    const review = (stack: Stack) => stack.gql(MergeProposalReviewDocument, { token: 'y'.repeat(43) });
    expect((await review(a)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await review(b)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await review(a)).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const limited = await review(b);
    expect(limited.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    const page = await linkPage(a);
    expect(page.status).toBe(429);
    expect(retryAfter(page)).toBeGreaterThan(0);
  });

  it('refuses SCIM requests from an address after repeated wrong tokens, with a SCIM error body', async () => {
    const get = (stack: Stack) =>
      fetch(`${stack.url}/scim/v2/${randomUUID()}/Users`, {
        headers: { authorization: `Bearer scim_${'z'.repeat(40)}` },
      });
    for (const stack of [a, b, a]) expect((await get(stack)).status).toBe(401);
    const refused = await get(b);
    expect(refused.status).toBe(429);
    expect(retryAfter(refused)).toBeGreaterThan(0);
    expect(refused.headers.get('content-type')).toContain('application/scim+json');
    expect(await refused.json()).toMatchObject({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: '429',
    });
  });
});

describe('rate limits behind a load balancer', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { TRUST_PROXY: '127.0.0.1', RATE_LIMIT_SSO_STARTS_PER_IP: '1/60' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('counts per client named by the trusted proxy, not per proxy', async () => {
    const start = (client: string) =>
      fetch(`${stack.url}/sso/saml/${randomUUID()}/login`, {
        redirect: 'manual',
        headers: { 'x-forwarded-for': client },
      });
    expect((await start('203.0.113.5')).status).toBe(404);
    expect((await start('203.0.113.5')).status).toBe(429);
    expect((await start('203.0.113.6')).status).toBe(404);
  });
});
