// The guide's "Capturing your domain": add the domain, publish the TXT record, wait for propagation,
// see "Pending" turn into the green "Verified" badge live (by the refresh button and by the background
// check), then verify a subdomain on its own record.
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN_CHECK_QUEUE } from '../../src/app.js';
import {
  DomainAddDocument,
  DomainDocument,
  DomainRefreshDocument,
  DomainStatusChangedDocument,
  type DomainStatusChangedSubscription,
  OrganizationCreateDocument,
  OrganizationWithParentDocument,
} from '../generated/graphql.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('capturing a domain', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { DOMAIN_REFRESH_MIN_SECONDS: '1' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('goes from Pending to Verified once the record propagates, live, then verifies a subdomain on its own record', async () => {
    const owner = await stack.signIn(uniqueEmail('owner'));
    const org = (
      await stack.gqlOk(
        OrganizationCreateDocument,
        { input: { name: 'Capture Corp', kind: 'ENTERPRISE' } },
        owner.token,
      )
    ).organizationCreate.organization!;
    const parentId = (await stack.gqlOk(OrganizationWithParentDocument, { id: org.id }, owner.token))
      .organization.parentOrganization!.id;

    const events: DomainStatusChangedSubscription['domainStatusChanged'][] = [];
    const client = stack.ws(owner.token);
    const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    client.subscribe<DomainStatusChangedSubscription>(
      { query: print(DomainStatusChangedDocument), variables: { parentId } },
      { next: (v) => v.data && events.push(v.data.domainStatusChanged), error: () => {}, complete: () => {} },
    );
    await connected;

    // "Click Add Domain" and read the instructions.
    const added = await stack.gqlOk(
      DomainAddDocument,
      { parentId, input: { name: ' Capture-Corp.COM. ' } },
      owner.token,
    );
    expect(added.domainAdd.userErrors).toEqual([]);
    const domain = added.domainAdd.domain!;
    expect(domain).toMatchObject({ name: 'capture-corp.com', status: 'PENDING' });
    expect(domain.verificationRecord.name).toBe('_anthropic-challenge.capture-corp.com');
    expect(domain.verificationRecord.type).toBe('TXT');
    const token = /^anthropic-domain-verification=([A-Za-z0-9_-]+)$/.exec(
      domain.verificationRecord.value,
    )![1]!;
    expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16);

    // The record is published but takes a while to propagate.
    stack.dns.setTxt(domain.verificationRecord.name, [domain.verificationRecord.value], {
      visibleAfterMs: 1_500,
    });
    const early = await stack.gqlOk(DomainRefreshDocument, { id: domain.id }, owner.token);
    expect(early.domainRefresh.domain).toMatchObject({ status: 'PENDING', lastCheckOutcome: 'ABSENT' });
    // The refresh button is rate-limited.
    const tooSoon = await stack.gql(DomainRefreshDocument, { id: domain.id }, owner.token);
    expect(tooSoon.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });

    await new Promise((r) => setTimeout(r, 1_600));
    const refreshed = await stack.gqlOk(DomainRefreshDocument, { id: domain.id }, owner.token);
    expect(refreshed.domainRefresh.domain).toMatchObject({ status: 'VERIFIED', lastCheckOutcome: 'FOUND' });
    await expect
      .poll(() => events.map((e) => `${e.name}:${e.status}`), { timeout: 5_000 })
      .toContain('capture-corp.com:VERIFIED');

    // A subdomain is verified on its own record, this time by the background check.
    const sub = (
      await stack.gqlOk(DomainAddDocument, { parentId, input: { name: 'eu.capture-corp.com' } }, owner.token)
    ).domainAdd.domain!;
    expect(sub.verificationRecord.name).toBe('_anthropic-challenge.eu.capture-corp.com');
    stack.dns.setTxt(sub.verificationRecord.name, [sub.verificationRecord.value]);
    await stack.app.jobs.trigger(DOMAIN_CHECK_QUEUE);
    await expect
      .poll(async () => (await stack.gqlOk(DomainDocument, { id: sub.id }, owner.token)).domain.status, {
        timeout: 10_000,
      })
      .toBe('VERIFIED');
    await expect
      .poll(() => events.map((e) => `${e.name}:${e.status}`), { timeout: 5_000 })
      .toContain('eu.capture-corp.com:VERIFIED');
    expect(stack.dns.queries({ name: '_anthropic-challenge.eu.capture-corp.com' }).length).toBeGreaterThan(0);
  });
});
