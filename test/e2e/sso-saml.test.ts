// The guide's "Adding SSO", "Identity provider-initiated login", "Testing SSO log-in" and "After SSO is
// enabled: adding members", with an Okta-style SAML IdP from the simulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LoginCodeRequestDocument,
  LoginStartDocument,
  MeDocument,
  MembersDocument,
  SsoConnectionActivateDocument,
  SsoConnectionDocument,
  SsoConnectionTestDocument,
} from '../generated/graphql.js';
import { browserFor, capturedParent, samlConnection, samlRoundTrip } from '../support/identity.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('SSO with a SAML identity provider', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('adds, tests and activates SSO, then employees sign in through it and are provisioned just in time', async () => {
    const parent = await capturedParent(stack, 'saml-corp.com', 'SAML Corp');
    const tenant = await stack.idp.createTenant({
      preset: 'okta',
      appLoginUrl: `${stack.url}/login?sso=true`,
    });
    tenant.addUser({ email: parent.owner.email, firstName: 'Olive', lastName: 'Owner', groups: [] });
    const employee = uniqueEmail('bob', 'saml-corp.com');
    tenant.addUser({
      email: employee,
      firstName: 'Bob',
      lastName: 'Builder',
      groups: ['anthropic-saml-corp-member', 'unrelated'],
    });

    // "Click Add SSO" with the IdP's metadata.
    const connection = await samlConnection(stack, parent, tenant);
    expect(connection).toMatchObject({ state: 'DRAFT', protocol: 'SAML', idpEntityId: tenant.entityId });
    expect(connection.certificates).toHaveLength(1);
    const metadata = await fetch(connection.spEntityId!);
    expect(metadata.headers.get('content-type')).toContain('xml');
    expect(await metadata.text()).toContain(connection.acsUrl!);

    // Activation needs a successful test first.
    const early = await stack.gqlOk(SsoConnectionActivateDocument, { id: connection.id }, parent.owner.token);
    expect(early.ssoConnectionActivate.userErrors[0]?.code).toBe('NOT_TESTED');

    // "Testing SSO log-in": the admin's test changes no session.
    const { ssoConnectionTest } = await stack.gqlOk(
      SsoConnectionTestDocument,
      { id: connection.id },
      parent.owner.token,
    );
    tenant.setLoginAs(parent.owner.email);
    const adminBrowser = browserFor(stack, parent.owner.token);
    const tested = await samlRoundTrip(stack, adminBrowser, ssoConnectionTest.testUrl!);
    expect(tested.status).toBe(200);
    expect(await tested.text()).toContain('Test succeeded');
    expect(adminBrowser.cookie('ci_session')).toBe(parent.owner.token);
    const afterTest = await stack.gqlOk(SsoConnectionDocument, { id: connection.id }, parent.owner.token);
    expect(afterTest.ssoConnection).toMatchObject({ state: 'DRAFT', lastTestSucceeded: true });

    // "Turning on SSO will end all current sessions of your users", the admin's included.
    const activated = await stack.gqlOk(
      SsoConnectionActivateDocument,
      { id: connection.id },
      parent.owner.token,
    );
    expect(activated.ssoConnectionActivate.connection?.state).toBe('ACTIVE');
    expect(activated.ssoConnectionActivate.revokedSessions).toBeGreaterThanOrEqual(1);
    expect((await stack.gqlOk(MeDocument, {}, parent.owner.token)).me).toBeNull();

    // Captured addresses are routed to SSO; the e-mail code is refused, naming the SSO route.
    const route = await stack.gqlOk(LoginStartDocument, { email: employee });
    expect(route.loginStart).toEqual({
      route: 'SSO',
      ssoUrl: `${connection.loginUrl}?login_hint=${encodeURIComponent(employee)}`,
    });
    const code = await stack.gqlOk(LoginCodeRequestDocument, { input: { email: employee } });
    expect(code.loginCodeRequest).toMatchObject({ sent: false, userErrors: [{ code: 'SSO_REQUIRED' }] });
    expect(code.loginCodeRequest.userErrors[0]?.message).toContain(connection.loginUrl);
    expect(
      (await stack.gqlOk(LoginStartDocument, { email: uniqueEmail('outsider', 'other-corp.com') })).loginStart
        .route,
    ).toBe('EMAIL_CODE');

    // The employee logs in with their e-mail, is sent to the IdP and back, and JIT creates the account.
    tenant.setLoginAs(employee);
    const browser = browserFor(stack);
    const submitted = await browser.postForm(`${stack.url}/login`, { email: employee });
    expect(submitted.status).toBe(303);
    const acs = await samlRoundTrip(stack, browser, submitted.headers.get('location')!);
    expect(acs.status).toBe(303);
    expect(acs.headers.get('location')).toBe('/');
    const session = browser.cookie('ci_session')!;
    const me = await stack.gqlOk(MeDocument, {}, session);
    expect(me.me).toMatchObject({ email: employee, name: 'Bob Builder' });

    // The owner signs back in through SSO too and sees the JIT membership.
    tenant.setLoginAs(parent.owner.email);
    const ownerBrowser = browserFor(stack);
    await samlRoundTrip(stack, ownerBrowser, connection.loginUrl);
    const ownerSession = ownerBrowser.cookie('ci_session')!;
    const members = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId },
      ownerSession,
    );
    expect(members.members.nodes.find((m) => m.user.email === employee)).toMatchObject({
      role: 'MEMBER',
      source: 'JIT',
    });
  });

  it('refuses IdP-initiated login and sends the app tile to /login?sso=true, which leads into SP-initiated SSO', async () => {
    const parent = await capturedParent(stack, 'tile-corp.com', 'Tile Corp');
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    tenant.addUser({ email: parent.owner.email, firstName: 'T', lastName: 'O', groups: [] });
    tenant.setLoginAs(parent.owner.email);
    const connection = await samlConnection(stack, parent, tenant);
    const { ssoConnectionTest } = await stack.gqlOk(
      SsoConnectionTestDocument,
      { id: connection.id },
      parent.owner.token,
    );
    await samlRoundTrip(stack, browserFor(stack, parent.owner.token), ssoConnectionTest.testUrl!);
    await stack.gqlOk(SsoConnectionActivateDocument, { id: connection.id }, parent.owner.token);

    // Clicking the tile with IdP-initiated SSO configured: an unsolicited response.
    const browser = browserFor(stack);
    const unsolicited = tenant.samlLoginResponse({
      acsUrl: connection.acsUrl!,
      audience: connection.spEntityId!,
    });
    const refused = await browser.postForm(connection.acsUrl!, { SAMLResponse: unsolicited.SAMLResponse });
    expect(refused.status).toBe(303);
    expect(refused.headers.get('location')).toBe('/login?sso=true');
    expect(browser.cookie('ci_session')).toBeUndefined();

    // The page explains and starts SP-initiated SSO from the e-mail.
    const page = await browser.get(`${stack.url}/login?sso=true`);
    const html = await page.text();
    expect(html).toContain('cannot start from your identity provider');
    expect(html).toContain('<form method="post" action="/login">');
    const submitted = await browser.postForm(`${stack.url}/login`, {
      email: parent.owner.email,
      sso: 'true',
    });
    const acs = await samlRoundTrip(stack, browser, submitted.headers.get('location')!);
    expect(acs.status).toBe(303);
    expect((await stack.gqlOk(MeDocument, {}, browser.cookie('ci_session')!)).me?.email).toBe(
      parent.owner.email,
    );
  });
});
