// Every refusal of rule 10 at the assertion consumer service, driven by the IdP simulator's fault
// switches: each is refused with its reason code and signs nobody in.
import { setTimeout } from 'node:timers/promises';
import { inflateRawSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdpTenant, SamlFaults } from '../../simulators/idp/index.js';
import {
  DirectoryCreateDocument,
  type SsoConnectionFieldsFragment,
  SsoConnectionTestDocument,
} from '../generated/graphql.js';
import type { Browser } from '../support/browser.js';
import {
  browserFor,
  type CapturedParent,
  capturedParent,
  samlConnection,
  ssoSignIn,
  testAndActivate,
} from '../support/identity.js';
import { scimClient } from '../support/scim.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('SAML assertion consumer service refusals', () => {
  let stack: Stack;
  let parent: CapturedParent;
  let tenant: IdpTenant;
  let connection: SsoConnectionFieldsFragment;
  let employee: string;

  beforeAll(async () => {
    stack = await startStack();
    parent = await capturedParent(stack, 'acs-corp.com', 'ACS Corp');
    tenant = await stack.idp.createTenant({ preset: 'okta' });
    employee = uniqueEmail('emp', 'acs-corp.com');
    tenant.addUser({ email: parent.owner.email, firstName: 'A', lastName: 'B', groups: [] });
    tenant.addUser({ email: employee, firstName: 'E', lastName: 'M', groups: [] });
    tenant.addUser({ email: 'someone@outside-corp.com', firstName: 'O', lastName: 'X', groups: [] });
    connection = await samlConnection(stack, parent, tenant);
    await testAndActivate(stack, parent, connection.id, tenant);
  });
  afterAll(async () => {
    await stack?.close();
  });

  /**
   * Starts a login in a fresh browser (or a test login at `startUrl` in `browser`); returns the browser and
   * the AuthnRequest ID it is waiting for.
   */
  async function startLogin(
    browser = browserFor(stack),
    startUrl = connection.loginUrl,
  ): Promise<{ browser: Browser; requestId: string }> {
    const start = await browser.get(startUrl);
    expect(start.status).toBe(302);
    const request = new URL(start.headers.get('location')!).searchParams.get('SAMLRequest')!;
    const xml = inflateRawSync(Buffer.from(request, 'base64')).toString('utf8');
    return { browser, requestId: /\sID="([^"]+)"/.exec(xml)![1]! };
  }

  /** The IdP's well-formed answer to `requestId`, for the employee unless another address is given. */
  const employeeResponse = (requestId: string, email = employee) =>
    tenant.samlLoginResponse({
      requestId,
      acsUrl: connection.acsUrl!,
      audience: connection.spEntityId!,
      email,
    });

  async function post(browser: Browser, samlResponse: string) {
    const response = await browser.postForm(connection.acsUrl!, { SAMLResponse: samlResponse });
    const body = response.status === 303 ? '' : await response.text();
    return {
      status: response.status,
      location: response.headers.get('location'),
      reason: /<code>([A-Z_]+)<\/code>/.exec(body)?.[1],
      browser,
    };
  }

  async function respond(faults: SamlFaults & { email?: string }) {
    const { browser, requestId } = await startLogin();
    const saml = tenant.samlLoginResponse({
      requestId,
      acsUrl: connection.acsUrl!,
      audience: connection.spEntityId!,
      email: faults.email ?? employee,
      ...faults,
    });
    return post(browser, saml.SAMLResponse);
  }

  it('accepts the well-formed response it refuses variants of', async () => {
    const result = await respond({});
    expect(result.status).toBe(303);
    expect(result.location).toBe('/');
    expect(result.browser.cookie('ci_session')).toBeDefined();
  });

  it.each<[string, SamlFaults, string]>([
    ['wrong audience', { wrongAudience: true }, 'AUDIENCE_MISMATCH'],
    ['wrong recipient', { wrongRecipient: true }, 'RECIPIENT_MISMATCH'],
    ['wrong destination', { wrongDestination: true }, 'DESTINATION_MISMATCH'],
    ['expired', { expired: true }, 'EXPIRED'],
    ['not yet valid', { notYetValid: true }, 'NOT_YET_VALID'],
    ['no time bounds', { noTimeBounds: true }, 'NO_TIME_BOUNDS'],
    ['unsigned', { unsigned: true }, 'SIGNATURE_INVALID'],
    ['a certificate only in KeyInfo', { signWithUnknownKey: true }, 'SIGNATURE_INVALID'],
    ['wrong issuer', { wrongIssuer: true }, 'ISSUER_MISMATCH'],
    ['two assertions', { twoAssertions: true }, 'MULTIPLE_ASSERTIONS'],
    ['a DOCTYPE', { doctype: true }, 'DOCTYPE_FORBIDDEN'],
    [
      'an evil assertion before the signed one',
      { signatureWrapping: 'evil-assertion-before' },
      'MULTIPLE_ASSERTIONS',
    ],
    [
      'an evil assertion after the signed one',
      { signatureWrapping: 'evil-assertion-after' },
      'MULTIPLE_ASSERTIONS',
    ],
    [
      'the signed assertion hidden in Extensions',
      { signatureWrapping: 'signed-assertion-in-extensions' },
      'MULTIPLE_ASSERTIONS',
    ],
    [
      'the signed assertion hidden in a Signature Object',
      { signatureWrapping: 'signed-assertion-in-signature-object' },
      'MULTIPLE_ASSERTIONS',
    ],
  ])('refuses %s with %s and signs nobody in', async (_name, faults, reason) => {
    const result = await respond(faults);
    expect({ status: result.status, reason: result.reason }).toEqual({ status: 403, reason });
    expect(result.browser.cookie('ci_session')).toBeUndefined();
  });

  it('reads the whole NameID: a comment cannot shorten it into someone else’s address', async () => {
    // Signed as <employee>.evil.com: not on the verified domain, whatever a naive parser reads first.
    const result = await respond({ commentInNameId: true, email: employee });
    expect(result.reason).toBe('EMAIL_NOT_IN_VERIFIED_DOMAIN');
    expect(result.browser.cookie('ci_session')).toBeUndefined();
  });

  it('refuses an e-mail outside the parent’s verified domains, and keeps the request usable', async () => {
    const { browser, requestId } = await startLogin();
    const result = await post(browser, employeeResponse(requestId, 'someone@outside-corp.com').SAMLResponse);
    expect(result).toMatchObject({ status: 403, reason: 'EMAIL_NOT_IN_VERIFIED_DOMAIN' });
    // The refused response did not claim the request.
    expect((await post(browser, employeeResponse(requestId).SAMLResponse)).status).toBe(303);
  });

  it('refuses a response without an e-mail, and keeps the request usable; replayed, it is a replay', async () => {
    // An address the IdP holds but no domain could capture: not an e-mail address here.
    tenant.addUser({ email: 'user@localhost', firstName: 'L', lastName: 'H', groups: [] });
    const { browser, requestId } = await startLogin();
    const noEmail = employeeResponse(requestId, 'user@localhost').SAMLResponse;
    expect(await post(browser, noEmail)).toMatchObject({ status: 403, reason: 'NO_EMAIL' });
    expect((await post(browser, employeeResponse(requestId).SAMLResponse)).status).toBe(303);
    // The request is used now: without an e-mail or with one, the response is refused as a replay.
    expect(await post(browser, noEmail)).toMatchObject({ status: 403, reason: 'REPLAY' });
  });

  it('refuses a user the parent’s SCIM directory deactivated, and signs them in again once reactivated', async () => {
    const email = uniqueEmail('deactivated', 'acs-corp.com');
    tenant.addUser({ email, firstName: 'D', lastName: 'A', groups: [] });
    // Activation ended the owner's e-mail session: the owner signs in through SSO.
    const owner = await ssoSignIn(stack, connection, tenant, parent.owner.email);
    const created = await stack.gqlOk(
      DirectoryCreateDocument,
      { parentId: parent.parentId, input: { name: 'Okta', provider: 'OKTA' } },
      owner,
    );
    const scim = scimClient(created.directoryCreate.directory!.scimBaseUrl, created.directoryCreate.token!);
    const user = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: email,
      emails: [{ value: email, primary: true }],
      active: true,
    });
    expect((await respond({ email })).status).toBe(303);
    const setActive = (active: boolean) =>
      scim('PATCH', `/Users/${user.body.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', value: { active } }],
      });
    expect((await setActive(false)).status).toBe(200);
    const refused = await respond({ email });
    expect({ status: refused.status, reason: refused.reason }).toEqual({
      status: 403,
      reason: 'DEPROVISIONED',
    });
    expect(refused.browser.cookie('ci_session')).toBeUndefined();
    expect((await setActive(true)).status).toBe(200);
    expect((await respond({ email })).status).toBe(303);
  });

  it('refuses a replayed response, across browsers', async () => {
    const { browser, requestId } = await startLogin();
    const saml = employeeResponse(requestId);
    expect((await post(browser, saml.SAMLResponse)).status).toBe(303);
    const again = await post(browser, saml.SAMLResponse);
    expect(again).toMatchObject({ status: 403, reason: 'REPLAY' });
    // The same bytes in another browser: not this browser's pending request.
    const other = await post(browserFor(stack), saml.SAMLResponse);
    expect(other.location).toBe('/login?sso=true');
  });

  it('refuses an assertion already used, even answering a fresh request, and keeps that request usable', async () => {
    const { browser, requestId } = await startLogin();
    const saml = employeeResponse(requestId);
    // As if another instance had just consumed this assertion for a request of its own.
    await stack.app.orm.em
      .fork()
      .getConnection()
      .execute(
        'insert into sso_consumed_assertions (connection_id, assertion_id, expires_at) values (?, ?, ?)',
        [connection.id, saml.assertionId, new Date(Date.now() + 600_000)],
      );
    expect(await post(browser, saml.SAMLResponse)).toMatchObject({ status: 403, reason: 'REPLAY' });
    expect(browser.cookie('ci_session')).toBeUndefined();
    // Nothing of the refused sign-in stays: the pending request was not used up by it.
    const fresh = employeeResponse(requestId);
    expect((await post(browser, fresh.SAMLResponse)).status).toBe(303);
  });

  /**
   * Posts `response` while another transaction holds the pending request's row: once the ACS has read the
   * request as pending and its write waits to claim it, `meanwhile` runs in that transaction, which then
   * commits and lets the write go on.
   */
  async function postWhileClaimWaits(
    browser: Browser,
    requestId: string,
    response: string,
    meanwhile: (client: pg.Client) => Promise<unknown>,
  ) {
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    try {
      await client.query('begin');
      await client.query('select 1 from sso_login_requests where id = $1 for update', [requestId]);
      let settled = false;
      const posted = post(browser, response).finally(() => (settled = true));
      // Asked outside that transaction, whose view of pg_stat_activity would stay as it first read it.
      const waitingToClaim = async () =>
        (
          await stack.app.orm.em
            .fork()
            .getConnection()
            .execute(
              `select 1 from pg_stat_activity
                where datname = current_database() and wait_event_type = 'Lock' and query like '%claimed as%'`,
            )
        ).length === 1;
      while (!settled && !(await waitingToClaim())) await setTimeout(5);
      expect(settled).toBe(false);
      await meanwhile(client);
      await client.query('commit');
      return await posted;
    } finally {
      await client.end();
    }
  }

  const accountsWith = async (email: string) =>
    (
      await stack.app.orm.em
        .fork()
        .getConnection()
        .execute<Array<{ n: number }>>('select count(*)::int as n from users where email = ?', [email])
    )[0]!.n;

  it('refuses as a replay a response whose request another post claimed while it signed in, writing nothing of it', async () => {
    const email = uniqueEmail('raced', 'acs-corp.com');
    tenant.addUser({ email, firstName: 'R', lastName: 'C', groups: [] });
    const { browser, requestId } = await startLogin();
    const result = await postWhileClaimWaits(
      browser,
      requestId,
      employeeResponse(requestId, email).SAMLResponse,
      (client) =>
        client.query('update sso_login_requests set consumed_at = now() where id = $1', [requestId]),
    );
    expect(result).toMatchObject({ status: 403, reason: 'REPLAY' });
    expect(browser.cookie('ci_session')).toBeUndefined();
    // Its first sign-in would have created the account: the claim and every write are one statement.
    expect(await accountsWith(email)).toBe(0);
  });

  it('leaves a test login’s result to the post that claimed it: the same response posted meanwhile is a replay, not a failed test', async () => {
    const owner = await ssoSignIn(stack, connection, tenant, parent.owner.email);
    const { ssoConnectionTest } = await stack.gqlOk(SsoConnectionTestDocument, { id: connection.id }, owner);
    const { browser, requestId } = await startLogin(browserFor(stack, owner), ssoConnectionTest.testUrl!);
    const result = await postWhileClaimWaits(
      browser,
      requestId,
      employeeResponse(requestId, parent.owner.email).SAMLResponse,
      // The other post of the response: it claims the request and records the test as passed.
      async (client) => {
        await client.query('update sso_login_requests set consumed_at = now() where id = $1', [requestId]);
        await client.query(
          'update sso_connections set last_test_succeeded = true, last_test_error = null where id = $1',
          [connection.id],
        );
      },
    );
    expect(result).toMatchObject({ status: 403, reason: 'REPLAY' });
    const [tested] = await stack.app.orm.em
      .fork()
      .getConnection()
      .execute('select last_test_succeeded, last_test_error from sso_connections where id = ?', [
        connection.id,
      ]);
    expect(tested).toEqual({ last_test_succeeded: true, last_test_error: null });
  });

  it('keeps the request and the assertion usable when the sign-in’s write fails, as a failure and not a replay', async () => {
    const email = uniqueEmail('late-account', 'acs-corp.com');
    tenant.addUser({ email, firstName: 'L', lastName: 'A', groups: [] });
    const { browser, requestId } = await startLogin();
    const response = employeeResponse(requestId, email).SAMLResponse;
    // The account is created elsewhere (an e-mail sign-in, say) after the ACS read there was none.
    const failed = await postWhileClaimWaits(browser, requestId, response, (client) =>
      client.query(
        'insert into users (id, email, created_at, updated_at) values (gen_random_uuid(), $1, now(), now())',
        [email],
      ),
    );
    expect(failed.status).toBe(500);
    expect(browser.cookie('ci_session')).toBeUndefined();
    // Nothing was used up: the same response signs in, into the account that now exists.
    expect((await post(browser, response)).status).toBe(303);
    expect(await accountsWith(email)).toBe(1);
  });

  it('refuses an unsolicited assertion wrapped in a Response that names the thief’s own request', async () => {
    const stolen = tenant.samlLoginResponse({
      acsUrl: connection.acsUrl!,
      audience: connection.spEntityId!,
      email: employee,
    });
    const { browser, requestId } = await startLogin();
    // Only the Assertion is signed: the Response's InResponseTo can be written by anyone.
    const wrapped = stolen.xml.replace(/<(\w+:)?Response /, `$&InResponseTo="${requestId}" `);
    expect(wrapped).not.toBe(stolen.xml);
    const result = await post(browser, Buffer.from(wrapped).toString('base64'));
    // Refused as unsolicited, which sends the browser to start SSO itself.
    expect(result).toMatchObject({ status: 303, location: '/login?sso=true' });
    expect(browser.cookie('ci_session')).toBeUndefined();
  });

  it('refuses a response for another browser or another connection as unsolicited', async () => {
    const { requestId } = await startLogin();
    const saml = employeeResponse(requestId);
    const stolen = await post(browserFor(stack), saml.SAMLResponse);
    expect(stolen).toMatchObject({ status: 303, location: '/login?sso=true' });
    expect(stolen.browser.cookie('ci_session')).toBeUndefined();
  });

  it('refuses a response signed by another connection’s IdP', async () => {
    const otherTenant = await stack.idp.createTenant({ preset: 'okta' });
    otherTenant.addUser({ email: employee, firstName: 'E', lastName: 'M', groups: [] });
    const { browser, requestId } = await startLogin();
    const forged = otherTenant.samlLoginResponse({
      requestId,
      acsUrl: connection.acsUrl!,
      audience: connection.spEntityId!,
      email: employee,
    });
    const result = await post(browser, forged.SAMLResponse);
    expect(result.status).toBe(403);
    expect(['ISSUER_MISMATCH', 'SIGNATURE_INVALID']).toContain(result.reason);
  });

  it('refuses an oversized body and garbage', async () => {
    const { browser } = await startLogin();
    const huge = await browser.postForm(connection.acsUrl!, { SAMLResponse: 'A'.repeat(400 * 1024) });
    expect([403, 413]).toContain(huge.status);
    expect(browser.cookie('ci_session')).toBeUndefined();
    expect(await post(browser, '%%%not-base64%%%')).toMatchObject({ status: 403, reason: 'MALFORMED' });
    expect(await post(browser, Buffer.from('<samlp:Response').toString('base64'))).toMatchObject({
      status: 403,
    });
  });

  it('refuses an encrypted assertion as unsupported rather than reading around it', async () => {
    const { browser, requestId } = await startLogin();
    const saml = employeeResponse(requestId);
    const xml = Buffer.from(saml.SAMLResponse, 'base64').toString('utf8');
    const encrypted = xml.replace(
      /<(\w+:)?Assertion\b[\s\S]*<\/\1?Assertion>/,
      (_match, prefix: string | undefined) =>
        `<${prefix ?? ''}EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">` +
        `<xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>` +
        `</${prefix ?? ''}EncryptedAssertion>`,
    );
    expect(encrypted).not.toBe(xml);
    const result = await post(browser, Buffer.from(encrypted).toString('base64'));
    expect(result).toMatchObject({ status: 403, reason: 'ENCRYPTED_ASSERTION_UNSUPPORTED' });
    expect(browser.cookie('ci_session')).toBeUndefined();
  });

  it('never redirects to a URL taken from RelayState', async () => {
    const { browser, requestId } = await startLogin();
    const saml = tenant.samlLoginResponse({
      requestId,
      acsUrl: connection.acsUrl!,
      audience: connection.spEntityId!,
      email: employee,
      relayState: 'https://evil.example/phish',
    });
    const response = await browser.postForm(connection.acsUrl!, {
      SAMLResponse: saml.SAMLResponse,
      RelayState: 'https://evil.example/phish',
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/');
  });

  it('purges assertion IDs and pending logins once they can no longer be used', async () => {
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    try {
      await client.query(
        `insert into sso_consumed_assertions (connection_id, assertion_id, expires_at) values ($1, 'old', now() - interval '1 hour'), ($1, 'live', now() + interval '1 hour')`,
        [connection.id],
      );
      const purged = await stack.app.services.ssoLogin.purgeExpired(stack.app.orm.em.fork());
      expect(purged.assertions).toBeGreaterThanOrEqual(1);
      const { rows } = await client.query(
        'select assertion_id from sso_consumed_assertions where assertion_id in ($1, $2)',
        ['old', 'live'],
      );
      expect(rows.map((r) => r.assertion_id)).toEqual(['live']);
    } finally {
      await client.end();
    }
  });
});
