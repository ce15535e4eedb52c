// Every refusal at the OIDC redirect URI, driven by the IdP simulator's fault switches and by what a
// browser or an attacker can do to the callback URL: each is refused with its reason code (and the check
// that refused, from the log), and signs nobody in.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IdpTenant, OidcFaults } from '../../simulators/idp/index.js';
import {
  SsoConnectionActivateDocument,
  SsoConnectionDocument,
  SsoConnectionTestDocument,
} from '../generated/graphql.js';
import type { Browser } from '../support/browser.js';
import { browserFor, type CapturedParent, capturedParent } from '../support/identity.js';
import {
  type OidcConnection,
  oidcCallbackUrl,
  oidcConnection,
  oidcRoundTrip,
  refusalOf,
} from '../support/oidc.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('OIDC callback refusals', () => {
  let stack: Stack;
  let parent: CapturedParent;
  let tenant: IdpTenant;
  let oidc: OidcConnection;
  let employee: string;
  let warn: ReturnType<typeof vi.spyOn>;

  beforeAll(async () => {
    stack = await startStack();
    parent = await capturedParent(stack, 'oidc-refusals.com', 'OIDC Refusals');
    tenant = await stack.idp.createTenant({ preset: 'okta' });
    employee = uniqueEmail('emp', 'oidc-refusals.com');
    tenant.addUser({ email: parent.owner.email, firstName: 'A', lastName: 'B', groups: [] });
    tenant.addUser({ email: employee, firstName: 'E', lastName: 'M', groups: [] });
    tenant.setLoginAs(parent.owner.email);
    oidc = await oidcConnection(stack, parent, tenant);
    const { ssoConnectionTest } = await stack.gqlOk(
      SsoConnectionTestDocument,
      { id: oidc.connection.id },
      parent.owner.token,
    );
    const tested = await oidcRoundTrip(
      stack,
      browserFor(stack, parent.owner.token),
      ssoConnectionTest.testUrl!,
      oidc.connection.redirectUri!,
    );
    expect(tested.status).toBe(200);
    const activated = await stack.gqlOk(
      SsoConnectionActivateDocument,
      { id: oidc.connection.id },
      parent.owner.token,
    );
    expect(activated.ssoConnectionActivate.connection?.state).toBe('ACTIVE');
    // Activation ended the owner's session: back in through SSO, for the admin steps below.
    const owner = browserFor(stack);
    await oidcRoundTrip(stack, owner, oidc.connection.loginUrl, oidc.connection.redirectUri!);
    parent = { ...parent, owner: { ...parent.owner, token: owner.cookie('ci_session')! } };
    tenant.setLoginAs(employee);
    warn = vi.spyOn(stack.app.services.logger, 'warn');
  });
  afterEach(() => {
    tenant.setOidcFaults({});
    tenant.setLoginAs(employee);
    warn.mockClear();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const redirectUri = () => oidc.connection.redirectUri!;

  /** A login started in a fresh browser and answered by the IdP: the callback URL, not yet visited. */
  async function answeredLogin(): Promise<{ browser: Browser; callback: URL }> {
    const browser = browserFor(stack);
    const callback = await oidcCallbackUrl(stack, browser, oidc.connection.loginUrl, redirectUri());
    return { browser, callback };
  }

  async function visit(browser: Browser, url: URL | string) {
    const response = await browser.get(url.toString());
    return {
      status: response.status,
      location: response.headers.get('location'),
      reason: await refusalOf(response),
      session: browser.cookie('ci_session'),
    };
  }

  /** The check named in the refusal's log line, with its detail. */
  function loggedRefusal(): { reason: string; check: string; detail: string } | undefined {
    const call = warn.mock.calls.find((c: unknown[]) => c[1] === 'SSO response refused');
    return call?.[0] as { reason: string; check: string; detail: string } | undefined;
  }

  it('accepts the well-formed answer it refuses variants of', async () => {
    const { browser, callback } = await answeredLogin();
    const result = await visit(browser, callback);
    expect(result).toMatchObject({ status: 303, location: '/' });
    expect(result.session).toBeDefined();
  });

  it.each<[string, OidcFaults, string]>([
    ['an ID token from another issuer', { wrongIssuer: true }, 'claim iss'],
    ['an ID token for another client', { wrongAudience: true }, 'claim aud'],
    ['an ID token with another nonce', { badNonce: true }, 'claim nonce'],
    ['an expired ID token', { expiredIdToken: true }, 'claim exp'],
    ['an unsigned (alg: none) ID token', { algNone: true }, '"alg"'],
  ])('refuses %s with TOKEN_INVALID', async (_name, faults, detail) => {
    tenant.setOidcFaults(faults);
    const { browser, callback } = await answeredLogin();
    const result = await visit(browser, callback);
    expect(result).toMatchObject({ status: 403, reason: 'TOKEN_INVALID' });
    expect(result.session).toBeUndefined();
    expect(loggedRefusal()).toMatchObject({ reason: 'TOKEN_INVALID', check: 'idToken' });
    expect(loggedRefusal()?.detail).toContain(detail);
  });

  it('refuses a callback whose state is not the one this browser is waiting for', async () => {
    const { browser, callback } = await answeredLogin();
    const forged = new URL(callback);
    forged.searchParams.set('state', randomBytes(32).toString('base64url'));
    const result = await visit(browser, forged);
    expect(result).toMatchObject({ status: 403, reason: 'STATE_MISMATCH' });
    expect(result.session).toBeUndefined();
    expect(loggedRefusal()).toMatchObject({ check: 'state' });
  });

  it('refuses a callback without a state', async () => {
    const { browser, callback } = await answeredLogin();
    const stateless = new URL(callback);
    stateless.searchParams.delete('state');
    const result = await visit(browser, stateless);
    expect(result).toMatchObject({ status: 403, reason: 'STATE_MISMATCH' });
    expect(result.session).toBeUndefined();
  });

  it('sends a callback opened in another browser to /login?sso=true (unsolicited)', async () => {
    const { callback } = await answeredLogin();
    const other = browserFor(stack);
    const result = await visit(other, callback);
    expect(result).toMatchObject({ status: 303, location: '/login?sso=true' });
    expect(result.session).toBeUndefined();
    expect(loggedRefusal()).toMatchObject({ reason: 'UNSOLICITED', check: 'pendingRequest' });
  });

  it('refuses a replayed callback URL: the pending request is single-use', async () => {
    const { browser, callback } = await answeredLogin();
    expect((await visit(browser, callback)).status).toBe(303);
    const replayBrowser = browserFor(stack);
    replayBrowser.setCookie('ci_sso', browser.cookie('ci_sso')!);
    const replay = await visit(replayBrowser, callback);
    expect(replay).toMatchObject({ status: 403, reason: 'REPLAY' });
    expect(replay.session).toBeUndefined();
  });

  it("refuses a code injected into another login's callback: PKCE binds the code to its own request", async () => {
    // The attacker completes a login of their own at the IdP and keeps the code...
    const attacker = await answeredLogin();
    // ...and plants it in the victim's callback, with the victim's own (valid) state.
    const victim = await answeredLogin();
    const injected = new URL(victim.callback);
    injected.searchParams.set('code', attacker.callback.searchParams.get('code')!);
    const result = await visit(victim.browser, injected);
    expect(result).toMatchObject({ status: 403, reason: 'TOKEN_INVALID' });
    expect(result.session).toBeUndefined();
    expect(loggedRefusal()).toMatchObject({
      check: 'tokenEndpoint',
      detail: expect.stringContaining('invalid_grant'),
    });
  });

  it('never redeems a code without the PKCE verifier of the pending request', async () => {
    // A pending request that lost its verifier (e.g. written by an older instance): refused before any
    // token request, rather than redeemed without PKCE.
    const { browser, callback } = await answeredLogin();
    await stack.app.orm.em
      .fork()
      .getConnection()
      .execute('update sso_login_requests set code_verifier = null where id = ?', [
        callback.searchParams.get('state'),
      ]);
    const result = await visit(browser, callback);
    expect(result).toMatchObject({ status: 403, reason: 'STATE_MISMATCH' });
    expect(result.session).toBeUndefined();
    expect(loggedRefusal()).toMatchObject({ check: 'pkceVerifier' });
  });

  it('refuses an error answer from the IdP with IDP_ERROR', async () => {
    const browser = browserFor(stack);
    const start = await browser.get(oidc.connection.loginUrl);
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const denied = new URL(redirectUri());
    denied.search = new URLSearchParams({
      error: 'access_denied',
      error_description: 'User not assigned',
      state,
    }).toString();
    const result = await visit(browser, denied);
    expect(result).toMatchObject({ status: 403, reason: 'IDP_ERROR' });
    expect(result.session).toBeUndefined();
  });

  it.each<[string, () => string, string]>([
    [
      'an e-mail outside the verified domains',
      () => tenant.addUser({ email: uniqueEmail('x', 'outside-corp.com') }).email,
      'EMAIL_NOT_IN_VERIFIED_DOMAIN',
    ],
    [
      'an e-mail the IdP says is unverified',
      () => tenant.addUser({ email: uniqueEmail('u', 'oidc-refusals.com'), emailVerified: false }).email,
      'NO_EMAIL',
    ],
  ])('refuses %s', async (_name, user, reason) => {
    tenant.setLoginAs(user());
    const { browser, callback } = await answeredLogin();
    const result = await visit(browser, callback);
    expect(result).toMatchObject({ status: 403, reason });
    expect(result.session).toBeUndefined();
  });

  it('does not start a login through a connection that is not active (404)', async () => {
    const draft = await oidcConnection(stack, parent, tenant);
    const result = await visit(browserFor(stack), draft.connection.loginUrl);
    expect(result).toMatchObject({ status: 404, reason: 'CONNECTION_NOT_ENABLED' });
  });

  it('records a failed test login on the connection, with the reason', async () => {
    const token = parent.owner.token;
    const draft = await oidcConnection(stack, parent, tenant);
    const { ssoConnectionTest } = await stack.gqlOk(
      SsoConnectionTestDocument,
      { id: draft.connection.id },
      token,
    );
    tenant.setOidcFaults({ wrongAudience: true });
    const admin = browserFor(stack, token);
    const result = await visit(
      admin,
      await oidcCallbackUrl(stack, admin, ssoConnectionTest.testUrl!, draft.connection.redirectUri!),
    );
    expect(result).toMatchObject({ status: 403, reason: 'TOKEN_INVALID' });
    const after = await stack.gqlOk(SsoConnectionDocument, { id: draft.connection.id }, token);
    expect(after.ssoConnection).toMatchObject({ lastTestSucceeded: false, lastTestError: 'TOKEN_INVALID' });
    const activation = await stack.gqlOk(SsoConnectionActivateDocument, { id: draft.connection.id }, token);
    expect(activation.ssoConnectionActivate.userErrors[0]?.code).toBe('NOT_TESTED');
  });
});

