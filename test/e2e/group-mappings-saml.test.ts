// The guide's "Advanced Group Mappings" with Okta, SAML part: a "Group Attribute Statement" shares every
// group prefixed with "anthropic-" at login; members are assigned to the groups before the mappings are
// turned on (turning them on first is refused: lock-out); the groups then decide which organizations of the
// parent each user reaches and with which role, and a move between groups in the IdP changes the role at
// the user's next login, which every open session of theirs sees at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdpTenant } from '../../simulators/idp/index.js';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  AdvancedGroupMappingsPreviewDocument,
  AdvancedGroupMappingsUpdateDocument,
  AuditEventsDocument,
  MembersDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  OrganizationCreateDocument,
  OrganizationDocument,
  OrganizationGroupMappingsDocument,
  type SsoConnectionFieldsFragment,
} from '../generated/graphql.js';
import {
  browserFor,
  type CapturedParent,
  capturedParent,
  samlConnection,
  rolesBySlug,
  testAndActivate,
} from '../support/identity.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

type Person = { email: string; token: string; userId: string };

/** The values of the groups attribute in a SAML response, or null when the attribute is absent. */
function groupsAttribute(samlResponse: string): string[] | null {
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  const attribute =
    /<(?:\w+:)?Attribute\b[^>]*\bName="groups"[^>]*?(?:\/>|>([\s\S]*?)<\/(?:\w+:)?Attribute>)/.exec(xml);
  if (!attribute) return null;
  return [
    ...(attribute[1] ?? '').matchAll(
      /<(?:\w+:)?AttributeValue\b[^>]*>([\s\S]*?)<\/(?:\w+:)?AttributeValue>/g,
    ),
  ].map((m) =>
    m[1]!
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&'),
  );
}

