// "Testing SSO log-in": the admin's test changes no session; after turning SSO on the admin logs out,
// logs in again with their e-mail and is sent to the IdP (and straight back when already signed in
// there), and "Sign in with Google" is refused for the captured domain, naming the SSO route.
import { expect } from 'vitest';
import type { IdpTenant } from '../../../simulators/idp/index.js';
import {
  LogoutDocument,
  MeDocument,
  SsoConnectionActivateDocument,
  SsoConnectionDocument,
  type SsoConnectionFieldsFragment,
  SsoConnectionTestDocument,
} from '../../generated/graphql.js';
import { ssoLogin } from '../../scenarios-support/acts.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import {
  browserFor,
  capturedParent,
  type CapturedParent,
  samlConnection,
  samlRoundTrip,
} from '../../support/identity.js';
import { defineScenario, given } from './scenario.js';

interface State {
  parent?: CapturedParent;
  tenant?: IdpTenant;
  connection?: SsoConnectionFieldsFragment;
  session?: string;
}

export default defineScenario<State>({
  section: 'Testing SSO log-in',
  title: 'Testing SSO log-in',
  state: () => ({}),
  steps: [
    {
      name: 'Admin tests the SSO connection before inviting teammates, then turns it on',
      guide: ['Before inviting your teammates, verify that everything works correctly.'],
      async run(world, s) {
        s.parent = await capturedParent(world, 'test-corp.com', 'Test Corp');
        s.tenant = await world.idp.createTenant({ preset: 'okta' });
        s.tenant.addUser({ email: s.parent.owner.email, firstName: 'Tess', lastName: 'Owner', groups: [] });
        s.connection = await samlConnection(world, s.parent, s.tenant);
        const { ssoConnectionTest } = await world.gqlOk(
          SsoConnectionTestDocument,
          { id: s.connection.id },
          s.parent.owner.token,
        );
        s.tenant.setLoginAs(s.parent.owner.email);
        const browser = browserFor(world, s.parent.owner.token);
        const tested = await samlRoundTrip(world, browser, ssoConnectionTest.testUrl!);
        expect(await tested.text()).toContain('Test succeeded');
        // The test changes no session.
        expect(browser.cookie('ci_session')).toBe(s.parent.owner.token);
        const after = await world.gqlOk(SsoConnectionDocument, { id: s.connection.id }, s.parent.owner.token);
        expect(after.ssoConnection).toMatchObject({ state: 'DRAFT', lastTestSucceeded: true });
        await world.gqlOk(SsoConnectionActivateDocument, { id: s.connection.id }, s.parent.owner.token);
        s.session = await ssoLogin(world, s.connection, s.tenant, s.parent.owner.email);
      },
    },
    {
      name: 'Admin logs out',
      guide: ['Log out of your account by navigating to console.anthropic.com/logout'],
      async run(world, s) {
        const session = given(s.session, 'the SSO session');
        const out = await world.gqlOk(LogoutDocument, {}, session);
        expect(out.logout.revoked).toBe(true);
        expect((await world.gqlOk(MeDocument, {}, session)).me).toBeNull();
      },
    },
    {
      name: 'Admin logs in again with their e-mail and is directed to the SSO provider',
      guide: ['Try logging in again with your email address. You should be directed to your SSO provider.'],
      async run(world, s) {
        const browser = browserFor(world);
        const submitted = await browser.postForm(`${world.url}/login`, { email: s.parent!.owner.email });
        expect(submitted.status).toBe(303);
        const start = await browser.get(submitted.headers.get('location')!);
        expect(start.status).toBe(302);
        expect(start.headers.get('location')!.startsWith(world.idp.url)).toBe(true);
      },
    },
    {
      name: 'Already signed in at the IdP, the admin is redirected straight back in',
      guide: [
        'If you’re already logged in via your SSO provider, you may be immediately redirected and logged in',
      ],
      async run(world, s) {
        const connection = given(s.connection, 'the connection');
        const session = await ssoLogin(world, connection, s.tenant!, s.parent!.owner.email);
        expect((await world.gqlOk(MeDocument, {}, session)).me?.email).toBe(s.parent!.owner.email);
      },
    },
    {
      name: 'Employee tries "Sign in with Google" and is required to log in via SSO',
      guide: [
        'If you use Google Workspace on your domain, try logging in with Google.',
        'This should fail and users should be required to log in via SSO.',
      ],
      async run(world) {
        const employee = uniqueEmail('emp', 'test-corp.com');
        world.google.addUser({ email: employee, hostedDomain: 'test-corp.com' });
        world.google.setLoginAs(employee);
        const browser = browserFor(world);
        const start = await browser.get(`${world.url}/auth/google/login`);
        expect(start.status).toBe(302);
        const callback = await world.idp.followOidcAuthorization(start.headers.get('location')!, {
          redirectUri: `${world.url}/auth/google/callback`,
        });
        const refused = await browser.get(callback.href);
        expect(refused.status).toBe(303);
        const location = new URL(refused.headers.get('location')!, world.url);
        expect(location.pathname).toBe('/login');
        expect(location.searchParams.get('error')).toContain('signs in with single sign-on');
        expect(browser.cookie('ci_session')).toBeUndefined();
      },
    },
  ],
});