describe('OIDC endpoints on private addresses', () => {
  it('are refused unless the deployment allows them (the simulators): no plain-http discovery', async () => {
    const stack = await startStack({ env: { SSO_ALLOW_PRIVATE_METADATA_URLS: 'false' } });
    try {
      const parent = await capturedParent(stack, 'oidc-private.com', 'OIDC Private');
      const tenant = await stack.idp.createTenant({ preset: 'okta' });
      tenant.addUser({ email: parent.owner.email });
      tenant.setLoginAs(parent.owner.email);
      const { connection } = await oidcConnection(stack, parent, tenant);
      const { ssoConnectionTest } = await stack.gqlOk(
        SsoConnectionTestDocument,
        { id: connection.id },
        parent.owner.token,
      );
      const warn = vi.spyOn(stack.app.services.logger, 'warn');
      const response = await browserFor(stack, parent.owner.token).get(ssoConnectionTest.testUrl!);
      expect(response.status).toBe(403);
      expect(await refusalOf(response)).toBe('IDP_ERROR');
      const logged = warn.mock.calls.find((c: unknown[]) => c[1] === 'SSO login not started')?.[0];
      expect(logged).toMatchObject({
        check: 'discovery',
        detail: expect.stringContaining('only requests to HTTPS'),
      });
    } finally {
      await stack.close();
    }
  });
});
