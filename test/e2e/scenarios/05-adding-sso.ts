// "Adding SSO": with the domain captured, the admin adds an Okta SAML connection from its metadata, tests
// it and turns it on. Every session of the parent's users ends, the admin's own open subscription is
// closed by the server (4403), and everyone on the domain signs back in through SSO.
import { expect } from 'vitest';
import type { IdpTenant } from '../../../simulators/idp/index.js';
import {
  IdentitySettingsDocument,
  LoginCodeRequestDocument,
  MeDocument,
  MembershipChangedDocument,
  SsoConnectionDocument,
  type SsoConnectionFieldsFragment,
} from '../../generated/graphql.js';
import {
  type LiveSubscription,
  type Person,
  ssoLogin,
  subscribe,
  testAndActivate,
} from '../../scenarios-support/acts.js';
import { capturedParent, type CapturedParent, samlConnection } from '../../support/identity.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { defineScenario, eventually, given } from './scenario.js';

interface State {
  parent?: CapturedParent;
  employee?: Person;
  live?: LiveSubscription<unknown>;
  tenant?: IdpTenant;
  connection?: SsoConnectionFieldsFragment;
  ownerSession?: string;
}

export default defineScenario<State>({
  section: 'Adding SSO',
  title: 'Adding SSO',
  state: () => ({}),
  steps: [
    {
      name: 'Admin captures the company domain first',
      guide: ['After capturing your domain, you can connect your SSO provider to your Console organization'],
      async run(world, s) {
        s.parent = await capturedParent(world, 'sso-corp.com', 'SSO Corp');
        world.cast('SSO Corp owner', {
          role: 'PRIMARY_OWNER of SSO Corp',
          email: s.parent.owner.email,
          signInWith: 'SSO (Okta SAML tenant of the IdP simulator)',
        });
        const email = uniqueEmail('employee', 'sso-corp.com');
        s.employee = { email, ...(await world.signIn(email)) };
      },
    },
    {
      name: 'Admin navigates to the Identity settings page and keeps it open',
      guide: ['Navigate to console.anthropic.com/settings/identity'],
      async run(world, s) {
        const parent = given(s.parent, 'the parent');
        const settings = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: parent.organizationId },
          parent.owner.token,
        );
        expect(settings.identitySettings.available).toBe(true);
        s.live = await subscribe(
          world,
          MembershipChangedDocument,
          { organizationId: parent.organizationId },
          parent.owner.token,
        );
      },
    },
    {
      name: 'Admin clicks the "Add SSO" button and follows the Okta steps',
      guide: ['Click the "Add SSO" button', 'Follow the steps provided for your SSO provider'],
      async run(world, s) {
        const parent = given(s.parent, 'the parent');
        s.tenant = await world.idp.createTenant({ preset: 'okta' });
        s.tenant.addUser({ email: parent.owner.email, firstName: 'Olive', lastName: 'Owner', groups: [] });
        s.tenant.addUser({ email: s.employee!.email, firstName: 'Emma', lastName: 'Employee', groups: [] });
        s.connection = await samlConnection(world, parent, s.tenant);
        expect(s.connection).toMatchObject({
          state: 'DRAFT',
          protocol: 'SAML',
          idpEntityId: s.tenant.entityId,
        });
        // Okta is given our SP metadata.
        const metadata = await fetch(s.connection.spEntityId!);
        expect(await metadata.text()).toContain(s.connection.acsUrl!);
      },
    },
    {
      name: "Admin tests and turns on SSO, which ends every session, the admin's open subscription included",
      guide: ['Note: Turning on SSO will end all current sessions of your users.'],
      async run(world, s) {
        const parent = given(s.parent, 'the parent');
        const revoked = await testAndActivate(
          world,
          parent,
          given(s.connection, 'the connection'),
          s.tenant!,
        );
        expect(revoked).toBeGreaterThanOrEqual(1);
        expect((await world.gqlOk(MeDocument, {}, parent.owner.token)).me).toBeNull();
        await eventually(
          () => s.live!.closedWith(),
          (code) => code === 4403,
          { what: 'the subscription to close with 4403' },
        );
      },
    },
    {
      name: 'Users on the domain log back in through SSO',
      guide: [
        'They will need to log back in through SSO.',
        'Anthropic can intercept login attempts for emails on your domain and require your employees to sign in via SSO.',
      ],
      async run(world, s) {
        const connection = given(s.connection, 'the connection');
        const code = await world.gqlOk(LoginCodeRequestDocument, { input: { email: s.employee!.email } });
        expect(code.loginCodeRequest).toMatchObject({ sent: false, userErrors: [{ code: 'SSO_REQUIRED' }] });
        const session = await ssoLogin(world, connection, s.tenant!, s.employee!.email);
        expect((await world.gqlOk(MeDocument, {}, session)).me?.email).toBe(s.employee!.email);
        s.ownerSession = await ssoLogin(world, connection, s.tenant!, s.parent!.owner.email);
      },
    },
    {
      name: 'Admin navigates back to the Identity settings page for further configuration',
      guide: [
        "Once you've completed the steps for your SSO provider, navigate back to console.anthropic.com/settings/identity",
      ],
      async run(world, s) {
        const session = given(s.ownerSession, "the admin's SSO session");
        const settings = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: s.parent!.organizationId },
          session,
        );
        expect(settings.identitySettings.available).toBe(true);
        const connection = await world.gqlOk(SsoConnectionDocument, { id: s.connection!.id }, session);
        expect(connection.ssoConnection).toMatchObject({ state: 'ACTIVE', lastTestSucceeded: true });
      },
    },
  ],
});
