// "Troubleshooting Common Scenarios": an Enterprise organization with SSO already; setting it up for the
// Console organization, in the guide's six steps: link, be a Console admin, enable Advanced Group
// Mappings, copy the group names, configure the IdP, assign users.
import { expect } from 'vitest';
import type { IdpTenant } from '../../../simulators/idp/index.js';
import { StaffRole } from '../../../src/modules/sessions/user.entity.js';
import {
  AdvancedGroupMappingsUpdateDocument,
  IdentitySettingsDocument,
  LoginCodeRequestDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  OrganizationCreateDocument,
  OrganizationGroupMappingsDocument,
  type SsoConnectionFieldsFragment,
} from '../../generated/graphql.js';
import {
  approvalToken,
  type Person,
  roles,
  ssoLogin,
  testAndActivate,
} from '../../scenarios-support/acts.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { capturedParent, type CapturedParent, samlConnection } from '../../support/identity.js';
import { defineScenario, given } from './scenario.js';

interface State {
  parent?: CapturedParent;
  consoleAdmin?: Person;
  consoleId?: string;
  tenant?: IdpTenant;
  connection?: SsoConnectionFieldsFragment;
  ownerSession?: string;
  enterpriseSlug?: string;
  enterpriseMember?: string;
  employee?: string;
  consoleSlug?: string;
  names?: Record<string, string>;
}

