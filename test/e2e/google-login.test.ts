// "Sign in with Google", with the IdP simulator's Google stand-in, and the guide's rule: "If you use Google
// Workspace on your domain, try logging in with Google. This should fail and users should be required to
// log in via SSO." Deactivating SSO lets the same address use Google again.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdpSimulator, type IdpTenant, startIdpSimulator } from '../../simulators/idp/index.js';
import {
  MeDocument,
  SessionsDocument,
  SsoConnectionActivateDocument,
  SsoConnectionDeactivateDocument,
  SsoConnectionTestDocument,
} from '../generated/graphql.js';
import type { Browser } from '../support/browser.js';
import { browserFor, capturedParent, samlConnection, samlRoundTrip } from '../support/identity.js';
import { refusalOf } from '../support/oidc.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('Sign in with Google', () => {
  let google: IdpSimulator;
  let googleTenant: IdpTenant;
  let stack: Stack;
  const clientId = 'console-identity.apps.googleusercontent.example';
  const clientSecret = randomBytes(24).toString('base64url');

  beforeAll(async () => {
    // Google must exist before the app's configuration is read.
    google = await startIdpSimulator();
    googleTenant = await google.createTenant({ preset: 'google' });
    stack = await startStack({
      env: {
        GOOGLE_ISSUER: googleTenant.oidcIssuer,
        GOOGLE_CLIENT_ID: clientId,
        GOOGLE_CLIENT_SECRET: clientSecret,
      },
    });
    googleTenant.registerOidcClient({
      clientId,
      clientSecret,
      redirectUris: [`${stack.url}/auth/google/callback`],
    });
  });
  afterAll(async () => {
    await stack?.close();
    await google?.close();
  });

  const redirectUri = () => `${stack.url}/auth/google/callback`;

  /** The Google round trip in `browser`, signed in at Google as `email`: our callback's answer. */
  async function signInWithGoogle(browser: Browser, email: string): Promise<Response> {
    googleTenant.setLoginAs(email);
    const start = await browser.get(`${stack.url}/auth/google/login`);
    expect(start.status).toBe(302);
    const authorization = new URL(start.headers.get('location')!);
    expect(authorization.href.startsWith(`${googleTenant.oidcIssuer}/`)).toBe(true);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('nonce')).toBeTruthy();
    expect(browser.cookie('ci_google')).toBeDefined();
    const callback = await google.followOidcAuthorization(authorization.href, { redirectUri: redirectUri() });
    return browser.get(callback.href);
  }

  it('signs in an address that no SSO captures, creating the account on first sign-in', async () => {
    const email = uniqueEmail('Someone', 'gmail-user.example');
    googleTenant.addUser({ email, firstName: 'Some', lastName: 'One' });
    const browser = browserFor(stack);
    const response = await signInWithGoogle(browser, email);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/');
    expect(browser.cookie('ci_google')).toBeUndefined();
    const session = browser.cookie('ci_session')!;
    expect((await stack.gqlOk(MeDocument, {}, session)).me?.email).toBe(email.toLowerCase());
    expect((await stack.gqlOk(SessionsDocument, {}, session)).sessions.nodes[0]?.method).toBe('GOOGLE');

    // A second sign-in finds the same account.
    const again = browserFor(stack);
    expect((await signInWithGoogle(again, email)).status).toBe(303);
    const me = await stack.gqlOk(MeDocument, {}, again.cookie('ci_session')!);
    expect(me.me?.id).toBe((await stack.gqlOk(MeDocument, {}, session)).me?.id);
  });

  it('refuses a captured address while SSO is active, naming the SSO route; works again once SSO is off', async () => {
    const parent = await capturedParent(stack, 'workspace-corp.com', 'Workspace Corp');
    const saml = await stack.idp.createTenant({ preset: 'google-workspace' });
    saml.addUser({ email: parent.owner.email, firstName: 'W', lastName: 'O', groups: [] });
    saml.setLoginAs(parent.owner.email);
    const connection = await samlConnection(stack, parent, saml);
    const { ssoConnectionTest } = await stack.gqlOk(
      SsoConnectionTestDocument,
      { id: connection.id },
      parent.owner.token,
    );
    await samlRoundTrip(stack, browserFor(stack, parent.owner.token), ssoConnectionTest.testUrl!);
    await stack.gqlOk(SsoConnectionActivateDocument, { id: connection.id }, parent.owner.token);

    const employee = uniqueEmail('emp', 'workspace-corp.com');
    googleTenant.addUser({ email: employee, hostedDomain: 'workspace-corp.com' });
    const browser = browserFor(stack);
    const refused = await signInWithGoogle(browser, employee);
    expect(refused.status).toBe(303);
    const location = new URL(refused.headers.get('location')!, stack.url);
    expect(location.pathname).toBe('/login');
    const ssoRoute = `${connection.loginUrl}?login_hint=${encodeURIComponent(employee)}`;
    expect(location.searchParams.get('error')).toBe(`${employee} signs in with single sign-on: ${ssoRoute}`);
    expect(browser.cookie('ci_session')).toBeUndefined();
    const page = await (await browser.get(location.href)).text();
    expect(page).toContain('signs in with single sign-on');

    // The owner (signed out by the activation) signs back in through SSO and turns SSO off.
    const ownerBrowser = browserFor(stack);
    await samlRoundTrip(stack, ownerBrowser, connection.loginUrl);
    const deactivated = await stack.gqlOk(
      SsoConnectionDeactivateDocument,
      { id: connection.id },
      ownerBrowser.cookie('ci_session')!,
    );
    expect(deactivated.ssoConnectionDeactivate.connection?.state).toBe('INACTIVE');

    const after = browserFor(stack);
    const response = await signInWithGoogle(after, employee);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/');
    expect((await stack.gqlOk(MeDocument, {}, after.cookie('ci_session')!)).me?.email).toBe(employee);
  });

  it('refuses an address Google has not verified', async () => {
    const email = uniqueEmail('unverified', 'gmail-user.example');
    googleTenant.addUser({ email, emailVerified: false });
    const browser = browserFor(stack);
    const response = await signInWithGoogle(browser, email);
    expect(response.status).toBe(403);
    expect(await refusalOf(response)).toBe('NO_EMAIL');
    expect(browser.cookie('ci_session')).toBeUndefined();
  });

  it('refuses a callback without this browser’s pending login, with another state, or replayed', async () => {
    const email = uniqueEmail('csrf', 'gmail-user.example');
    googleTenant.addUser({ email });
    googleTenant.setLoginAs(email);

    // Another browser than the one that started: back to the login page, nobody signed in.
    const starter = browserFor(stack);
    const start = await starter.get(`${stack.url}/auth/google/login`);
    const callback = await google.followOidcAuthorization(start.headers.get('location')!, {
      redirectUri: redirectUri(),
    });
    const other = browserFor(stack);
    const unsolicited = await other.get(callback.href);
    expect(unsolicited.status).toBe(303);
    expect(new URL(unsolicited.headers.get('location')!, stack.url).pathname).toBe('/login');
    expect(other.cookie('ci_session')).toBeUndefined();

    // The starting browser with a state that is not its own.
    const forged = new URL(callback);
    forged.searchParams.set('state', randomBytes(32).toString('base64url'));
    const mismatch = await starter.get(forged.href);
    expect(mismatch.status).toBe(403);
    expect(await refusalOf(mismatch)).toBe('STATE_MISMATCH');
    expect(starter.cookie('ci_session')).toBeUndefined();

    // The pending login is single-use: the genuine callback after that is no longer expected.
    const late = await starter.get(callback.href);
    expect(late.status).toBe(303);
    expect(new URL(late.headers.get('location')!, stack.url).pathname).toBe('/login');
    expect(starter.cookie('ci_session')).toBeUndefined();
  });

  it('is not there when Google sign-in is not configured', async () => {
    const plain = await startStack();
    try {
      expect((await fetch(`${plain.url}/auth/google/login`, { redirect: 'manual' })).status).toBe(404);
      expect(
        (await fetch(`${plain.url}/auth/google/callback?code=x&state=y`, { redirect: 'manual' })).status,
      ).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
