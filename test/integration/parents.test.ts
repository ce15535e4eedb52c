// Parent organizations: identity-settings gating and the "contact sales" request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  AuditEventsDocument,
  IdentitySettingsDocument,
  OrganizationWithParentDocument,
  ParentOrganizationDocument,
  ParentOrganizationRequestApproveDocument,
  ParentOrganizationRequestDeclineDocument,
  ParentOrganizationRequestDocument,
  ParentOrganizationRequestsDocument,
  StaffOrganizationLookupDocument,
} from '../generated/graphql.js';
import {
  createOrg as newOrg,
  join as joinOrg,
  type OrganizationKindName,
  type RoleName,
} from '../support/orgs.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('parent organizations', () => {
  let stack: Stack;
  let sales: { token: string };

  const createOrg = (token: string, kind: OrganizationKindName, name: string) =>
    newOrg(stack, token, kind, name);
  const join = (organizationId: string, role: RoleName, by: { token: string }) =>
    joinOrg(stack, organizationId, role, by);

  beforeAll(async () => {
    stack = await startStack();
    sales = await stack.signInStaff(uniqueEmail('sales', 'vendor.example'), StaffRole.SALES);
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe('identity settings gating', () => {
    it('is available to Enterprise owners, which are created with a parent', async () => {
      const owner = await stack.signIn(uniqueEmail('owner'));
      const org = await createOrg(owner.token, 'ENTERPRISE', 'Gate Corp');
      const settings = await stack.gqlOk(IdentitySettingsDocument, { organizationId: org.id }, owner.token);
      expect(settings.identitySettings).toMatchObject({ available: true, reason: null, routes: [] });
      expect(settings.identitySettings.parentOrganization?.name).toBe('Gate Corp');
    });

    it('is FORBIDDEN for an Enterprise ADMIN or MEMBER (owners only) and for Console non-admins', async () => {
      const owner = await stack.signIn(uniqueEmail('owner'));
      const enterprise = await createOrg(owner.token, 'ENTERPRISE', 'Roles Corp');
      for (const role of ['ADMIN', 'MEMBER'] as const) {
        const member = await join(enterprise.id, role, owner);
        const settings = await stack.gqlOk(
          IdentitySettingsDocument,
          { organizationId: enterprise.id },
          member.token,
        );
        expect(settings.identitySettings).toMatchObject({
          available: false,
          reason: 'FORBIDDEN',
          routes: ['ASK_AN_ADMIN'],
        });
      }
      const admin = await stack.signIn(uniqueEmail('console'));
      const consoleOrg = await createOrg(admin.token, 'API_CONSOLE', 'Roles Console');
      const developer = await join(consoleOrg.id, 'DEVELOPER', admin);
      const settings = await stack.gqlOk(
        IdentitySettingsDocument,
        { organizationId: consoleOrg.id },
        developer.token,
      );
      expect(settings.identitySettings.reason).toBe('FORBIDDEN');
    });

    it('names the routes for a Console organization without a parent: the merge first when the admin is in an Enterprise org', async () => {
      const admin = await stack.signIn(uniqueEmail('both'));
      const consoleOrg = await createOrg(admin.token, 'API_CONSOLE', 'Routes Console');
      const alone = await stack.gqlOk(
        IdentitySettingsDocument,
        { organizationId: consoleOrg.id },
        admin.token,
      );
      expect(alone.identitySettings).toMatchObject({
        available: false,
        reason: 'NO_PARENT_ORGANIZATION',
        routes: ['CONTACT_SALES'],
      });
      await createOrg(admin.token, 'ENTERPRISE', 'Routes Enterprise');
      const withEnterprise = await stack.gqlOk(
        IdentitySettingsDocument,
        { organizationId: consoleOrg.id },
        admin.token,
      );
      expect(withEnterprise.identitySettings.routes).toEqual(['MERGE_PROPOSAL', 'CONTACT_SALES']);
    });

    it('reads a foreign organization and a foreign parent as not found', async () => {
      const owner = await stack.signIn(uniqueEmail('owner'));
      const org = await createOrg(owner.token, 'ENTERPRISE', 'Private Corp');
      const parentId = (await stack.gqlOk(OrganizationWithParentDocument, { id: org.id }, owner.token))
        .organization.parentOrganization!.id;
      const stranger = await stack.signIn(uniqueEmail('stranger'));
      expect(
        (await stack.gql(IdentitySettingsDocument, { organizationId: org.id }, stranger.token)).errors?.[0]
          ?.extensions?.code,
      ).toBe('NOT_FOUND');
      expect(
        (await stack.gql(ParentOrganizationDocument, { id: parentId }, stranger.token)).errors?.[0]
          ?.extensions?.code,
      ).toBe('NOT_FOUND');
    });
  });

  describe('contact sales', () => {
    it('files a request, mails both sides, and approval creates a parent that opens the identity settings', async () => {
      const adminEmail = uniqueEmail('requester');
      const admin = await stack.signIn(adminEmail);
      const org = await createOrg(admin.token, 'API_CONSOLE', 'Sales Path');
      const filed = await stack.gqlOk(
        ParentOrganizationRequestDocument,
        { organizationId: org.id, input: { message: 'We want SSO for 40 people.' } },
        admin.token,
      );
      expect(filed.parentOrganizationRequest).toMatchObject({
        userErrors: [],
        request: {
          status: 'PENDING',
          message: 'We want SSO for 40 people.',
          organization: { id: org.id },
          requestedBy: { email: adminEmail },
        },
      });
      const requestId = filed.parentOrganizationRequest.request!.id;
      await stack.mail.waitFor(
        { to: adminEmail, subject: 'We received your request' },
        { timeoutMs: 10_000 },
      );
      const salesMail = await stack.mail.waitFor(
        { subject: 'Parent organization requested: Sales Path' },
        { timeoutMs: 10_000 },
      );
      expect(salesMail[0]!.text).toContain('We want SSO for 40 people.');

      const pending = await stack.gqlOk(IdentitySettingsDocument, { organizationId: org.id }, admin.token);
      expect(pending.identitySettings).toMatchObject({ available: false, pendingRequestStatus: 'PENDING' });

      const listed = await stack.gqlOk(
        ParentOrganizationRequestsDocument,
        { status: 'PENDING' },
        sales.token,
      );
      expect(listed.parentOrganizationRequests.nodes.map((r) => r.id)).toContain(requestId);

      const approved = await stack.gqlOk(
        ParentOrganizationRequestApproveDocument,
        { id: requestId, input: { note: 'Welcome' } },
        sales.token,
      );
      expect(approved.parentOrganizationRequestApprove).toMatchObject({
        userErrors: [],
        request: { status: 'APPROVED', decisionNote: 'Welcome' },
      });
      const parentId = approved.parentOrganizationRequestApprove.request!.parentOrganizationId!;

      const settings = await stack.gqlOk(IdentitySettingsDocument, { organizationId: org.id }, admin.token);
      expect(settings.identitySettings).toMatchObject({
        available: true,
        parentOrganization: { id: parentId, name: 'Sales Path' },
      });
      await stack.mail.waitFor(
        { to: adminEmail, subject: 'Sales Path now has a parent organization' },
        { timeoutMs: 10_000 },
      );

      const audit = await stack.gqlOk(
        AuditEventsDocument,
        { organizationId: org.id, first: 20 },
        admin.token,
      );
      expect(audit.auditEvents.nodes.map((e) => e.action)).toEqual(
        expect.arrayContaining([
          'parent_request.created',
          'organization.parent_linked',
          'parent_request.approved',
        ]),
      );
      expect(audit.auditEvents.nodes.find((e) => e.action === 'parent_request.approved')?.actorType).toBe(
        'STAFF',
      );

      const again = await stack.gqlOk(
        ParentOrganizationRequestDocument,
        { organizationId: org.id },
        admin.token,
      );
      expect(again.parentOrganizationRequest.userErrors[0]?.code).toBe('ALREADY_HAS_PARENT');
      const twice = await stack.gqlOk(
        ParentOrganizationRequestApproveDocument,
        { id: requestId },
        sales.token,
      );
      expect(twice.parentOrganizationRequestApprove.userErrors[0]?.code).toBe('REQUEST_DECIDED');
    });

    it('declines with a note and mails the requester; the organization stays without parent', async () => {
      const adminEmail = uniqueEmail('declined');
      const admin = await stack.signIn(adminEmail);
      const org = await createOrg(admin.token, 'API_CONSOLE', 'Declined Co');
      const filed = await stack.gqlOk(
        ParentOrganizationRequestDocument,
        { organizationId: org.id },
        admin.token,
      );
      const declined = await stack.gqlOk(
        ParentOrganizationRequestDeclineDocument,
        { id: filed.parentOrganizationRequest.request!.id, input: { note: 'Not on an Enterprise plan' } },
        sales.token,
      );
      expect(declined.parentOrganizationRequestDecline.request?.status).toBe('DECLINED');
      const [mail] = await stack.mail.waitFor(
        { to: adminEmail, subject: 'was declined' },
        { timeoutMs: 10_000 },
      );
      expect(mail!.text).toContain('Not on an Enterprise plan');
      const settings = await stack.gqlOk(IdentitySettingsDocument, { organizationId: org.id }, admin.token);
      expect(settings.identitySettings).toMatchObject({ available: false, pendingRequestStatus: null });
    });

    it('refuses a second open request, a request from a non-admin, and an Enterprise organization', async () => {
      const admin = await stack.signIn(uniqueEmail('dup'));
      const org = await createOrg(admin.token, 'API_CONSOLE', 'Dup Co');
      await stack.gqlOk(ParentOrganizationRequestDocument, { organizationId: org.id }, admin.token);
      const dup = await stack.gqlOk(
        ParentOrganizationRequestDocument,
        { organizationId: org.id },
        admin.token,
      );
      expect(dup.parentOrganizationRequest).toMatchObject({
        request: null,
        userErrors: [{ code: 'REQUEST_PENDING' }],
      });
      const developer = await join(org.id, 'DEVELOPER', admin);
      const byDeveloper = await stack.gql(
        ParentOrganizationRequestDocument,
        { organizationId: org.id },
        developer.token,
      );
      expect(byDeveloper.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const enterprise = await createOrg(admin.token, 'ENTERPRISE', 'Has Parent');
      const onEnterprise = await stack.gqlOk(
        ParentOrganizationRequestDocument,
        { organizationId: enterprise.id },
        admin.token,
      );
      expect(onEnterprise.parentOrganizationRequest.userErrors[0]?.code).toBe('ALREADY_HAS_PARENT');
    });

    it('lets only SALES staff list and decide requests', async () => {
      const admin = await stack.signIn(uniqueEmail('notstaff'));
      const org = await createOrg(admin.token, 'API_CONSOLE', 'Staff Only');
      const filed = await stack.gqlOk(
        ParentOrganizationRequestDocument,
        { organizationId: org.id },
        admin.token,
      );
      const manager = await stack.signInStaff(uniqueEmail('am', 'vendor.example'), StaffRole.ACCOUNT_MANAGER);
      for (const token of [admin.token, manager.token]) {
        expect(
          (await stack.gql(ParentOrganizationRequestsDocument, {}, token)).errors?.[0]?.extensions?.code,
        ).toBe('FORBIDDEN');
        const approve = await stack.gql(
          ParentOrganizationRequestApproveDocument,
          { id: filed.parentOrganizationRequest.request!.id },
          token,
        );
        expect(approve.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      }
      expect(
        (await stack.gql(StaffOrganizationLookupDocument, { slug: 'staff-only' }, admin.token)).errors?.[0]
          ?.extensions?.code,
      ).toBe('FORBIDDEN');
      const found = await stack.gqlOk(StaffOrganizationLookupDocument, { slug: 'staff-only' }, manager.token);
      expect(found.staffOrganizationLookup).toMatchObject({
        id: org.id,
        kind: 'API_CONSOLE',
        parentOrganizationId: null,
      });
      const settings = await stack.gqlOk(IdentitySettingsDocument, { organizationId: org.id }, admin.token);
      expect(settings.identitySettings.pendingRequestStatus).toBe('PENDING');
    });
  });
});