export default defineScenario<State>({
  section: 'Troubleshooting Common Scenarios',
  title: 'Troubleshooting: Enterprise SSO for the Console organization',
  state: () => ({}),
  steps: [
    {
      name: 'The Enterprise organization signs in with SSO and uses its own groups',
      guide: [
        'My Enterprise organization has SSO already; how can we set this up on our Console organization?',
        'You will need to add API Console access with different user groups:',
      ],
      async run(world, s) {
        s.parent = await capturedParent(world, 'trouble-corp.com', 'Trouble Corp');
        const email = uniqueEmail('console-admin', s.parent.domain);
        s.consoleAdmin = { email, ...(await world.signIn(email)) };
        s.consoleId = (
          await world.gqlOk(
            OrganizationCreateDocument,
            { input: { name: 'Trouble Console', kind: 'API_CONSOLE' } },
            s.consoleAdmin.token,
          )
        ).organizationCreate.organization!.id;
        s.enterpriseSlug = (
          await world.gqlOk(
            OrganizationGroupMappingsDocument,
            { id: s.parent.organizationId },
            s.parent.owner.token,
          )
        ).organization.slug;
        s.enterpriseMember = `anthropic-${s.enterpriseSlug}-member`;
        s.tenant = await world.idp.createTenant({ preset: 'okta' });
        s.employee = uniqueEmail('enterprise-employee', s.parent.domain);
        s.tenant.addUser({ email: s.parent.owner.email, firstName: 'Olga', lastName: 'Owner', groups: [] });
        // The Console admin is an employee too: the company IdP knows them, in no Console group yet.
        s.tenant.addUser({ email: s.consoleAdmin.email, firstName: 'Ada', lastName: 'Admin', groups: [] });
        s.tenant.addUser({
          email: s.employee,
          firstName: 'Erin',
          lastName: 'Employee',
          groups: [s.enterpriseMember],
        });
        s.connection = await samlConnection(world, s.parent, s.tenant);
        await testAndActivate(world, s.parent, s.connection, s.tenant);
        s.ownerSession = await ssoLogin(world, s.connection, s.tenant, s.parent.owner.email);
        const on = await world.gqlOk(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId: s.parent.organizationId, input: { enabled: true } },
          s.ownerSession,
        );
        expect(on.advancedGroupMappingsUpdate.userErrors).toEqual([]);
        expect(await roles(world, await ssoLogin(world, s.connection, s.tenant, s.employee))).toEqual({
          [s.enterpriseSlug]: 'MEMBER',
        });
      },
    },
    {
      name: 'Console admin finds no Identity settings page, and the account manager links the organizations',
      guide: [
        'Verify your organizations are linked: Check if you can access console.anthropic.com/settings/identity.',
        "If you can't see this page, contact Sales to link your Console organization to your existing Parent Organization.",
      ],
      async run(world, s) {
        const admin = given(s.consoleAdmin, 'the Console admin');
        const unlinked = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: s.consoleId! },
          admin.token,
        );
        expect(unlinked.identitySettings).toMatchObject({
          available: false,
          reason: 'NO_PARENT_ORGANIZATION',
        });
        const manager = await world.signInStaff(
          uniqueEmail('am', 'vendor.example'),
          StaffRole.ACCOUNT_MANAGER,
        );
        const ownerMails = world.mail.messages({
          to: s.parent!.owner.email,
          subject: 'Approve linking',
        }).length;
        const proposal = await world.gqlOk(
          MergeProposalCreateDocument,
          { input: { incomingOrganizationId: s.consoleId!, targetParentId: s.parent!.parentId } },
          manager.token,
        );
        expect(proposal.mergeProposalCreate.userErrors).toEqual([]);
        const [adminToken, ownerToken] = await Promise.all([
          approvalToken(world, admin.email),
          approvalToken(world, s.parent!.owner.email, ownerMails + 1),
        ]);
        await world.gqlOk(MergeProposalApproveDocument, { input: { token: adminToken } }, admin.token);
        const done = await world.gqlOk(
          MergeProposalApproveDocument,
          { input: { token: ownerToken } },
          s.ownerSession!,
        );
        expect(done.mergeProposalApprove.proposal?.status).toBe('COMPLETED');
        // Joining a parent with SSO on ends the admin's e-mail-code session: from now on they sign in through SSO.
        const ended = await world.gql(
          IdentitySettingsDocument,
          { organizationId: s.consoleId! },
          admin.token,
        );
        expect(ended.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
        admin.token = await ssoLogin(world, s.connection!, s.tenant!, admin.email);
        const linked = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: s.consoleId! },
          admin.token,
        );
        expect(linked.identitySettings).toMatchObject({
          available: true,
          parentOrganization: { id: s.parent!.parentId },
        });
        const code = await world.gqlOk(LoginCodeRequestDocument, { input: { email: admin.email } });
        expect(code.loginCodeRequest.userErrors[0]?.code).toBe('SSO_REQUIRED');
      },
    },
    {
      name: 'An Enterprise owner who is not a Console admin cannot toggle the Console mappings',
      guide: [
        "Ensure you're a Console Admin: You must be added as an Admin on the Console side to enable Advanced Group Mappings.",
        'Important: To enable Advanced Group Mappings, you must be an Admin on your Console account.',
        'contact your Console administrator to add you as an Admin first.',
      ],
      async run(world, s) {
        const byOwner = await world.gql(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId: given(s.consoleId, 'the Console organization'), input: { enabled: true } },
          s.ownerSession,
        );
        expect(byOwner.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
        const view = await world.gqlOk(
          OrganizationGroupMappingsDocument,
          { id: s.consoleId! },
          s.consoleAdmin!.token,
        );
        expect(view.organization).toMatchObject({ viewerRole: 'ADMIN', advancedGroupMappings: false });
      },
    },
    {
      name: 'Console admin toggles on "Advanced Group Mappings" and is told which group prevents the lockout',
      guide: [
        'Enable Advanced Group Mappings: Once you\'re a Console admin, navigate to console.anthropic.com/settings/identity and toggle on "Advanced Group Mappings."',
      ],
      async run(world, s) {
        const admin = given(s.consoleAdmin, 'the Console admin');
        const locked = await world.gqlOk(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId: s.consoleId!, input: { enabled: true } },
          admin.token,
        );
        expect(locked.advancedGroupMappingsUpdate.userErrors).toMatchObject([{ code: 'LOCKOUT' }]);
        expect(locked.advancedGroupMappingsUpdate.userErrors[0]!.message).toContain('-admin');
      },
    },
    {
      name: 'Console admin copies the Console group names',
      guide: [
        'Copy the group names: Copy the Console-specific group names that appear after enabling Advanced Group Mappings.',
      ],
      async run(world, s) {
        const view = await world.gqlOk(
          OrganizationGroupMappingsDocument,
          { id: s.consoleId! },
          given(s.consoleAdmin, 'the admin').token,
        );
        s.consoleSlug = view.organization.slug;
        s.names = Object.fromEntries(view.organization.groupMappingNames.map((n) => [n.role, n.groupName]));
        expect(Object.keys(s.names)).toEqual(['ADMIN', 'DEVELOPER', 'BILLING', 'USER']);
      },
    },
    {
      name: 'IdP admin adds the Console groups to the SSO application, and the Console admin turns mappings on',
      guide: [
        'Configure your IdP: Add these new Console groups to your existing SSO application alongside your Enterprise groups.',
      ],
      async run(world, s) {
        const names = given(s.names, 'the group names');
        for (const name of Object.values(names)) s.tenant!.addGroup(name);
        s.tenant!.setGroups(s.consoleAdmin!.email, [names.ADMIN!]);
        const session = await ssoLogin(world, s.connection!, s.tenant!, s.consoleAdmin!.email);
        expect(await roles(world, session)).toEqual({ [s.consoleSlug!]: 'ADMIN' });
        const enabled = await world.gqlOk(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId: s.consoleId!, input: { enabled: true } },
          session,
        );
        expect(enabled.advancedGroupMappingsUpdate.userErrors).toEqual([]);
      },
    },
    {
      name: 'IdP admin assigns Console users to Console groups without Enterprise groups',
      guide: [
        'Assign users: Add Console users to the appropriate Console groups in your IdP without requiring them to have Enterprise group membership.',
      ],
      async run(world, s) {
        const names = given(s.names, 'the group names');
        const developer = uniqueEmail('console-dev', s.parent!.domain);
        s.tenant!.addUser({
          email: developer,
          firstName: 'Dev',
          lastName: 'Eloper',
          groups: [names.DEVELOPER!],
        });
        world.cast('Trouble Corp Console developer', {
          role: 'Console DEVELOPER by group',
          email: developer,
          signInWith: 'SSO (Okta SAML tenant)',
        });
        expect(await roles(world, await ssoLogin(world, s.connection!, s.tenant!, developer))).toEqual({
          [s.consoleSlug!]: 'DEVELOPER',
        });
        expect(await roles(world, await ssoLogin(world, s.connection!, s.tenant!, s.employee!))).toEqual({
          [s.enterpriseSlug!]: 'MEMBER',
        });
        expect(await roles(world, s.ownerSession!)).toEqual({ [s.enterpriseSlug!]: 'PRIMARY_OWNER' });
      },
    },
  ],
});
