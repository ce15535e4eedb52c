// Advanced Group Mappings, what they refuse and what they never grant (rules 11 and 12): look-alike group
// names, a SAML claim the parent's SCIM directory does not back, another parent's organization, the primary
// owner, callers who are not the organization's admins; a missing groups attribute (overage) that grants
// and removes nothing; the lock-out guard and its `force`; the dry run, per organization.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  AdvancedGroupMappingsPreviewDocument,
  AdvancedGroupMappingsUpdateDocument,
  DirectoryCreateDocument,
  DomainAddDocument,
  DomainRefreshDocument,
  GroupMappingsDryRunDocument,
  MemberRoleUpdateDocument,
  MembersDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  OrganizationDocument,
  OrganizationGroupMappingsDocument,
  OrganizationJitUpdateDocument,
  ParentOrganizationRequestApproveDocument,
  ParentOrganizationRequestDocument,
} from '../generated/graphql.js';
import {
  type CapturedParent,
  capturedParent,
  samlConnection,
  rolesBySlug,
  ssoSignIn,
  testAndActivate,
} from '../support/identity.js';
import { scimClient } from '../support/scim.js';
import {
  createOrg as newOrg,
  join as joinOrg,
  type OrganizationKindName,
  type Person,
  person as newPerson,
  type RoleName,
} from '../support/orgs.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('Advanced Group Mappings: refusals and non-grants', () => {
  let stack: Stack;
  let manager: { token: string };
  let sales: { token: string };

  beforeAll(async () => {
    stack = await startStack();
    manager = await stack.signInStaff(uniqueEmail('am', 'vendor.example'), StaffRole.ACCOUNT_MANAGER);
    sales = await stack.signInStaff(uniqueEmail('sales', 'vendor.example'), StaffRole.SALES);
  });
  afterAll(async () => {
    await stack?.close();
  });

  // ---- helpers ----

  /** An Enterprise parent with an active Okta SAML connection; the owner signed back in through SSO. */
  async function ssoParent(domain: string, name: string, tenantOptions: { groupPrefix?: string } = {}) {
    const parent = await capturedParent(stack, domain, name);
    const tenant = await stack.idp.createTenant({ preset: 'okta', ...tenantOptions });
    tenant.addUser({ email: parent.owner.email, firstName: 'O', lastName: 'Owner', groups: [] });
    const connection = await samlConnection(stack, parent, tenant);
    await testAndActivate(stack, parent, connection.id, tenant);
    const owner = await ssoSignIn(stack, connection, tenant, parent.owner.email);
    const slug = (await stack.gqlOk(OrganizationGroupMappingsDocument, { id: parent.organizationId }, owner))
      .organization.slug;
    return { parent, tenant, connection, owner, slug };
  }

  async function enable(organizationId: string, token: string, force = false) {
    return (
      await stack.gqlOk(
        AdvancedGroupMappingsUpdateDocument,
        { organizationId, input: { enabled: true, force } },
        token,
      )
    ).advancedGroupMappingsUpdate;
  }

  const person = (prefix: string, domain?: string) => newPerson(stack, prefix, domain);
  const createOrg = (token: string, kind: OrganizationKindName, name: string) =>
    newOrg(stack, token, kind, name);
  const join = (organizationId: string, role: RoleName, by: { token: string }) =>
    joinOrg(stack, organizationId, role, by);

  /** A Console organization with a parent of its own, made by Sales at the admin's request. */
  async function consoleWithParent(name: string) {
    const admin = await person('console-admin');
    const organization = await createOrg(admin.token, 'API_CONSOLE', name);
    const request = await stack.gqlOk(
      ParentOrganizationRequestDocument,
      { organizationId: organization.id },
      admin.token,
    );
    const approved = await stack.gqlOk(
      ParentOrganizationRequestApproveDocument,
      { id: request.parentOrganizationRequest.request!.id },
      sales.token,
    );
    return {
      admin,
      organization,
      parentId: approved.parentOrganizationRequestApprove.request!.parentOrganizationId!,
    };
  }

  /** A captured parent with an Okta SCIM directory, and the group name that maps to its Enterprise's MEMBER role. */
  async function withDirectory(domain: string, name: string) {
    const parent = await capturedParent(stack, domain, name);
    const organization = (
      await stack.gqlOk(OrganizationGroupMappingsDocument, { id: parent.organizationId }, parent.owner.token)
    ).organization;
    const memberGroup = organization.groupMappingNames.find((n) => n.role === 'MEMBER')!.groupName;
    const created = await stack.gqlOk(
      DirectoryCreateDocument,
      { parentId: parent.parentId, input: { name: 'Okta', provider: 'OKTA' } },
      parent.owner.token,
    );
    const scim = scimClient(created.directoryCreate.directory!.scimBaseUrl, created.directoryCreate.token!);
    return { parent, memberGroup, scim };
  }

  async function linkToken(email: string): Promise<string> {
    const mails = await stack.mail.waitFor({ to: email, subject: 'Approve linking' }, { timeoutMs: 10_000 });
    const link = mails.at(-1)!.links.find((l) => l.includes('/merge-proposals/review'))!;
    return new URL(link).searchParams.get('token')!;
  }

  /** Merges a new Console organization of `admin` into the parent, approved by mail on both sides. */
  async function mergedConsole(parent: CapturedParent, admin: Person, name: string) {
    const organization = await createOrg(admin.token, 'API_CONSOLE', name);
    // The owner approves every merge into the parent: read only the mail of this proposal.
    stack.mail.clear();
    const created = await stack.gqlOk(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: organization.id, targetParentId: parent.parentId } },
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
    return organization;
  }

  // ---- tests ----

  it('grants nothing for a look-alike of a group name, received at login or asked in a dry run', async () => {
    // The IdP shares every group (no prefix rule), so look-alikes do reach us.
    const { parent, tenant, connection, owner, slug } = await ssoParent('lookalike-corp.com', 'Lookalike', {
      groupPrefix: '',
    });
    expect((await enable(parent.organizationId, owner)).userErrors).toEqual([]);
    const exact = `anthropic-${slug}-admin`;
    const cases: Array<[string, string]> = [
      ['upper-case prefix', `ANTHROPIC-${slug}-admin`],
      ['upper-case role', `anthropic-${slug}-ADMIN`],
      ['trailing space', `${exact} `],
      ['leading space', ` ${exact}`],
      ['Unicode hyphen U+2010 before the role', `anthropic-${slug}\u2010admin`],
      ['Unicode hyphen U+2010 in the prefix', `anthropic\u2010${slug}-admin`],
      ['Cyrillic a in the prefix', `\u0430nthropic-${slug}-admin`],
      ['an extra suffix', `${exact}s`],
      ['a suffix after a dash', `${exact}-old`],
      ['something before the prefix', `x-${exact}`],
      ['a Console role on an Enterprise organization', `anthropic-${slug}-developer`],
      ['the primary owner', `anthropic-${slug}-primary-owner`],
    ];
    const dryRun = async (groups: string[]) =>
      (
        await stack.gqlOk(
          GroupMappingsDryRunDocument,
          { parentId: parent.parentId, input: { groups } },
          owner,
        )
      ).groupMappingsDryRun;

    for (const [label, group] of cases) {
      expect({ label, dryRun: (await dryRun([group]))[0]?.role }).toEqual({ label, dryRun: null });
      const email = uniqueEmail('lookalike', parent.domain);
      tenant.addUser({ email, firstName: 'L', lastName: 'A', groups: [group] });
      expect({
        label,
        roles: await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, email)),
      }).toEqual({
        label,
        roles: {},
      });
    }

    // The exact name does grant, and a primary-owner group next to it grants only what the other gives.
    const control = uniqueEmail('control', parent.domain);
    tenant.addUser({ email: control, firstName: 'C', lastName: 'O', groups: [exact] });
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, control))).toEqual({
      [slug]: 'ADMIN',
    });
    const claimant = uniqueEmail('claimant', parent.domain);
    tenant.addUser({
      email: claimant,
      firstName: 'P',
      lastName: 'O',
      groups: [`anthropic-${slug}-primary-owner`, `anthropic-${slug}-member`],
    });
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, claimant))).toEqual({
      [slug]: 'MEMBER',
    });
    // The real primary owner, in no group at all, stays the primary owner.
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, parent.owner.email))).toEqual({
      [slug]: 'PRIMARY_OWNER',
    });
    const members = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId, first: 100 },
      owner,
    );
    expect(members.members.nodes.map((m) => m.user.email).sort()).toEqual(
      [parent.owner.email, control, claimant].sort(),
    );
  });

  it('lets only the organization admins (owners on Enterprise) preview or toggle mappings, and only with a parent', async () => {
    const { parent, tenant, connection, owner, slug } = await ssoParent('who-corp.com', 'Who Corp');
    expect((await enable(parent.organizationId, owner)).userErrors).toEqual([]);
    const enterpriseAdmin = uniqueEmail('ent-admin', parent.domain);
    const enterpriseMember = uniqueEmail('ent-member', parent.domain);
    tenant.addUser({
      email: enterpriseAdmin,
      firstName: 'E',
      lastName: 'A',
      groups: [`anthropic-${slug}-admin`],
    });
    tenant.addUser({
      email: enterpriseMember,
      firstName: 'E',
      lastName: 'M',
      groups: [`anthropic-${slug}-member`],
    });
    const adminSession = await ssoSignIn(stack, connection, tenant, enterpriseAdmin);
    const memberSession = await ssoSignIn(stack, connection, tenant, enterpriseMember);
    expect(await rolesBySlug(stack, adminSession)).toEqual({ [slug]: 'ADMIN' });

    const linked = await consoleWithParent('Who Console');
    const developer = await join(linked.organization.id, 'DEVELOPER', linked.admin);
    const stranger = await person('stranger');
    const unlinkedAdmin = await person('unlinked');
    const unlinked = await createOrg(unlinkedAdmin.token, 'API_CONSOLE', 'Unlinked Console');

    const cases: Array<[string, string, string | undefined, string, RegExp?]> = [
      ['an Enterprise ADMIN', parent.organizationId, adminSession, 'FORBIDDEN', /Only admins/],
      ['an Enterprise MEMBER', parent.organizationId, memberSession, 'FORBIDDEN', /Only admins/],
      ['a Console DEVELOPER', linked.organization.id, developer.token, 'FORBIDDEN', /Only admins/],
      ['someone of no organization of the parent', linked.organization.id, stranger.token, 'NOT_FOUND'],
      ['anonymous', linked.organization.id, undefined, 'UNAUTHENTICATED'],
      [
        'the admin of a Console organization without a parent',
        unlinked.id,
        unlinkedAdmin.token,
        'FORBIDDEN',
        /parent/,
      ],
    ];
    for (const [label, organizationId, token, code, message] of cases) {
      for (const enabled of [true, false]) {
        const result = await stack.gql(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId, input: { enabled } },
          token,
        );
        expect({ label, enabled, code: result.errors?.[0]?.extensions?.code }).toEqual({
          label,
          enabled,
          code,
        });
        if (message) expect(result.errors?.[0]?.message).toMatch(message);
      }
      const preview = await stack.gql(AdvancedGroupMappingsPreviewDocument, { organizationId }, token);
      expect({ label, preview: preview.errors?.[0]?.extensions?.code }).toEqual({ label, preview: code });
    }
    // The dry run is the parent's identity admins' too.
    for (const [label, parentId, token, code] of [
      ['an Enterprise ADMIN', parent.parentId, adminSession, 'FORBIDDEN'],
      ['a Console DEVELOPER', linked.parentId, developer.token, 'FORBIDDEN'],
      ["another parent's owner", linked.parentId, owner, 'NOT_FOUND'],
    ] as const) {
      const result = await stack.gql(GroupMappingsDryRunDocument, { parentId, input: { groups: [] } }, token);
      expect({ label, code: result.errors?.[0]?.extensions?.code }).toEqual({ label, code });
    }
    // Nothing changed.
    expect(
      (
        await stack.gqlOk(
          OrganizationGroupMappingsDocument,
          { id: linked.organization.id },
          linked.admin.token,
        )
      ).organization.advancedGroupMappings,
    ).toBe(false);
    expect(
      (await stack.gqlOk(OrganizationGroupMappingsDocument, { id: parent.organizationId }, owner))
        .organization.advancedGroupMappings,
    ).toBe(true);
    expect(await rolesBySlug(stack, adminSession)).toEqual({ [slug]: 'ADMIN' });
  });

  it('refuses to lock the admin out, names who would lose access, and lets `force` override', async () => {
    const { admin, organization } = await consoleWithParent('Lock Console');
    const developer = await join(organization.id, 'DEVELOPER', admin);
    const preview = await stack.gqlOk(
      AdvancedGroupMappingsPreviewDocument,
      { organizationId: organization.id },
      admin.token,
    );
    const byEmail = (a: { email: string }, b: { email: string }) => a.email.localeCompare(b.email);
    // Neither has groups known here (no SCIM, no SSO login with groups): with mappings on, both lose access.
    expect([...preview.advancedGroupMappingsPreview.loseAccess].sort(byEmail)).toEqual(
      [
        { userId: admin.userId, email: admin.email, currentRole: 'ADMIN', newRole: null, groupsKnown: false },
        {
          userId: developer.userId,
          email: developer.email,
          currentRole: 'DEVELOPER',
          newRole: null,
          groupsKnown: false,
        },
      ].sort(byEmail),
    );
    expect(preview.advancedGroupMappingsPreview).toMatchObject({
      roleChanges: [],
      actorLosesAdmin: true,
      leavesNoAdmin: true,
    });

    const refused = await enable(organization.id, admin.token);
    expect(refused).toMatchObject({ preview: null, userErrors: [{ code: 'LOCKOUT' }] });
    expect(refused.userErrors[0]!.message).toContain(`anthropic-${organization.slug}-admin`);
    expect(refused.userErrors[0]!.message).toContain(developer.email);
    // Refused means unchanged: still off, both still members.
    expect(
      (await stack.gqlOk(OrganizationDocument, { id: organization.id }, developer.token)).organization
        .viewerRole,
    ).toBe('DEVELOPER');
    expect(
      (await stack.gqlOk(OrganizationGroupMappingsDocument, { id: organization.id }, admin.token))
        .organization.advancedGroupMappings,
    ).toBe(false);
    // Turning off what is off is no lock-out.
    expect(
      (
        await stack.gqlOk(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId: organization.id, input: { enabled: false } },
          admin.token,
        )
      ).advancedGroupMappingsUpdate.userErrors,
    ).toEqual([]);

    // Forced: on at once, with the same impact as previewed; both lose access, the admin included.
    const forced = await enable(organization.id, admin.token, true);
    expect(forced.userErrors).toEqual([]);
    expect(forced.preview).toMatchObject({ actorLosesAdmin: true, leavesNoAdmin: true });
    expect(forced.preview!.loseAccess.map((i) => i.email).sort()).toEqual(
      [admin.email, developer.email].sort(),
    );
    for (const token of [admin.token, developer.token]) {
      const result = await stack.gql(OrganizationDocument, { id: organization.id }, token);
      expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });

  it('refuses when the acting Enterprise owner would lose the owner role, even with the primary owner left', async () => {
    const { parent, tenant, connection, owner, slug } = await ssoParent('coowner-corp.com', 'Coowner Corp');
    // A co-owner who joined by JIT and was promoted in the console, in no IdP group.
    const coOwner = uniqueEmail('co-owner', parent.domain);
    tenant.addUser({ email: coOwner, firstName: 'C', lastName: 'O', groups: [] });
    const session = await ssoSignIn(stack, connection, tenant, coOwner);
    const members = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId, first: 50 },
      owner,
    );
    const coOwnerId = members.members.nodes.find((m) => m.user.email === coOwner)!.user.id;
    await stack.gqlOk(
      MemberRoleUpdateDocument,
      { organizationId: parent.organizationId, userId: coOwnerId, role: 'OWNER' },
      owner,
    );

    const refused = await enable(parent.organizationId, session);
    expect(refused).toMatchObject({ preview: null, userErrors: [{ code: 'LOCKOUT' }] });
    const preview = await stack.gqlOk(
      AdvancedGroupMappingsPreviewDocument,
      { organizationId: parent.organizationId },
      session,
    );
    expect(preview.advancedGroupMappingsPreview).toEqual({
      loseAccess: [
        { userId: coOwnerId, email: coOwner, currentRole: 'OWNER', newRole: null, groupsKnown: true },
      ],
      roleChanges: [],
      actorLosesAdmin: true,
      leavesNoAdmin: false,
    });
    // Only in the admin group: still refused, an Enterprise ADMIN cannot manage mappings (nor undo this).
    tenant.setGroups(coOwner, [`anthropic-${slug}-admin`]);
    const asAdmin = await ssoSignIn(stack, connection, tenant, coOwner);
    const demoted = await enable(parent.organizationId, asAdmin);
    expect(demoted).toMatchObject({ preview: null, userErrors: [{ code: 'LOCKOUT' }] });
    // In the owner group and signed in again (the group is now known): allowed.
    tenant.setGroups(coOwner, [`anthropic-${slug}-owner`]);
    const again = await ssoSignIn(stack, connection, tenant, coOwner);
    const enabled = await enable(parent.organizationId, again);
    expect(enabled).toMatchObject({ userErrors: [], preview: { loseAccess: [], actorLosesAdmin: false } });
    // The primary owner, who is never touched by groups, enabling it never trips the guard.
    expect((await rolesBySlug(stack, owner))[slug]).toBe('PRIMARY_OWNER');
  });

  it('a missing groups attribute (overage) grants and removes nothing; an empty one removes', async () => {
    const { parent, tenant, connection, owner, slug } = await ssoParent('overage-corp.com', 'Overage Corp');
    expect((await enable(parent.organizationId, owner)).userErrors).toEqual([]);
    const kept = uniqueEmail('kept', parent.domain);
    const newcomer = uniqueEmail('newcomer', parent.domain);
    tenant.addUser({ email: kept, firstName: 'K', lastName: 'E', groups: [`anthropic-${slug}-member`] });
    tenant.addUser({ email: newcomer, firstName: 'N', lastName: 'E', groups: [`anthropic-${slug}-admin`] });
    const keptSession = await ssoSignIn(stack, connection, tenant, kept);
    expect(await rolesBySlug(stack, keptSession)).toEqual({ [slug]: 'MEMBER' });

    // The IdP stops sending the attribute (too many groups), while the user left the group there.
    tenant.update({ omitGroups: true });
    tenant.setGroups(kept, []);
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, kept))).toEqual({
      [slug]: 'MEMBER',
    });
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, newcomer))).toEqual({});
    // Role changes do not happen either.
    tenant.setGroups(kept, [`anthropic-${slug}-owner`]);
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, kept))).toEqual({
      [slug]: 'MEMBER',
    });

    // With the attribute back, groups apply again, an empty list included.
    tenant.update({ omitGroups: false });
    tenant.setGroups(kept, []);
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, kept))).toEqual({});
    expect(await rolesBySlug(stack, keptSession)).toEqual({});
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, newcomer))).toEqual({
      [slug]: 'ADMIN',
    });
  });

  it('never reaches an organization of another parent, whatever the groups name', async () => {
    const alpha = await ssoParent('alpha-corp.com', 'Alpha Corp');
    const beta = await ssoParent('beta-corp.com', 'Beta Corp');
    expect((await enable(beta.parent.organizationId, beta.owner)).userErrors).toEqual([]);
    expect((await enable(alpha.parent.organizationId, alpha.owner)).userErrors).toEqual([]);
    const betaGroups = [
      `anthropic-${beta.slug}-owner`,
      `anthropic-${beta.slug}-admin`,
      `anthropic-${beta.slug}-member`,
    ];
    const intruder = uniqueEmail('intruder', alpha.parent.domain);
    alpha.tenant.addUser({
      email: intruder,
      firstName: 'I',
      lastName: 'N',
      groups: [...betaGroups, `anthropic-${alpha.slug}-member`],
    });
    expect(
      await rolesBySlug(stack, await ssoSignIn(stack, alpha.connection, alpha.tenant, intruder)),
    ).toEqual({
      [alpha.slug]: 'MEMBER',
    });
    const betaMembers = await stack.gqlOk(
      MembersDocument,
      { organizationId: beta.parent.organizationId, first: 50 },
      beta.owner,
    );
    expect(betaMembers.members.nodes.map((m) => m.user.email)).toEqual([beta.parent.owner.email]);
    // The dry run answers for the parent's own organizations only.
    const dryRun = await stack.gqlOk(
      GroupMappingsDryRunDocument,
      { parentId: alpha.parent.parentId, input: { groups: betaGroups } },
      alpha.owner,
    );
    expect(dryRun.groupMappingsDryRun).toEqual([
      {
        organization: { id: alpha.parent.organizationId, slug: alpha.slug, kind: 'ENTERPRISE' },
        mapped: true,
        role: null,
      },
    ]);
  });

  it('a SAML claim grants nothing that the SCIM directory of the parent does not back, at login or when mappings are turned on', async () => {
    const { parent, tenant, connection, owner, slug } = await ssoParent('backed-corp.com', 'Backed Corp');
    const member = `anthropic-${slug}-member`;
    const ownerGroup = `anthropic-${slug}-owner`;
    // SAML shares every anthropic- group; SCIM pushes only the member group.
    const created = await stack.gqlOk(
      DirectoryCreateDocument,
      { parentId: parent.parentId, input: { name: 'Okta', provider: 'OKTA' } },
      owner,
    );
    tenant.configureScim({
      baseUrl: created.directoryCreate.directory!.scimBaseUrl,
      token: created.directoryCreate.token!,
      mode: 'okta',
      pushGroupsPrefix: member,
    });
    const pushed = uniqueEmail('pushed', parent.domain);
    tenant.addUser({ email: pushed, firstName: 'P', lastName: 'U', groups: [member, ownerGroup] });
    await tenant.scimIdle();
    expect(tenant.scimErrors()).toEqual([]);
    // A user the directory never heard of, whose SAML claim says owner.
    tenant.setScimAutoPush(false);
    const unknown = uniqueEmail('unknown', parent.domain);
    tenant.addUser({ email: unknown, firstName: 'U', lastName: 'N', groups: [ownerGroup] });
    const unknownSession = await ssoSignIn(stack, connection, tenant, unknown);
    // Mappings are off: both are members by JIT / SCIM with the default role.
    expect(await rolesBySlug(stack, unknownSession)).toEqual({ [slug]: 'MEMBER' });

    // The preview and the switch judge the claim as a login would: backed by the directory, or nothing.
    const preview = await stack.gqlOk(
      AdvancedGroupMappingsPreviewDocument,
      { organizationId: parent.organizationId },
      owner,
    );
    expect(preview.advancedGroupMappingsPreview.roleChanges).toEqual([]);
    expect(preview.advancedGroupMappingsPreview.loseAccess.map((i) => [i.email, i.newRole])).toEqual([
      [unknown, null],
    ]);
    expect((await enable(parent.organizationId, owner)).userErrors).toEqual([]);
    expect(await rolesBySlug(stack, unknownSession)).toEqual({});
    // At login: the directory's member group counts, the owner group it does not know does not.
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, pushed))).toEqual({
      [slug]: 'MEMBER',
    });
    expect(await rolesBySlug(stack, await ssoSignIn(stack, connection, tenant, unknown))).toEqual({});
    const dryRun = await stack.gqlOk(
      GroupMappingsDryRunDocument,
      { parentId: parent.parentId, input: { groups: [member, ownerGroup] } },
      owner,
    );
    // (The dry run asks what names mean, whoever would carry them.)
    expect(dryRun.groupMappingsDryRun.map((r) => r.role)).toEqual(['OWNER']);
  });

  it('answers the dry run per organization of the parent: mapped ones by their groups, the others by JIT', async () => {
    const parent = await capturedParent(stack, 'dryrun-corp.com', 'Dryrun Corp');
    const adminA = await person('admin-a', parent.domain);
    const adminB = await person('admin-b', parent.domain);
    const consoleA = await mergedConsole(parent, adminA, 'Dryrun Alpha');
    const consoleB = await mergedConsole(parent, adminB, 'Dryrun Beta');
    const entSlug = (
      await stack.gqlOk(OrganizationGroupMappingsDocument, { id: parent.organizationId }, parent.owner.token)
    ).organization.slug;
    const groups = [
      `anthropic-${entSlug}-admin`,
      `anthropic-${entSlug}-member`,
      `anthropic-${consoleA.slug}-user`,
      `anthropic-${consoleA.slug}-developer`,
      `ANTHROPIC-${consoleA.slug}-admin`,
      `anthropic-${consoleB.slug}-admin`,
    ];
    const dryRun = async (token: string) => {
      const result = await stack.gqlOk(
        GroupMappingsDryRunDocument,
        { parentId: parent.parentId, input: { groups } },
        token,
      );
      return Object.fromEntries(
        result.groupMappingsDryRun.map((r) => [r.organization.slug, { mapped: r.mapped, role: r.role }]),
      );
    };
    // Nothing mapped yet: JIT decides, with each organization's default role.
    expect(await dryRun(parent.owner.token)).toEqual({
      [entSlug]: { mapped: false, role: 'MEMBER' },
      [consoleA.slug]: { mapped: false, role: 'USER' },
      [consoleB.slug]: { mapped: false, role: 'USER' },
    });
    // The Enterprise and Console A turn mappings on (forced: nobody here has groups yet); Console B turns JIT off.
    expect((await enable(parent.organizationId, parent.owner.token)).userErrors).toEqual([]);
    expect((await enable(consoleA.id, adminA.token, true)).userErrors).toEqual([]);
    await stack.gqlOk(
      OrganizationJitUpdateDocument,
      { id: consoleB.id, input: { enabled: false } },
      adminB.token,
    );
    // Any identity admin of the parent may ask: here Console B's admin.
    expect(await dryRun(adminB.token)).toEqual({
      [entSlug]: { mapped: true, role: 'ADMIN' },
      [consoleA.slug]: { mapped: true, role: 'DEVELOPER' },
      [consoleB.slug]: { mapped: false, role: null },
    });
    // The forced switch took Console A's admin out (no groups): they no longer answer for the parent.
    const gone = await stack.gql(
      GroupMappingsDryRunDocument,
      { parentId: parent.parentId, input: { groups } },
      adminA.token,
    );
    expect(gone.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('maps the groups of a directory user whose account is made after the groups were pushed', async () => {
    const { parent, memberGroup, scim } = await withDirectory('latelink-corp.com', 'Latelink Corp');
    // The address is on a domain the parent has not captured yet: the directory user gets no account.
    const email = uniqueEmail('late', 'later-corp.com');
    const user = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: email,
      emails: [{ value: email, primary: true }],
      name: { givenName: 'Late', familyName: 'Link' },
      active: true,
    });
    expect(user.status).toBe(201);
    const group = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: memberGroup,
      members: [{ value: user.body.id }],
    });
    expect(group.status).toBe(201);
    expect((await enable(parent.organizationId, parent.owner.token, true)).userErrors).toEqual([]);
    const added = (
      await stack.gqlOk(
        DomainAddDocument,
        { parentId: parent.parentId, input: { name: 'later-corp.com' } },
        parent.owner.token,
      )
    ).domainAdd.domain!;
    stack.dns.setTxt(added.verificationRecord.name, [added.verificationRecord.value]);
    await stack.gqlOk(DomainRefreshDocument, { id: added.id }, parent.owner.token);
    // The next change the IdP pushes makes the account, and its groups apply in the same request.
    const patched = await scim('PATCH', `/Users/${user.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'name.givenName', value: 'Later' }],
    });
    expect(patched.status).toBe(200);
    const members = (
      await stack.gqlOk(MembersDocument, { organizationId: parent.organizationId }, parent.owner.token)
    ).members.nodes;
    expect(members.find((m) => m.user.email === email)?.role).toBe('MEMBER');
  });

  it('applies a group pushed with its members at once where an organization maps groups', async () => {
    const { parent, memberGroup, scim } = await withDirectory('postgroup-corp.com', 'Postgroup Corp');
    expect((await enable(parent.organizationId, parent.owner.token, true)).userErrors).toEqual([]);
    const email = uniqueEmail('grouped', 'postgroup-corp.com');
    const user = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: email,
      emails: [{ value: email, primary: true }],
      active: true,
    });
    expect(user.status).toBe(201);
    const roleOf = async () =>
      (
        await stack.gqlOk(MembersDocument, { organizationId: parent.organizationId }, parent.owner.token)
      ).members.nodes.find((m) => m.user.email === email)?.role;
    // Mappings on: the account gets nothing by JIT, only by its groups.
    expect(await roleOf()).toBeUndefined();
    const group = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: memberGroup,
      members: [{ value: user.body.id }],
    });
    expect(group.status).toBe(201);
    expect(await roleOf()).toBe('MEMBER');
  });

  it('accepts a SCIM DELETE that carries a JSON Content-Type and no body, as Okta sends it', async () => {
    const { parentId, admin } = await consoleWithParent('Delete Console');
    const created = await stack.gqlOk(
      DirectoryCreateDocument,
      { parentId, input: { name: 'Okta', provider: 'OKTA' } },
      admin.token,
    );
    const base = created.directoryCreate.directory!.scimBaseUrl;
    const token = created.directoryCreate.token!;
    const scim = scimClient(base, token);
    const group = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'anthropic-delete-console-user',
      members: [],
    });
    expect(group.status).toBe(201);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' };
    const deleted = await fetch(`${base}/Groups/${group.body.id}`, { method: 'DELETE', headers });
    expect(deleted.status).toBe(204);
    // An empty body is still no resource where one is needed.
    const empty = await fetch(`${base}/Groups`, { method: 'POST', headers, body: '' });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { scimType?: string }).scimType).toBe('invalidSyntax');
  });
});