describe('Advanced Group Mappings over SAML (Okta)', () => {
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

  /** An SP-initiated SAML login; returns the new session and the groups the IdP shared in it. */
  async function ssoLogin(connection: SsoConnectionFieldsFragment, tenant: IdpTenant, email: string) {
    tenant.setLoginAs(email);
    const browser = browserFor(stack);
    const start = await browser.get(connection.loginUrl);
    expect(start.status).toBe(302);
    const post = await stack.idp.followSamlRedirect(start.headers.get('location')!);
    const fields: Record<string, string> = { SAMLResponse: post.SAMLResponse };
    if (post.RelayState !== undefined) fields.RelayState = post.RelayState;
    const acs = await browser.postForm(post.acsUrl, fields);
    expect(acs.headers.get('location')).toBe('/');
    return { session: browser.cookie('ci_session')!, groupsSent: groupsAttribute(post.SAMLResponse) };
  }

  async function names(organizationId: string, token: string): Promise<Record<string, string>> {
    const { organization } = await stack.gqlOk(
      OrganizationGroupMappingsDocument,
      { id: organizationId },
      token,
    );
    return Object.fromEntries(organization.groupMappingNames.map((n) => [n.role, n.groupName]));
  }

  it('shares anthropic- groups at login: they decide organizations and roles, and a move in the IdP applies at the next login', async () => {
    const parent = await capturedParent(stack, 'okta-saml.com', 'Okta Saml');
    const { admin, organizationId: consoleId } = await mergedConsole(parent, 'Okta Saml Console');

    // The names to create in the IdP, one per role: `anthropic-<organization slug>-<role>`.
    const enterprise = await stack.gqlOk(
      OrganizationGroupMappingsDocument,
      { id: parent.organizationId },
      parent.owner.token,
    );
    const consoleView = await stack.gqlOk(OrganizationGroupMappingsDocument, { id: consoleId }, admin.token);
    const entSlug = enterprise.organization.slug;
    const conSlug = consoleView.organization.slug;
    expect(enterprise.organization.groupMappingNames).toEqual([
      { role: 'OWNER', groupName: `anthropic-${entSlug}-owner` },
      { role: 'ADMIN', groupName: `anthropic-${entSlug}-admin` },
      { role: 'MEMBER', groupName: `anthropic-${entSlug}-member` },
    ]);
    expect(consoleView.organization.groupMappingNames).toEqual([
      { role: 'ADMIN', groupName: `anthropic-${conSlug}-admin` },
      { role: 'DEVELOPER', groupName: `anthropic-${conSlug}-developer` },
      { role: 'BILLING', groupName: `anthropic-${conSlug}-billing` },
      { role: 'USER', groupName: `anthropic-${conSlug}-user` },
    ]);
    expect(consoleView.organization.advancedGroupMappings).toBe(false);
    const ent = await names(parent.organizationId, parent.owner.token);
    const con = await names(consoleId, admin.token);

    // Okta: the users, their groups, and a SAML app whose group attribute statement shares "anthropic-*".
    const tenant = await stack.idp.createTenant({ preset: 'okta', groupPrefix: 'anthropic-' });
    const alice = uniqueEmail('alice', parent.domain);
    const bob = uniqueEmail('bob', parent.domain);
    const carol = uniqueEmail('carol', parent.domain);
    tenant.addUser({ email: parent.owner.email, firstName: 'Olga', lastName: 'Owner', groups: [] });
    tenant.addUser({ email: admin.email, firstName: 'Ada', lastName: 'Admin', groups: ['engineering'] });
    tenant.addUser({
      email: alice,
      firstName: 'Alice',
      lastName: 'A',
      groups: [ent.MEMBER!, con.DEVELOPER!, 'engineering'],
    });
    tenant.addUser({ email: bob, firstName: 'Bob', lastName: 'B', groups: [con.BILLING!] });
    tenant.addUser({ email: carol, firstName: 'Carol', lastName: 'C', groups: [ent.MEMBER!, ent.ADMIN!] });
    const connection = await samlConnection(stack, parent, tenant);
    await testAndActivate(stack, parent, connection.id, tenant);
    const owner = await ssoLogin(connection, tenant, parent.owner.email);

    // The Enterprise turns mappings on first: its primary owner is never affected by groups.
    const entOn = await stack.gqlOk(
      AdvancedGroupMappingsUpdateDocument,
      { organizationId: parent.organizationId, input: { enabled: true } },
      owner.session,
    );
    expect(entOn.advancedGroupMappingsUpdate).toEqual({
      preview: { loseAccess: [], roleChanges: [], actorLosesAdmin: false, leavesNoAdmin: false },
      userErrors: [],
    });

    // The Console admin signs in through SSO; Okta shares no anthropic- group of theirs yet (an empty
    // attribute: the group attribute statement is there, nothing matches it).
    const adminLogin = await ssoLogin(connection, tenant, admin.email);
    expect(adminLogin.groupsSent).toEqual([]);
    expect(await rolesBySlug(stack, adminLogin.session)).toEqual({ [conSlug]: 'ADMIN' });

    // Turning mappings on now would lock the admin out: refused, naming who loses access and the group to use.
    const preview = await stack.gqlOk(
      AdvancedGroupMappingsPreviewDocument,
      { organizationId: consoleId },
      adminLogin.session,
    );
    // (The Enterprise owner's SSO login had joined the Console organization by JIT, as its default role.)
    const byEmail = (a: { email: string }, b: { email: string }) => a.email.localeCompare(b.email);
    expect({
      ...preview.advancedGroupMappingsPreview,
      loseAccess: [...preview.advancedGroupMappingsPreview.loseAccess].sort(byEmail),
    }).toEqual({
      loseAccess: [
        { userId: admin.userId, email: admin.email, currentRole: 'ADMIN', newRole: null, groupsKnown: true },
        {
          userId: parent.owner.userId,
          email: parent.owner.email,
          currentRole: 'USER',
          newRole: null,
          groupsKnown: true,
        },
      ].sort(byEmail),
      roleChanges: [],
      actorLosesAdmin: true,
      leavesNoAdmin: true,
    });
    const refused = await stack.gqlOk(
      AdvancedGroupMappingsUpdateDocument,
      { organizationId: consoleId, input: { enabled: true } },
      adminLogin.session,
    );
    expect(refused.advancedGroupMappingsUpdate.preview).toBeNull();
    expect(refused.advancedGroupMappingsUpdate.userErrors).toMatchObject([{ code: 'LOCKOUT' }]);
    expect(refused.advancedGroupMappingsUpdate.userErrors[0]!.message).toContain(con.ADMIN!);
    expect(refused.advancedGroupMappingsUpdate.userErrors[0]!.message).toContain(admin.email);
    expect(
      (await stack.gqlOk(OrganizationGroupMappingsDocument, { id: consoleId }, adminLogin.session))
        .organization,
    ).toMatchObject({ advancedGroupMappings: false, viewerRole: 'ADMIN' });

    // "Assign members to relevant groups in Okta before turning on Advanced Group Mapping". With SAML only,
    // the group is known here once the admin signs in again.
    tenant.setGroups(admin.email, ['engineering', con.ADMIN!]);
    expect(
      (
        await stack.gqlOk(
          AdvancedGroupMappingsPreviewDocument,
          { organizationId: consoleId },
          adminLogin.session,
        )
      ).advancedGroupMappingsPreview.actorLosesAdmin,
    ).toBe(true);
    const adminAgain = await ssoLogin(connection, tenant, admin.email);
    expect(adminAgain.groupsSent).toEqual([con.ADMIN]);
    const conOn = await stack.gqlOk(
      AdvancedGroupMappingsUpdateDocument,
      { organizationId: consoleId, input: { enabled: true } },
      adminAgain.session,
    );
    expect(conOn.advancedGroupMappingsUpdate).toEqual({
      preview: {
        loseAccess: [
          {
            userId: parent.owner.userId,
            email: parent.owner.email,
            currentRole: 'USER',
            newRole: null,
            groupsKnown: true,
          },
        ],
        roleChanges: [],
        actorLosesAdmin: false,
        leavesNoAdmin: false,
      },
      userErrors: [],
    });
    // Applied at once: the owner, in no Console group, keeps the Enterprise alone.
    expect(await rolesBySlug(stack, owner.session)).toEqual({ [entSlug]: 'PRIMARY_OWNER' });
    expect(
      (await stack.gqlOk(OrganizationGroupMappingsDocument, { id: consoleId }, adminAgain.session))
        .organization,
    ).toMatchObject({ advancedGroupMappings: true, viewerRole: 'ADMIN' });

    // Each user gets exactly the organizations and roles their groups name; only anthropic- groups travel.
    const aliceLogin = await ssoLogin(connection, tenant, alice);
    expect(aliceLogin.groupsSent).toEqual([ent.MEMBER, con.DEVELOPER]);
    expect(await rolesBySlug(stack, aliceLogin.session)).toEqual({
      [entSlug]: 'MEMBER',
      [conSlug]: 'DEVELOPER',
    });
    const bobLogin = await ssoLogin(connection, tenant, bob);
    expect(await rolesBySlug(stack, bobLogin.session)).toEqual({ [conSlug]: 'BILLING' });
    // Several groups: the most privileged role wins.
    const carolLogin = await ssoLogin(connection, tenant, carol);
    expect(await rolesBySlug(stack, carolLogin.session)).toEqual({ [entSlug]: 'ADMIN' });
    const members = await stack.gqlOk(
      MembersDocument,
      { organizationId: consoleId, first: 50 },
      adminAgain.session,
    );
    expect(
      members.members.nodes
        .map((m) => [m.user.email, m.role, m.source])
        .sort((a, b) => a[0]!.localeCompare(b[0]!)),
    ).toEqual(
      [
        // Unchanged by the groups (the role they give is the one held), so still the creator's membership.
        [admin.email, 'ADMIN', 'CREATOR'],
        [alice, 'DEVELOPER', 'GROUP_MAPPING'],
        [bob, 'BILLING', 'GROUP_MAPPING'],
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );

    // Alice moves from the Enterprise member and Console developer groups to the Console admin group. With
    // SAML alone, nothing changes until she signs in again...
    tenant.setGroups(alice, [con.ADMIN!, 'engineering']);
    expect(await rolesBySlug(stack, aliceLogin.session)).toEqual({
      [entSlug]: 'MEMBER',
      [conSlug]: 'DEVELOPER',
    });
    // ...and then the session she already had open sees the new roles on its very next query.
    const aliceAgain = await ssoLogin(connection, tenant, alice);
    expect(aliceAgain.groupsSent).toEqual([con.ADMIN]);
    const openConsole = await stack.gqlOk(OrganizationDocument, { id: consoleId }, aliceLogin.session);
    expect(openConsole.organization.viewerRole).toBe('ADMIN');
    const openEnterprise = await stack.gql(
      OrganizationDocument,
      { id: parent.organizationId },
      aliceLogin.session,
    );
    expect(openEnterprise.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await rolesBySlug(stack, aliceLogin.session)).toEqual({ [conSlug]: 'ADMIN' });

    // Bob leaves every anthropic- group: his next login shares an empty list, and the Console access ends.
    tenant.setGroups(bob, ['engineering']);
    const bobAgain = await ssoLogin(connection, tenant, bob);
    expect(bobAgain.groupsSent).toEqual([]);
    expect(await rolesBySlug(stack, bobAgain.session)).toEqual({});
    expect(
      (await stack.gql(OrganizationDocument, { id: consoleId }, bobLogin.session)).errors?.[0]?.extensions
        ?.code,
    ).toBe('FORBIDDEN');

    // Every change is in the audit log, with the IdP's login as its cause.
    const audit = await stack.gqlOk(
      AuditEventsDocument,
      { organizationId: consoleId, first: 100 },
      aliceAgain.session,
    );
    const actions = audit.auditEvents.nodes.map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'organization.group_mappings_enabled',
        'member.group_access_granted',
        'member.group_role_changed',
        'member.group_access_removed',
      ]),
    );
    expect(
      audit.auditEvents.nodes.find((e) => e.action === 'organization.group_mappings_enabled'),
    ).toMatchObject({
      actorEmail: admin.email,
      after: { advancedGroupMappings: true, forced: false },
    });
  });
});
