// Two API instances behind one public URL, on one PostgreSQL and one Redis, as a load balancer would run
// them: what one instance does, the other sees; what must happen once happens once.
import { inflateRawSync } from 'node:zlib';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdpTenant } from '../../simulators/idp/index.js';
import {
  DomainAddDocument,
  DomainRefreshDocument,
  DomainStatusChangedDocument,
  LoginCodeRequestDocument,
  type SsoConnectionFieldsFragment,
} from '../generated/graphql.js';
import { Browser } from '../support/browser.js';
import {
  browserFor,
  type CapturedParent,
  capturedParent,
  samlConnection,
  testAndActivate,
} from '../support/identity.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('two instances on one PostgreSQL and one Redis', () => {
  let a: Stack;
  let b: Stack;
  let parent: CapturedParent;
  /** The owner's subscription socket on B, opened by the first test and ended by the last. */
  let ownerSocketOnBClosed = false;
  beforeAll(async () => {
    a = await startStack({ env: { REDIS_URL } });
    // One public URL for both, as behind a load balancer: SAML audiences and ACS URLs name it.
    b = await startStack({ instanceOf: a, env: { REDIS_URL, PUBLIC_URL: a.url } });
    parent = await capturedParent(a, 'scaleout-corp.com', 'Scale-out Corp');
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('delivers a change made on instance A to a subscriber on instance B', async () => {
    const client = b.ws(parent.owner.token);
    client.on('closed', () => (ownerSocketOnBClosed = true));
    const events: Array<{ name: string; status: string }> = [];
    const subscribed = new Promise<void>((resolve, reject) => {
      client.on('connected', () => setTimeout(resolve, 300));
      client.subscribe(
        { query: print(DomainStatusChangedDocument), variables: { parentId: parent.parentId } },
        {
          next: (message) => {
            const { name, status } = (
              message.data as { domainStatusChanged: { name: string; status: string } }
            ).domainStatusChanged;
            events.push({ name, status });
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    await subscribed;
    const added = (
      await a.gqlOk(
        DomainAddDocument,
        { parentId: parent.parentId, input: { name: 'live.scaleout-corp.com' } },
        parent.owner.token,
      )
    ).domainAdd.domain!;
    a.dns.setTxt(added.verificationRecord.name, [added.verificationRecord.value]);
    await a.gqlOk(DomainRefreshDocument, { id: added.id }, parent.owner.token);
    await expect
      .poll(() => events.find((e) => e.status === 'VERIFIED'), { timeout: 10_000 })
      .toEqual({ name: 'live.scaleout-corp.com', status: 'VERIFIED' });
  });

  it('checks a pending domain once, though both instances run the checks', async () => {
    const added = (
      await a.gqlOk(
        DomainAddDocument,
        { parentId: parent.parentId, input: { name: 'once.scaleout-corp.com' } },
        parent.owner.token,
      )
    ).domainAdd.domain!;
    a.dns.reset();
    await Promise.all([
      a.app.services.domains.checkDue(a.app.orm.em.fork()),
      b.app.services.domains.checkDue(b.app.orm.em.fork()),
    ]);
    expect(a.dns.queries({ name: added.verificationRecord.name })).toHaveLength(1);
  });

  it('sends a mail once, though both instances run the mail worker', async () => {
    const emails = Array.from({ length: 6 }, () => uniqueEmail('once'));
    await Promise.all(
      emails.map((email, i) => (i % 2 ? b : a).gqlOk(LoginCodeRequestDocument, { input: { email } })),
    );
    for (const email of emails) await a.mail.waitFor({ to: email }, { timeoutMs: 15_000 });
    // Both workers poll twice a second: give a duplicate time to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const email of emails) expect(a.mail.messages({ to: email })).toHaveLength(1);
  });

  // Last: activating SSO ends the sessions of the owner the other tests use.
  it('ends sessions on every instance and refuses on B a SAML response already used on A', async () => {
    const tenant: IdpTenant = await a.idp.createTenant({ preset: 'okta' });
    const employee = uniqueEmail('emp', 'scaleout-corp.com');
    tenant.addUser({ email: parent.owner.email, firstName: 'O', lastName: 'W', groups: [] });
    tenant.addUser({ email: employee, firstName: 'E', lastName: 'M', groups: [] });
    const connection: SsoConnectionFieldsFragment = await samlConnection(a, parent, tenant);
    await testAndActivate(a, parent, connection.id, tenant);
    // Activation on A ended the owner's sessions: their live socket on B closes too.
    await expect.poll(() => ownerSocketOnBClosed, { timeout: 10_000 }).toBe(true);

    const onA = browserFor(a);
    const start = await onA.get(connection.loginUrl);
    const request = new URL(start.headers.get('location')!).searchParams.get('SAMLRequest')!;
    const requestId = /\sID="([^"]+)"/.exec(
      inflateRawSync(Buffer.from(request, 'base64')).toString('utf8'),
    )![1]!;
    const saml = tenant.samlLoginResponse({
      requestId,
      acsUrl: connection.acsUrl!,
      audience: connection.spEntityId!,
      email: employee,
    });
    const used = await onA.postForm(connection.acsUrl!, { SAMLResponse: saml.SAMLResponse });
    expect(used.status).toBe(303);

    // The same browser, now routed to instance B by the load balancer.
    const onB = new Browser(b.url);
    onB.setCookie('ci_sso', onA.cookie('ci_sso')!);
    const replayed = await onB.postForm(`${b.url}${new URL(connection.acsUrl!).pathname}`, {
      SAMLResponse: saml.SAMLResponse,
    });
    expect(replayed.status).toBe(403);
    expect(await replayed.text()).toContain('<code>REPLAY</code>');
    expect(onB.cookie('ci_session')).toBeUndefined();
  });
});
