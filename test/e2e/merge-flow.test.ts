// The guide's "Understanding Parent Organizations" path: an Enterprise organization (with its parent)
// and an API Console organization exist; the account manager proposes the merge; one approver of each
// side reads the mail, follows the link (which only shows the proposal) and approves as themselves;
// the console organization then shares the Enterprise parent and reaches its identity settings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  AuditEventsDocument,
  IdentitySettingsDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  MergeProposalDocument,
  OrganizationCreateDocument,
  OrganizationWithParentDocument,
} from '../generated/graphql.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('merging an API Console organization into an Enterprise parent', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('completes after one approval from each side, by e-mail', async () => {
    const ownerEmail = uniqueEmail('enterprise-owner');
    const owner = await stack.signIn(ownerEmail);
    const enterprise = (
      await stack.gqlOk(
        OrganizationCreateDocument,
        { input: { name: 'Acme Enterprise', kind: 'ENTERPRISE' } },
        owner.token,
      )
    ).organizationCreate.organization!;
    const enterpriseView = await stack.gqlOk(
      OrganizationWithParentDocument,
      { id: enterprise.id },
      owner.token,
    );
    const enterpriseParent = enterpriseView.organization.parentOrganization!;

    const adminEmail = uniqueEmail('console-admin');
    const admin = await stack.signIn(adminEmail);
    const consoleOrg = (
      await stack.gqlOk(
        OrganizationCreateDocument,
        { input: { name: 'Acme Console', kind: 'API_CONSOLE' } },
        admin.token,
      )
    ).organizationCreate.organization!;

    // Before the merge the identity settings page is not there, and the guide's routes to it are named.
    const before = await stack.gqlOk(
      IdentitySettingsDocument,
      { organizationId: consoleOrg.id },
      admin.token,
    );
    expect(before.identitySettings).toMatchObject({
      available: false,
      reason: 'NO_PARENT_ORGANIZATION',
      routes: ['CONTACT_SALES'],
    });

    const manager = await stack.signInStaff(
      uniqueEmail('account-manager', 'vendor.example'),
      StaffRole.ACCOUNT_MANAGER,
    );
    const created = await stack.gqlOk(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: consoleOrg.id, targetParentId: enterpriseParent.id } },
      manager.token,
    );
    expect(created.mergeProposalCreate.userErrors).toEqual([]);
    const proposalId = created.mergeProposalCreate.proposal!.id;

    const linkFor = async (email: string) => {
      const [mail] = await stack.mail.waitFor(
        { to: email, subject: 'Approve linking' },
        { timeoutMs: 10_000 },
      );
      return mail!.links.find((l) => l.includes('/merge-proposals/review'))!;
    };
    const adminLink = await linkFor(adminEmail);
    const ownerLink = await linkFor(ownerEmail);

    // Following the link shows the proposal and changes nothing (mail scanners follow links too).
    const shown = await fetch(adminLink);
    expect(shown.status).toBe(200);
    const html = await shown.text();
    expect(html).toContain('Link Acme Console to Acme Enterprise?');
    expect(html).toContain(`Sign in as ${adminEmail}`);
    expect(
      (await stack.gqlOk(MergeProposalDocument, { id: proposalId }, manager.token)).mergeProposal,
    ).toMatchObject({
      status: 'PENDING',
      incomingApprovedAt: null,
      targetApprovedAt: null,
    });

    // The console admin approves, signed in, from the page the link opened.
    const signedInPage = await fetch(adminLink, { headers: { cookie: `ci_session=${admin.token}` } });
    expect(await signedInPage.text()).toContain('<form method="post" action="/merge-proposals/approve">');
    const approved = await fetch(`${stack.url}/merge-proposals/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `ci_session=${admin.token}` },
      body: new URLSearchParams({ token: new URL(adminLink).searchParams.get('token')! }).toString(),
    });
    expect(approved.status).toBe(200);
    expect(await approved.text()).toContain('The proposal is now pending.');

    // The Enterprise owner approves through the API.
    const second = await stack.gqlOk(
      MergeProposalApproveDocument,
      { input: { token: new URL(ownerLink).searchParams.get('token')! } },
      owner.token,
    );
    expect(second.mergeProposalApprove.proposal?.status).toBe('COMPLETED');

    const after = await stack.gqlOk(OrganizationWithParentDocument, { id: consoleOrg.id }, admin.token);
    expect(after.organization.parentOrganization?.id).toBe(enterpriseParent.id);
    const settings = await stack.gqlOk(
      IdentitySettingsDocument,
      { organizationId: consoleOrg.id },
      admin.token,
    );
    expect(settings.identitySettings).toMatchObject({
      available: true,
      reason: null,
      parentOrganization: { id: enterpriseParent.id },
    });
    // The parent now lists both organizations to its identity admins.
    const parentView = await stack.gqlOk(OrganizationWithParentDocument, { id: enterprise.id }, owner.token);
    expect(parentView.organization.parentOrganization!.organizations.nodes.map((o) => o.id).sort()).toEqual(
      [enterprise.id, consoleOrg.id].sort(),
    );

    for (const [organizationId, token] of [
      [consoleOrg.id, admin.token],
      [enterprise.id, owner.token],
    ] as const) {
      const audit = await stack.gqlOk(AuditEventsDocument, { organizationId, first: 50 }, token);
      const actions = audit.auditEvents.nodes.map((e) => e.action);
      expect(actions).toEqual(
        expect.arrayContaining([
          'merge_proposal.created',
          'merge_proposal.approved',
          'merge_proposal.completed',
        ]),
      );
      expect(actions.filter((a) => a === 'merge_proposal.approved')).toHaveLength(2);
    }
    const consoleAudit = await stack.gqlOk(
      AuditEventsDocument,
      { organizationId: consoleOrg.id, first: 50 },
      admin.token,
    );
    expect(
      consoleAudit.auditEvents.nodes.find((e) => e.action === 'organization.parent_linked'),
    ).toMatchObject({
      before: { parentOrganizationId: null },
      after: { parentOrganizationId: enterpriseParent.id, via: 'merge_proposal', proposalId },
    });

    const completion = await stack.mail.waitFor(
      { subject: 'is now linked to' },
      { timeoutMs: 10_000, count: 2 },
    );
    expect(completion.flatMap((m) => m.to).sort()).toEqual([adminEmail, ownerEmail].sort());
  });
});
