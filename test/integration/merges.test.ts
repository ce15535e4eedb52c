// Merge proposals: every refusal the guide's approval rules imply, each with its code and no change;
// concurrency of the last approvals; expiry by the background job; the live subscription.
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { MERGE_EXPIRY_QUEUE } from '../../src/app.js';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  AuditEventsDocument,
  MemberRemoveDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  MergeProposalDeclineDocument,
  MergeProposalDocument,
  MergeProposalReviewDocument,
  MergeProposalsDocument,
  MergeProposalUpdatedDocument,
  type MergeProposalUpdatedSubscription,
  OrganizationWithParentDocument,
  ParentOrganizationDocument,
  ParentOrganizationRequestApproveDocument,
  ParentOrganizationRequestDocument,
} from '../generated/graphql.js';
import {
  createOrg as newOrg,
  join as joinOrg,
  mergeLinkToken,
  type OrganizationKindName,
  person as newPerson,
  type RoleName,
} from '../support/orgs.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('merge proposals', () => {
  const clock = new ManualClock(new Date());
  let stack: Stack;
  let manager: { token: string };
  let sales: { token: string };

  const person = (prefix: string) => newPerson(stack, prefix);
  const createOrg = (token: string, kind: OrganizationKindName, name: string) =>
    newOrg(stack, token, kind, name);
  const join = (organizationId: string, role: RoleName, by: { token: string }) =>
    joinOrg(stack, organizationId, role, by);
  const linkToken = (email: string) => mergeLinkToken(stack, email);

  /** An Enterprise organization (owner) and a Console organization (admin), and a proposal to merge them. */
  async function proposal(name: string) {
    const owner = await person('owner');
    const enterprise = await createOrg(owner.token, 'ENTERPRISE', `${name} Enterprise`);
    const parentId = (await stack.gqlOk(OrganizationWithParentDocument, { id: enterprise.id }, owner.token))
      .organization.parentOrganization!.id;
    const admin = await person('admin');
    const consoleOrg = await createOrg(admin.token, 'API_CONSOLE', `${name} Console`);
    return { owner, enterprise, parentId, admin, consoleOrg };
  }

  async function propose(consoleOrgId: string, parentId: string) {
    const created = await stack.gqlOk(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: consoleOrgId, targetParentId: parentId } },
      manager.token,
    );
    return created.mergeProposalCreate;
  }

  const approve = (token: string, session: string) =>
    stack.gqlOk(MergeProposalApproveDocument, { input: { token } }, session);

  beforeAll(async () => {
    stack = await startStack({ clock });
    manager = await stack.signInStaff(uniqueEmail('am', 'vendor.example'), StaffRole.ACCOUNT_MANAGER);
    sales = await stack.signInStaff(uniqueEmail('sales', 'vendor.example'), StaffRole.SALES);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('lets only ACCOUNT_MANAGER staff propose, and reads unknown ids as not found', async () => {
    const { admin, consoleOrg, parentId } = await proposal('Who');
    for (const token of [admin.token, sales.token]) {
      const refused = await stack.gql(
        MergeProposalCreateDocument,
        { input: { incomingOrganizationId: consoleOrg.id, targetParentId: parentId } },
        token,
      );
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const missing = await stack.gql(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: '0190a0a0-0000-7000-8000-000000000000', targetParentId: parentId } },
      manager.token,
    );
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(
      (await stack.gqlOk(MergeProposalsDocument, {}, manager.token)).mergeProposals.nodes.map(
        (p) => p.incomingOrganization.slug,
      ),
    ).not.toContain('who-console');
  });

  it('refuses a duplicate pending proposal, an organization already linked, and a parent without Enterprise owners', async () => {
    const { consoleOrg, parentId, enterprise } = await proposal('Dup');
    expect((await propose(consoleOrg.id, parentId)).userErrors).toEqual([]);
    expect((await propose(consoleOrg.id, parentId)).userErrors[0]?.code).toBe('PROPOSAL_PENDING');
    expect((await propose(enterprise.id, parentId)).userErrors[0]?.code).toBe('ALREADY_LINKED');

    const admin = await person('lonely');
    const lonely = await createOrg(admin.token, 'API_CONSOLE', 'Lonely Console');
    const request = await stack.gqlOk(
      ParentOrganizationRequestDocument,
      { organizationId: lonely.id },
      admin.token,
    );
    const approved = await stack.gqlOk(
      ParentOrganizationRequestApproveDocument,
      { id: request.parentOrganizationRequest.request!.id },
      sales.token,
    );
    const consoleParent = approved.parentOrganizationRequestApprove.request!.parentOrganizationId!;
    const other = await createOrg(admin.token, 'API_CONSOLE', 'Other Console');
    const noOwners = await propose(other.id, consoleParent);
    expect(noOwners).toMatchObject({ proposal: null, userErrors: [{ code: 'NO_APPROVERS' }] });
  });

  it('refuses the wrong side, a second approval of one side, a used token, and a removed approver', async () => {
    const { owner, enterprise, parentId, admin, consoleOrg } = await proposal('Rules');
    const secondAdmin = await join(consoleOrg.id, 'ADMIN', admin);
    const coOwner = await join(enterprise.id, 'OWNER', owner);
    const created = await propose(consoleOrg.id, parentId);
    const proposalId = created.proposal!.id;
    const [adminToken, secondAdminToken, ownerToken, coOwnerToken] = await Promise.all(
      [admin.email, secondAdmin.email, owner.email, coOwner.email].map(linkToken),
    );

    // The link names its approver: another signed-in user (here of the other side) cannot use it.
    const wrongSide = await approve(ownerToken!, admin.token);
    expect(wrongSide.mergeProposalApprove).toMatchObject({
      proposal: null,
      userErrors: [{ code: 'NOT_THE_APPROVER' }],
    });
    const anonymous = await stack.gql(MergeProposalApproveDocument, { input: { token: adminToken! } });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    expect((await approve(adminToken!, admin.token)).mergeProposalApprove.proposal?.status).toBe('PENDING');
    expect((await approve(adminToken!, admin.token)).mergeProposalApprove.userErrors[0]?.code).toBe(
      'TOKEN_USED',
    );
    expect(
      (await approve(secondAdminToken!, secondAdmin.token)).mergeProposalApprove.userErrors[0]?.code,
    ).toBe('SIDE_ALREADY_APPROVED');

    await stack.gqlOk(
      MemberRemoveDocument,
      { organizationId: enterprise.id, userId: coOwner.userId },
      owner.token,
    );
    expect((await approve(coOwnerToken!, coOwner.token)).mergeProposalApprove.userErrors[0]?.code).toBe(
      'APPROVER_REMOVED',
    );

    const state = await stack.gqlOk(MergeProposalDocument, { id: proposalId }, manager.token);
    expect(state.mergeProposal).toMatchObject({ status: 'PENDING', targetApprovedAt: null });
    expect(
      (await stack.gqlOk(OrganizationWithParentDocument, { id: consoleOrg.id }, admin.token)).organization
        .parentOrganization,
    ).toBeNull();
  });

  it('refuses a forged token, and an HTML approval without a session', async () => {
    const forged = await approve('forged-token', manager.token);
    expect(forged.mergeProposalApprove.userErrors[0]?.code).toBe('TOKEN_INVALID');
    const review = await stack.gql(MergeProposalReviewDocument, { token: 'forged-token' });
    expect(review.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const { admin, consoleOrg, parentId } = await proposal('Html');
    await propose(consoleOrg.id, parentId);
    const token = await linkToken(admin.email);
    const viaForm = await fetch(`${stack.url}/merge-proposals/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(viaForm.status).toBe(401);
    const reviewed = await stack.gqlOk(MergeProposalReviewDocument, { token });
    expect(reviewed.mergeProposalReview).toMatchObject({
      side: 'INCOMING',
      approverEmail: admin.email,
      proposal: { status: 'PENDING' },
    });
  });

  it('lets either side decline for good; a declined proposal cannot be approved', async () => {
    const { owner, admin, consoleOrg, parentId } = await proposal('Decline');
    await propose(consoleOrg.id, parentId);
    const [adminToken, ownerToken] = await Promise.all([linkToken(admin.email), linkToken(owner.email)]);
    const declined = await stack.gqlOk(
      MergeProposalDeclineDocument,
      { input: { token: ownerToken } },
      owner.token,
    );
    expect(declined.mergeProposalDecline.proposal?.status).toBe('REJECTED');
    expect((await approve(adminToken, admin.token)).mergeProposalApprove.userErrors[0]?.code).toBe(
      'PROPOSAL_NOT_PENDING',
    );
    // A new proposal can be made once the old one is no longer pending.
    expect((await propose(consoleOrg.id, parentId)).userErrors).toEqual([]);
  });

  it('cannot complete when the incoming organization changed parent since the proposal was sent', async () => {
    const { owner, admin, consoleOrg, parentId } = await proposal('Stale');
    await propose(consoleOrg.id, parentId);
    const [adminToken, ownerToken] = await Promise.all([linkToken(admin.email), linkToken(owner.email)]);
    await approve(ownerToken, owner.token);
    const request = await stack.gqlOk(
      ParentOrganizationRequestDocument,
      { organizationId: consoleOrg.id },
      admin.token,
    );
    await stack.gqlOk(
      ParentOrganizationRequestApproveDocument,
      { id: request.parentOrganizationRequest.request!.id },
      sales.token,
    );
    const stale = await approve(adminToken, admin.token);
    expect(stale.mergeProposalApprove.userErrors[0]?.code).toBe('PROPOSAL_STALE');
    const parent = (await stack.gqlOk(OrganizationWithParentDocument, { id: consoleOrg.id }, admin.token))
      .organization.parentOrganization;
    expect(parent?.id).not.toBe(parentId);
  });

  it('completes exactly once when two approvals of the last side arrive at once', async () => {
    const { owner, admin, consoleOrg, parentId, enterprise } = await proposal('Race');
    const secondAdmin = await join(consoleOrg.id, 'ADMIN', admin);
    await propose(consoleOrg.id, parentId);
    const [ownerToken, adminToken, secondToken] = await Promise.all(
      [owner.email, admin.email, secondAdmin.email].map(linkToken),
    );
    await approve(ownerToken!, owner.token);
    const results = await Promise.all([
      approve(adminToken!, admin.token),
      approve(secondToken!, secondAdmin.token),
    ]);
    const outcomes = results
      .map((r) => r.mergeProposalApprove.proposal?.status ?? r.mergeProposalApprove.userErrors[0]?.code)
      .sort();
    // The loser waited on the proposal's row lock and then found it completed.
    expect(outcomes).toEqual(['COMPLETED', 'PROPOSAL_NOT_PENDING']);
    for (const [organizationId, token] of [
      [consoleOrg.id, admin.token],
      [enterprise.id, owner.token],
    ] as const) {
      const audit = await stack.gqlOk(AuditEventsDocument, { organizationId, first: 100 }, token);
      expect(audit.auditEvents.nodes.filter((e) => e.action === 'merge_proposal.completed')).toHaveLength(1);
    }
    const consoleAudit = await stack.gqlOk(
      AuditEventsDocument,
      { organizationId: consoleOrg.id, first: 100 },
      admin.token,
    );
    expect(
      consoleAudit.auditEvents.nodes.filter((e) => e.action === 'organization.parent_linked'),
    ).toHaveLength(1);

    // After the merge, the parent shows identity admins both organizations and plain members only theirs.
    const member = await join(enterprise.id, 'MEMBER', owner);
    const asOwner = await stack.gqlOk(ParentOrganizationDocument, { id: parentId }, owner.token);
    expect(asOwner.parentOrganization.organizations.nodes.map((o) => o.id).sort()).toEqual(
      [enterprise.id, consoleOrg.id].sort(),
    );
    const asMember = await stack.gqlOk(ParentOrganizationDocument, { id: parentId }, member.token);
    expect(asMember.parentOrganization.organizations.nodes.map((o) => o.id)).toEqual([enterprise.id]);
  });

  it('expires after 72 hours: refused at once, then marked EXPIRED by the background job', async () => {
    const { owner, admin, consoleOrg, parentId } = await proposal('Expiry');
    const proposalId = (await propose(consoleOrg.id, parentId)).proposal!.id;
    const [adminToken, ownerToken] = await Promise.all([linkToken(admin.email), linkToken(owner.email)]);
    await approve(ownerToken, owner.token);
    clock.advance(72 * 3600 * 1000 + 1000);
    expect((await approve(adminToken, admin.token)).mergeProposalApprove.userErrors[0]?.code).toBe(
      'PROPOSAL_EXPIRED',
    );
    await stack.app.jobs.trigger(MERGE_EXPIRY_QUEUE);
    await expect
      .poll(
        async () =>
          (await stack.gqlOk(MergeProposalDocument, { id: proposalId }, manager.token)).mergeProposal.status,
        { timeout: 10_000 },
      )
      .toBe('EXPIRED');
    expect((await approve(adminToken, admin.token)).mergeProposalApprove.userErrors[0]?.code).toBe(
      'PROPOSAL_NOT_PENDING',
    );
    const audit = await stack.gqlOk(
      AuditEventsDocument,
      { organizationId: consoleOrg.id, first: 50 },
      admin.token,
    );
    expect(audit.auditEvents.nodes[0]).toMatchObject({
      action: 'merge_proposal.expired',
      actorType: 'SYSTEM',
    });
  });

  it('streams approvals and the outcome to the people involved, and hides the proposal from others', async () => {
    const { owner, admin, consoleOrg, parentId } = await proposal('Live');
    const proposalId = (await propose(consoleOrg.id, parentId)).proposal!.id;
    const [adminToken, ownerToken] = await Promise.all([linkToken(admin.email), linkToken(owner.email)]);

    const events: MergeProposalUpdatedSubscription['mergeProposalUpdated'][] = [];
    const client = stack.ws(admin.token);
    const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    client.subscribe<MergeProposalUpdatedSubscription>(
      { query: print(MergeProposalUpdatedDocument), variables: { id: proposalId } },
      {
        next: (v) => v.data && events.push(v.data.mergeProposalUpdated),
        error: () => {},
        complete: () => {},
      },
    );
    await connected;
    await new Promise((r) => setTimeout(r, 100));
    await approve(ownerToken, owner.token);
    await approve(adminToken, admin.token);
    await expect
      .poll(() => events.map((e) => e.status), { timeout: 5_000 })
      .toEqual(['PENDING', 'COMPLETED']);
    expect(events[0]?.targetApprovedAt).not.toBeNull();

    const stranger = await person('stranger');
    expect(
      (await stack.gql(MergeProposalDocument, { id: proposalId }, stranger.token)).errors?.[0]?.extensions
        ?.code,
    ).toBe('NOT_FOUND');
    const errors: unknown[] = [];
    stack.ws(stranger.token).subscribe(
      { query: print(MergeProposalUpdatedDocument), variables: { id: proposalId } },
      {
        next: (v) => v.errors && errors.push(...v.errors),
        error: (e) => errors.push(e),
        complete: () => {},
      },
    );
    await expect.poll(() => JSON.stringify(errors), { timeout: 5_000 }).toContain('NOT_FOUND');
  });
});
