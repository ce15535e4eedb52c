// The guide's "Troubleshooting Common Scenarios": "My Enterprise organization has SSO already; how can we
// set this up on our Console organization?", step by step as the guide lists them:
//   1. Verify your organizations are linked (the identity settings page; else a merge by the account manager)
//   2. Ensure you're a Console Admin
//   3. Enable Advanced Group Mappings
//   4. Copy the group names
//   5. Configure your IdP: the Console groups alongside the Enterprise groups
//   6. Assign users: Console users in Console groups, without Enterprise group membership.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  AdvancedGroupMappingsUpdateDocument,
  IdentitySettingsDocument,
  LoginCodeRequestDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  OrganizationCreateDocument,
  OrganizationGroupMappingsDocument,
  SsoConnectionActivateDocument,
  SsoConnectionTestDocument,
} from '../generated/graphql.js';
import {
  browserFor,
  capturedParent,
  samlConnection,
  samlRoundTrip,
  rolesBySlug,
  ssoSignIn,
} from '../support/identity.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('troubleshooting: an Enterprise organization has SSO already; setting it up for the Console organization', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function linkToken(email: string): Promise<string> {
    const mails = await stack.mail.waitFor({ to: email, subject: 'Approve linking' }, { timeoutMs: 10_000 });
    const link = mails.at(-1)!.links.find((l) => l.includes('/merge-proposals/review'))!;
    return new URL(link).searchParams.get('token')!;
  }

  it('links the Console organization, enables its mappings and gives Console-only users the Console organization alone', async () => {
    // The starting point. The Console organization has existed for a while, its admin on the company domain.
    const parent = await capturedParent(stack, 'trouble-corp.com', 'Trouble Corp');
    const consoleAdminEmail = uniqueEmail('console-admin', parent.domain);
    const consoleAdmin = { email: consoleAdminEmail, ...(await stack.signIn(consoleAdminEmail)) };
    const consoleOrg = (
      await stack.gqlOk(
        OrganizationCreateDocument,
        { input: { name: 'Trouble Console', kind: 'API_CONSOLE' } },
        consoleAdmin.token,
      )
    ).organizationCreate.organization!;
    const manager = await stack.signInStaff(uniqueEmail('am', 'vendor.example'), StaffRole.ACCOUNT_MANAGER);

    // The Enterprise has SSO (Okta, SAML, sharing "anthropic-" groups) and uses Enterprise groups.
    const enterpriseSlug = (
      await stack.gqlOk(OrganizationGroupMappingsDocument, { id: parent.organizationId }, parent.owner.token)
    ).organization.slug;
    const enterpriseMember = `anthropic-${enterpriseSlug}-member`;
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    const employee = uniqueEmail('enterprise-employee', parent.domain);
    tenant.addUser({ email: parent.owner.email, firstName: 'Olga', lastName: 'Owner', groups: [] });
    tenant.addUser({ email: employee, firstName: 'Erin', lastName: 'Employee', groups: [enterpriseMember] });
    // The Console admin is an employee too: the company IdP knows them, in no Console group yet.
    tenant.addUser({ email: consoleAdmin.email, firstName: 'Ada', lastName: 'Admin', groups: [] });
    const connection = await samlConnection(stack, parent, tenant);
    tenant.setLoginAs(parent.owner.email);
    const { ssoConnectionTest } = await stack.gqlOk(
      SsoConnectionTestDocument,
      { id: connection.id },
      parent.owner.token,
    );
    await samlRoundTrip(stack, browserFor(stack, parent.owner.token), ssoConnectionTest.testUrl!);
    await stack.gqlOk(SsoConnectionActivateDocument, { id: connection.id }, parent.owner.token);
    const ownerSession = await ssoSignIn(stack, connection, tenant, parent.owner.email);
    const enterpriseOn = await stack.gqlOk(
      AdvancedGroupMappingsUpdateDocument,
      { organizationId: parent.organizationId, input: { enabled: true } },
      ownerSession,
    );
    expect(enterpriseOn.advancedGroupMappingsUpdate.userErrors).toEqual([]);
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, employee))).toEqual({
      [enterpriseSlug]: 'MEMBER',
    });

    // 1. "Verify your organizations are linked": the identity settings page is not there...
    const unlinked = await stack.gqlOk(
      IdentitySettingsDocument,
      { organizationId: consoleOrg.id },
      consoleAdmin.token,
    );
    expect(unlinked.identitySettings).toMatchObject({ available: false, reason: 'NO_PARENT_ORGANIZATION' });
    // ...so the account manager proposes the merge; one approver on each side approves from the e-mail.
    const proposal = await stack.gqlOk(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: consoleOrg.id, targetParentId: parent.parentId } },
      manager.token,
    );
    expect(proposal.mergeProposalCreate.userErrors).toEqual([]);
    const [adminToken, ownerToken] = await Promise.all([
      linkToken(consoleAdmin.email),
      linkToken(parent.owner.email),
    ]);
    await stack.gqlOk(MergeProposalApproveDocument, { input: { token: adminToken! } }, consoleAdmin.token);
    const completed = await stack.gqlOk(
      MergeProposalApproveDocument,
      { input: { token: ownerToken! } },
      ownerSession,
    );
    expect(completed.mergeProposalApprove.proposal?.status).toBe('COMPLETED');
    // Joining a parent with SSO on ends the Console admin's e-mail-code session: they sign in through SSO now.
    const ended = await stack.gql(
      IdentitySettingsDocument,
      { organizationId: consoleOrg.id },
      consoleAdmin.token,
    );
    expect(ended.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    consoleAdmin.token = await ssoSignIn(stack, connection, tenant, consoleAdmin.email);
    const linked = await stack.gqlOk(
      IdentitySettingsDocument,
      { organizationId: consoleOrg.id },
      consoleAdmin.token,
    );
    expect(linked.identitySettings).toMatchObject({
      available: true,
      reason: null,
      parentOrganization: { id: parent.parentId },
    });
    // The company's SSO now applies to the Console admin's address too.
    expect(
      (await stack.gqlOk(LoginCodeRequestDocument, { input: { email: consoleAdmin.email } })).loginCodeRequest
        .userErrors[0]?.code,
    ).toBe('SSO_REQUIRED');

    // 2. "Ensure you're a Console Admin": the Enterprise owner is not, and cannot toggle the Console's mappings.
    const consoleView = await stack.gqlOk(
      OrganizationGroupMappingsDocument,
      { id: consoleOrg.id },
      consoleAdmin.token,
    );
    expect(consoleView.organization).toMatchObject({ viewerRole: 'ADMIN', advancedGroupMappings: false });
    const byOwner = await stack.gql(
      AdvancedGroupMappingsUpdateDocument,
      { organizationId: consoleOrg.id, input: { enabled: true } },
      ownerSession,
    );
    expect(byOwner.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    // 3. "Enable Advanced Group Mappings". Not yet possible: no IdP group makes the admin a Console admin, and
    // turning it on would lock them out. The refusal names them and the group they need.
    const locked = await stack.gqlOk(
      AdvancedGroupMappingsUpdateDocument,
      { organizationId: consoleOrg.id, input: { enabled: true } },
      consoleAdmin.token,
    );
    expect(locked.advancedGroupMappingsUpdate.userErrors).toMatchObject([{ code: 'LOCKOUT' }]);
    const consoleSlug = consoleView.organization.slug;
    expect(locked.advancedGroupMappingsUpdate.userErrors[0]!.message).toContain(
      `anthropic-${consoleSlug}-admin`,
    );
    expect(locked.advancedGroupMappingsUpdate.userErrors[0]!.message).toContain(consoleAdmin.email);

    // 4. "Copy the group names": the Console-specific names, one per Console role.
    const names = Object.fromEntries(
      consoleView.organization.groupMappingNames.map((n) => [n.role, n.groupName]),
    );
    expect(names).toEqual({
      ADMIN: `anthropic-${consoleSlug}-admin`,
      DEVELOPER: `anthropic-${consoleSlug}-developer`,
      BILLING: `anthropic-${consoleSlug}-billing`,
      USER: `anthropic-${consoleSlug}-user`,
    });

    // 5. "Configure your IdP": the Console groups are added to the same SSO application, alongside the
    // Enterprise groups (the app already shares every "anthropic-" group). The admin joins the admin group
    // and signs in through SSO, so the group is known here.
    for (const name of Object.values(names)) tenant.addGroup(name);
    tenant.setGroups(consoleAdmin.email, [names.ADMIN!]);
    const adminSession = await ssoSignIn(stack, connection, tenant, consoleAdmin.email);
    // Not an Enterprise member (no Enterprise group), still the Console admin.
    expect(await rolesBySlug(stack, adminSession)).toEqual({ [consoleSlug]: 'ADMIN' });
    const enabled = await stack.gqlOk(
      AdvancedGroupMappingsUpdateDocument,
      { organizationId: consoleOrg.id, input: { enabled: true } },
      adminSession,
    );
    expect(enabled.advancedGroupMappingsUpdate).toMatchObject({
      userErrors: [],
      preview: { actorLosesAdmin: false, leavesNoAdmin: false },
    });
    expect(
      (await stack.gqlOk(OrganizationGroupMappingsDocument, { id: consoleOrg.id }, adminSession)).organization
        .advancedGroupMappings,
    ).toBe(true);

    // 6. "Assign users": a Console developer in the Console group only gets the Console organization alone;
    // an employee in both kinds of groups gets both; the Enterprise employee still gets the Enterprise alone.
    const developer = uniqueEmail('console-dev', parent.domain);
    const both = uniqueEmail('both', parent.domain);
    tenant.addUser({ email: developer, firstName: 'Dev', lastName: 'Eloper', groups: [names.DEVELOPER!] });
    tenant.addUser({ email: both, firstName: 'Bo', lastName: 'Th', groups: [enterpriseMember, names.USER!] });
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, developer))).toEqual({
      [consoleSlug]: 'DEVELOPER',
    });
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, both))).toEqual({
      [enterpriseSlug]: 'MEMBER',
      [consoleSlug]: 'USER',
    });
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, employee))).toEqual({
      [enterpriseSlug]: 'MEMBER',
    });
    // The Enterprise owner keeps the Enterprise and never got the Console organization.
    expect(await rolesBySlug(stack, ownerSession)).toEqual({ [enterpriseSlug]: 'PRIMARY_OWNER' });
  });
});
