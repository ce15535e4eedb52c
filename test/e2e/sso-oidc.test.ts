// The guide's "Adding SSO", "Testing SSO log-in" and "After SSO is enabled" with an OpenID Connect IdP
// (an Okta-style tenant of the simulator): the client secret is write-only, the admin's test goes through
// the real authorization code flow, activation ends sessions, and employees sign in and are provisioned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LoginStartDocument,
  MeDocument,
  MembersDocument,
  SessionsDocument,
  SsoConnectionActivateDocument,
  SsoConnectionDocument,
  SsoConnectionTestDocument,
} from '../generated/graphql.js';
import { browserFor, capturedParent } from '../support/identity.js';
import { oidcConnection, oidcRoundTrip } from '../support/oidc.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('SSO with an OpenID Connect identity provider', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function identityProfile(email: string): Promise<Record<string, unknown>> {
    const rows = await stack.app.orm.em
      .fork()
      .getConnection()
      .execute<{ profile: Record<string, unknown> }[]>('select profile from sso_identities where email = ?', [
        email,
      ]);
    expect(rows).toHaveLength(1);
    return rows[0]!.profile;
  }

  it('adds, tests and activates an OIDC connection, then employees sign in through it and are provisioned', async () => {
    const parent = await capturedParent(stack, 'oidc-corp.com', 'OIDC Corp');
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    tenant.addUser({ email: parent.owner.email, firstName: 'Olive', lastName: 'Owner', groups: [] });
    const employee = uniqueEmail('bob', 'oidc-corp.com');
    tenant.addUser({
      email: employee,
      firstName: 'Bob',
      lastName: 'Builder',
      groups: ['anthropic-oidc-corp-member', 'unrelated'],
    });

    // "Click Add SSO" with the IdP's issuer and the client it registered for us.
    const { connection, clientSecret } = await oidcConnection(stack, parent, tenant);
    expect(connection).toMatchObject({
      protocol: 'OIDC',
      state: 'DRAFT',
      oidcIssuer: tenant.oidcIssuer,
      hasClientSecret: true,
      redirectUri: `${stack.url}/sso/oidc/${connection.id}/callback`,
      loginUrl: `${stack.url}/sso/oidc/${connection.id}/login`,
    });
    // The secret is write-only: not in the API, and not in plain text at rest.
    const read = await stack.gqlOk(SsoConnectionDocument, { id: connection.id }, parent.owner.token);
    expect(JSON.stringify(read)).not.toContain(clientSecret);
    const [row] = await stack.app.orm.em
      .fork()
      .getConnection()
      .execute<{ sealed: string }[]>(
        'select oidc_client_secret_encrypted as sealed from sso_connections where id = ?',
        [connection.id],
      );
    expect(row!.sealed).toMatch(/^v1\./);
    expect(row!.sealed).not.toContain(clientSecret);

    // Activation needs a successful test first; the test goes through the IdP with the admin's session.
    const early = await stack.gqlOk(SsoConnectionActivateDocument, { id: connection.id }, parent.owner.token);
    expect(early.ssoConnectionActivate.userErrors[0]?.code).toBe('NOT_TESTED');
    const { ssoConnectionTest } = await stack.gqlOk(
      SsoConnectionTestDocument,
      { id: connection.id },
      parent.owner.token,
    );
    expect(ssoConnectionTest.testUrl).toBe(`${stack.url}/sso/oidc/${connection.id}/test`);
    // Without the admin's session the test does not start.
    expect((await browserFor(stack).get(ssoConnectionTest.testUrl!)).status).toBe(401);
    tenant.setLoginAs(parent.owner.email);
    const adminBrowser = browserFor(stack, parent.owner.token);
    const tested = await oidcRoundTrip(
      stack,
      adminBrowser,
      ssoConnectionTest.testUrl!,
      connection.redirectUri!,
    );
    expect(tested.status).toBe(200);
    expect(await tested.text()).toContain('Test succeeded');
    expect(adminBrowser.cookie('ci_session')).toBe(parent.owner.token);
    const afterTest = await stack.gqlOk(SsoConnectionDocument, { id: connection.id }, parent.owner.token);
    expect(afterTest.ssoConnection).toMatchObject({
      state: 'DRAFT',
      lastTestSucceeded: true,
      lastTestError: null,
    });

    // "Turning on SSO will end all current sessions of your users", the admin's included.
    const activated = await stack.gqlOk(
      SsoConnectionActivateDocument,
      { id: connection.id },
      parent.owner.token,
    );
    expect(activated.ssoConnectionActivate.connection?.state).toBe('ACTIVE');
    expect(activated.ssoConnectionActivate.revokedSessions).toBeGreaterThanOrEqual(1);
    expect((await stack.gqlOk(MeDocument, {}, parent.owner.token)).me).toBeNull();

    // The employee enters their e-mail, is routed to the OIDC connection, and comes back signed in.
    const route = await stack.gqlOk(LoginStartDocument, { email: employee });
    expect(route.loginStart).toEqual({
      route: 'SSO',
      ssoUrl: `${connection.loginUrl}?login_hint=${encodeURIComponent(employee)}`,
    });
    tenant.setLoginAs(employee);
    const browser = browserFor(stack);
    const submitted = await browser.postForm(`${stack.url}/login`, { email: employee });
    expect(submitted.status).toBe(303);
    const start = await browser.get(submitted.headers.get('location')!);
    expect(start.status).toBe(302);
    const authorization = new URL(start.headers.get('location')!);
    expect(authorization.href.startsWith(`${tenant.oidcIssuer}/`)).toBe(true);
    expect(Object.fromEntries(authorization.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: expect.any(String),
      redirect_uri: connection.redirectUri,
      code_challenge_method: 'S256',
      login_hint: employee,
      scope: expect.stringContaining('openid'),
    });
    expect(authorization.searchParams.get('state')!.length).toBeGreaterThanOrEqual(22);
    const callback = await stack.idp.followOidcAuthorization(authorization.href, {
      redirectUri: connection.redirectUri!,
    });
    const signedIn = await browser.get(callback.href);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/');
    const session = browser.cookie('ci_session')!;
    expect((await stack.gqlOk(MeDocument, {}, session)).me).toMatchObject({
      email: employee,
      name: 'Bob Builder',
    });
    expect((await stack.gqlOk(SessionsDocument, {}, session)).sessions.nodes[0]?.method).toBe('SSO');
    // The ID token's groups claim reached the profile (the IdP sends the prefixed ones).
    expect(await identityProfile(employee)).toEqual({
      firstName: 'Bob',
      lastName: 'Builder',
      groups: ['anthropic-oidc-corp-member'],
    });

    // The owner signs back in through OIDC too and sees the employee's JIT membership.
    tenant.setLoginAs(parent.owner.email);
    const ownerBrowser = browserFor(stack);
    await oidcRoundTrip(stack, ownerBrowser, connection.loginUrl, connection.redirectUri!);
    const members = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId },
      ownerBrowser.cookie('ci_session')!,
    );
    expect(members.members.nodes.find((m) => m.user.email === employee)).toMatchObject({
      role: 'MEMBER',
      source: 'JIT',
    });

    // An IdP that leaves the groups claim out (overage) is not one that sent none: the profile says unknown.
    tenant.update({ omitGroups: true });
    tenant.setLoginAs(employee);
    const again = await oidcRoundTrip(stack, browserFor(stack), connection.loginUrl, connection.redirectUri!);
    expect(again.status).toBe(303);
    expect((await identityProfile(employee)).groups).toBeNull();
  });

  it('keys the identity by the IdP subject: a second login of the same user reuses it', async () => {
    const parent = await capturedParent(stack, 'oidc-subject.com', 'OIDC Subject');
    const tenant = await stack.idp.createTenant({ preset: 'generic' });
    tenant.addUser({ email: parent.owner.email, firstName: 'S', lastName: 'O', groups: [] });
    tenant.setLoginAs(parent.owner.email);
    const { connection } = await oidcConnection(stack, parent, tenant, 'GENERIC');
    const { ssoConnectionTest } = await stack.gqlOk(
      SsoConnectionTestDocument,
      { id: connection.id },
      parent.owner.token,
    );
    const retest = await oidcRoundTrip(
      stack,
      browserFor(stack, parent.owner.token),
      ssoConnectionTest.testUrl!,
      connection.redirectUri!,
    );
    expect(retest.status).toBe(200);
    await stack.gqlOk(SsoConnectionActivateDocument, { id: connection.id }, parent.owner.token);

    for (let i = 0; i < 2; i++) {
      const response = await oidcRoundTrip(
        stack,
        browserFor(stack),
        connection.loginUrl,
        connection.redirectUri!,
      );
      expect(response.status).toBe(303);
    }
    const rows = await stack.app.orm.em
      .fork()
      .getConnection()
      .execute<{ subject: string }[]>('select subject from sso_identities where connection_id = ?', [
        connection.id,
      ]);
    expect(rows).toEqual([{ subject: tenant.user(parent.owner.email)!.subject }]);
  });
});
