// The guide's "Advanced Group Mappings" with Okta, SCIM part: "Push Groups" with a rule that pushes every
// group starting with "anthropic-". Pushed groups decide organizations and roles at once, without a login:
// a move between groups in the IdP reaches every open session of the user on its next query; a renamed or
// deleted group stops granting; a user unassigned from the app loses it all. Turning mappings on is refused
// while the admin is in no admin group, and succeeds once the IdP has pushed them into one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  AdvancedGroupMappingsPreviewDocument,
  AdvancedGroupMappingsUpdateDocument,
  DirectoryCreateDocument,
  MeDocument,
  MembersDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  OrganizationCreateDocument,
  OrganizationDocument,
  OrganizationGroupMappingsDocument,
} from '../generated/graphql.js';
import { type CapturedParent, capturedParent, rolesBySlug } from '../support/identity.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

type Person = { email: string; token: string; userId: string };

describe('Advanced Group Mappings over SCIM push groups (Okta)', () => {
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

  /** A Console organization (its admin's address on the parent's domain) merged into the Enterprise parent. */
  async function mergedConsole(
    parent: CapturedParent,
    name: string,
  ): Promise<{ admin: Person; organizationId: string }> {
    const email = uniqueEmail('console-admin', parent.domain);
    const admin = { email, ...(await stack.signIn(email)) };
    const organizationId = (
      await stack.gqlOk(OrganizationCreateDocument, { input: { name, kind: 'API_CONSOLE' } }, admin.token)
    ).organizationCreate.organization!.id;
    const manager = await stack.signInStaff(uniqueEmail('am', 'vendor.example'), StaffRole.ACCOUNT_MANAGER);
    const created = await stack.gqlOk(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: organizationId, targetParentId: parent.parentId } },
      manager.token,
    );
    expect(created.mergeProposalCreate.userErrors).toEqual([]);
    const [adminToken, ownerToken] = await Promise.all([
      linkToken(admin.email),
      linkToken(parent.owner.email),
    ]);
    await stack.gqlOk(MergeProposalApproveDocument, { input: { token: adminToken! } }, admin.token);
    const done = await stack.gqlOk(
      MergeProposalApproveDocument,
      { input: { token: ownerToken! } },
      parent.owner.token,
    );
    expect(done.mergeProposalApprove.proposal?.status).toBe('COMPLETED');
    return { admin, organizationId };
  }

  async function names(organizationId: string, token: string) {
    const { organization } = await stack.gqlOk(
      OrganizationGroupMappingsDocument,
      { id: organizationId },
      token,
    );
    return {
      slug: organization.slug,
      group: Object.fromEntries(organization.groupMappingNames.map((n) => [n.role, n.groupName])) as Record<
        string,
        string
      >,
    };
  }

  async function members(organizationId: string, token: string): Promise<Record<string, string>> {
    const result = await stack.gqlOk(MembersDocument, { organizationId, first: 100 }, token);
    return Object.fromEntries(result.members.nodes.map((m) => [m.user.email, `${m.role}/${m.source}`]));
  }

  it('pushed anthropic- groups decide organizations and roles at once, and every open session sees a move at once', async () => {
    const parent = await capturedParent(stack, 'okta-scim.com', 'Okta Scim');
    const { admin, organizationId: consoleId } = await mergedConsole(parent, 'Okta Scim Console');
    const ent = await names(parent.organizationId, parent.owner.token);
    const con = await names(consoleId, admin.token);

    // Okta provisions to our SCIM server and pushes every group that starts with "anthropic-".
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    const created = await stack.gqlOk(
      DirectoryCreateDocument,
      {
        parentId: parent.parentId,
        input: {
          name: 'Okta',
          provider: 'OKTA',
          pushUrl: `${stack.idp.apiUrl}/tenants/${tenant.id}/scim/push`,
        },
      },
      parent.owner.token,
    );
    tenant.configureScim({
      baseUrl: created.directoryCreate.directory!.scimBaseUrl,
      token: created.directoryCreate.token!,
      mode: 'okta',
      pushGroupsPrefix: 'anthropic-',
    });

    // The Enterprise uses its groups (its primary owner is never affected by them).
    const entOn = await stack.gqlOk(
      AdvancedGroupMappingsUpdateDocument,
      { organizationId: parent.organizationId, input: { enabled: true } },
      parent.owner.token,
    );
    expect(entOn.advancedGroupMappingsUpdate.userErrors).toEqual([]);

    // The Console admin is assigned to the app but is in no Console group yet.
    tenant.addUser({ email: admin.email, firstName: 'Ada', lastName: 'Admin', groups: ['engineering'] });
    await tenant.scimIdle();
    expect(tenant.scimErrors()).toEqual([]);
    expect(await rolesBySlug(stack, admin.token)).toEqual({ [con.slug]: 'ADMIN' });
    const preview = await stack.gqlOk(
      AdvancedGroupMappingsPreviewDocument,
      { organizationId: consoleId },
      admin.token,
    );
    expect(preview.advancedGroupMappingsPreview).toEqual({
      // The directory knows the admin's groups: none of them is a Console group.
      loseAccess: [
        { userId: admin.userId, email: admin.email, currentRole: 'ADMIN', newRole: null, groupsKnown: true },
      ],
      roleChanges: [],
      actorLosesAdmin: true,
      leavesNoAdmin: true,
    });
    const refused = await stack.gqlOk(
      AdvancedGroupMappingsUpdateDocument,
      { organizationId: consoleId, input: { enabled: true } },
      admin.token,
    );
    expect(refused.advancedGroupMappingsUpdate).toMatchObject({
      preview: null,
      userErrors: [{ code: 'LOCKOUT' }],
    });

    // Put into the admin group in Okta: the push makes it known at once, no login needed.
    tenant.setGroups(admin.email, ['engineering', con.group.ADMIN!]);
    await tenant.scimIdle();
    expect(tenant.scimErrors()).toEqual([]);
    const enabled = await stack.gqlOk(
      AdvancedGroupMappingsUpdateDocument,
      { organizationId: consoleId, input: { enabled: true } },
      admin.token,
    );
    expect(enabled.advancedGroupMappingsUpdate).toEqual({
      preview: { loseAccess: [], roleChanges: [], actorLosesAdmin: false, leavesNoAdmin: false },
      userErrors: [],
    });
    expect(await rolesBySlug(stack, admin.token)).toEqual({ [con.slug]: 'ADMIN' });

    // Users assigned with their groups get their organizations before they ever sign in.
    const alice = uniqueEmail('alice', parent.domain);
    const bob = uniqueEmail('bob', parent.domain);
    const carol = uniqueEmail('carol', parent.domain);
    const dave = uniqueEmail('dave', parent.domain);
    tenant.addUser({ email: alice, groups: [ent.group.MEMBER!, con.group.DEVELOPER!, 'engineering'] });
    tenant.addUser({ email: bob, groups: [con.group.BILLING!] });
    tenant.addUser({ email: carol, groups: [con.group.DEVELOPER!] });
    // Several groups: the most privileged role wins.
    tenant.addUser({
      email: dave,
      groups: [con.group.USER!, con.group.BILLING!, ent.group.MEMBER!, ent.group.OWNER!],
    });
    await tenant.scimIdle();
    expect(tenant.scimErrors()).toEqual([]);
    const pushedGroups = tenant
      .scimLog()
      .filter((r) => r.method === 'POST' && r.path === '/Groups')
      .map((r) => (r.body as { displayName: string }).displayName);
    expect(pushedGroups.every((g) => g.startsWith('anthropic-'))).toBe(true);
    expect(pushedGroups).not.toContain('engineering');
    expect(await members(consoleId, admin.token)).toEqual({
      [admin.email]: 'ADMIN/CREATOR',
      [alice]: 'DEVELOPER/GROUP_MAPPING',
      [bob]: 'BILLING/GROUP_MAPPING',
      [carol]: 'DEVELOPER/GROUP_MAPPING',
      [dave]: 'BILLING/GROUP_MAPPING',
    });
    expect(await members(parent.organizationId, parent.owner.token)).toEqual({
      [parent.owner.email]: 'PRIMARY_OWNER/CREATOR',
      [alice]: 'MEMBER/GROUP_MAPPING',
      [dave]: 'OWNER/GROUP_MAPPING',
    });

    // Alice signs in (no SSO here: her e-mail code) and keeps her session open.
    const aliceSession = await stack.signIn(alice);
    expect(await rolesBySlug(stack, aliceSession.token)).toEqual({
      [ent.slug]: 'MEMBER',
      [con.slug]: 'DEVELOPER',
    });

    // Moved in Okta from the developer group to the admin group (and out of the Enterprise group): the
    // push applies it at once, and her open session's next query shows it.
    tenant.setGroups(alice, [con.group.ADMIN!, 'engineering']);
    await tenant.scimIdle();
    expect(tenant.scimErrors()).toEqual([]);
    expect(
      (await stack.gqlOk(OrganizationDocument, { id: consoleId }, aliceSession.token)).organization
        .viewerRole,
    ).toBe('ADMIN');
    const enterprise = await stack.gql(
      OrganizationDocument,
      { id: parent.organizationId },
      aliceSession.token,
    );
    expect(enterprise.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await rolesBySlug(stack, aliceSession.token)).toEqual({ [con.slug]: 'ADMIN' });
    // And back down: the admin role goes as fast as it came.
    tenant.setGroups(alice, [con.group.USER!]);
    await tenant.scimIdle();
    expect(
      (await stack.gqlOk(OrganizationDocument, { id: consoleId }, aliceSession.token)).organization
        .viewerRole,
    ).toBe('USER');

    // A group renamed out of the naming scheme stops granting; renamed back, it grants again.
    const bobSession = await stack.signIn(bob);
    tenant.renameGroup(con.group.BILLING!, 'anthropic-finance');
    await tenant.scimIdle();
    expect(tenant.scimErrors()).toEqual([]);
    expect(await rolesBySlug(stack, bobSession.token)).toEqual({});
    // Dave still has the user group.
    expect((await members(consoleId, admin.token))[dave]).toBe('USER/GROUP_MAPPING');
    tenant.renameGroup('anthropic-finance', con.group.BILLING!);
    await tenant.scimIdle();
    expect(await rolesBySlug(stack, bobSession.token)).toEqual({ [con.slug]: 'BILLING' });

    // A group deleted in Okta takes its access with it.
    const carolSession = await stack.signIn(carol);
    expect(await rolesBySlug(stack, carolSession.token)).toEqual({ [con.slug]: 'DEVELOPER' });
    tenant.removeGroup(con.group.DEVELOPER!);
    await tenant.scimIdle();
    expect(tenant.scimErrors()).toEqual([]);
    expect(await rolesBySlug(stack, carolSession.token)).toEqual({});

    // Unassigned from the app: deactivated, every membership and session of the user ends at once.
    tenant.assignUser(alice, false);
    await tenant.scimIdle();
    expect((await stack.gql(MeDocument, {}, aliceSession.token)).data?.me ?? null).toBeNull();
    expect((await members(consoleId, admin.token))[alice]).toBeUndefined();
  });
});
