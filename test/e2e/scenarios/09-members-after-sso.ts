// "Adding and removing users", after SSO is enabled: the IdP decides who may come in, and the first SSO
// login creates the account and its membership (JIT). Removal: access revoked in the IdP first (the open
// session goes on), then "Remove" on the members page ends the member's access at once.
import { expect } from 'vitest';
import type { IdpTenant } from '../../../simulators/idp/index.js';
import {
  MeDocument,
  MemberRemoveDocument,
  MembersDocument,
  OrganizationDocument,
  type SsoConnectionFieldsFragment,
} from '../../generated/graphql.js';
import { ssoLogin, testAndActivate } from '../../scenarios-support/acts.js';
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
  ownerSession?: string;
  employee?: string;
  employeeSession?: string;
  employeeId?: string;
}

export default defineScenario<State>({
  section: 'After SSO is enabled',
  title: 'Members after SSO',
  state: () => ({}),
  steps: [
    {
      name: 'IdP admin gives the employee access to the Console application',
      guide: [
        'Adding members',
        'Once SSO is enabled, your Identity Provider (IdP) becomes the primary controller for adding members',
        'Ensure that the member is part of your SSO organization and has access to the Console application.',
      ],
      async run(world, s) {
        s.parent = await capturedParent(world, 'jit-corp.com', 'JIT Corp');
        s.tenant = await world.idp.createTenant({ preset: 'okta' });
        s.tenant.addUser({ email: s.parent.owner.email, firstName: 'Jo', lastName: 'Owner', groups: [] });
        s.connection = await samlConnection(world, s.parent, s.tenant);
        await testAndActivate(world, s.parent, s.connection, s.tenant);
        s.ownerSession = await ssoLogin(world, s.connection, s.tenant, s.parent.owner.email);
        s.employee = uniqueEmail('bob', 'jit-corp.com');
        s.tenant.addUser({ email: s.employee, firstName: 'Bob', lastName: 'Builder', groups: [] });
        world.cast('JIT Corp employee', {
          role: 'MEMBER of JIT Corp (removed later)',
          email: s.employee,
          signInWith: 'SSO (Okta SAML tenant)',
        });
      },
    },
    {
      name: 'Employee logs in for the first time and is provisioned just in time',
      guide: [
        'When the user logs in for the first time, an account will be created for them (JIT provisioning)',
      ],
      async run(world, s) {
        const employee = given(s.employee, 'the employee');
        const browser = browserFor(world);
        s.tenant!.setLoginAs(employee);
        const submitted = await browser.postForm(`${world.url}/login`, { email: employee });
        const acs = await samlRoundTrip(world, browser, submitted.headers.get('location')!);
        expect(acs.headers.get('location')).toBe('/');
        s.employeeSession = browser.cookie('ci_session')!;
        expect((await world.gqlOk(MeDocument, {}, s.employeeSession)).me).toMatchObject({
          email: employee,
          name: 'Bob Builder',
        });
        const members = await world.gqlOk(
          MembersDocument,
          { organizationId: s.parent!.organizationId },
          s.ownerSession!,
        );
        const member = members.members.nodes.find((m) => m.user.email === employee);
        expect(member).toMatchObject({ role: 'MEMBER', source: 'JIT' });
        s.employeeId = member!.user.id;
      },
    },
    {
      name: "IdP admin revokes the employee's access to Console; the open session goes on",
      guide: [
        'Removing members',
        'while removal involves steps in both your IdP and Console.',
        "First, revoke the user's access to Console in your SSO provider",
        'Note that the user will remain logged in to console.anthropic.com until you click "Remove"',
      ],
      async run(world, s) {
        s.tenant!.assignUser(given(s.employee, 'the employee'), false);
        const still = await world.gqlOk(
          OrganizationDocument,
          { id: s.parent!.organizationId },
          s.employeeSession!,
        );
        expect(still.organization.viewerRole).toBe('MEMBER');
      },
    },
    {
      name: 'Admin goes to the members page and finds the employee',
      guide: ['Then, go to console.anthropic.com/settings/members', 'Find the user you want to remove'],
      async run(world, s) {
        const members = await world.gqlOk(
          MembersDocument,
          { organizationId: s.parent!.organizationId },
          s.ownerSession!,
        );
        expect(members.members.nodes.map((m) => m.user.email)).toContain(given(s.employee, 'the employee'));
      },
    },
    {
      name: 'Admin clicks the trash icon next to their name and selects "Remove"; access ends',
      guide: ['Click the trash icon next to their name', 'Select "Remove"'],
      async run(world, s) {
        const removed = await world.gqlOk(
          MemberRemoveDocument,
          { organizationId: s.parent!.organizationId, userId: given(s.employeeId, 'the member') },
          s.ownerSession!,
        );
        expect(removed.memberRemove.userErrors).toEqual([]);
        const refused = await world.gql(
          OrganizationDocument,
          { id: s.parent!.organizationId },
          s.employeeSession,
        );
        expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      },
    },
  ],
});
