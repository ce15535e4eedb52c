// "Understanding Parent Organizations", the path without an Enterprise organization: the Console admin
// fills out the Contact Sales form, sales creates the parent, and the Identity settings page appears.
import { expect } from 'vitest';
import { StaffRole } from '../../../src/modules/sessions/user.entity.js';
import {
  IdentitySettingsDocument,
  OrganizationCreateDocument,
  ParentOrganizationRequestApproveDocument,
  ParentOrganizationRequestDocument,
  ParentOrganizationRequestsDocument,
} from '../../generated/graphql.js';
import type { Person } from '../../scenarios-support/acts.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { defineScenario, given } from './scenario.js';

interface State {
  admin?: Person;
  sales?: Person;
  organizationId?: string;
  requestId?: string;
}

export default defineScenario<State>({
  section: 'Understanding Parent Organizations',
  title: 'Contact sales for a parent organization',
  state: () => ({}),
  steps: [
    {
      name: 'Console admin fills out the Contact Sales form',
      guide: [
        'you will need to reach out to our Sales team to enable this feature',
        'If your organization does not have an Enterprise Claude for Work account',
        'please fill out our Contact Sales form.',
      ],
      async run(world, s) {
        // The vendor's sales team, who receive the form.
        const salesEmail = uniqueEmail('sales', 'vendor.example');
        s.sales = { email: salesEmail, ...(await world.signInStaff(salesEmail, StaffRole.SALES)) };
        world.cast('Sales', { role: 'staff SALES', email: salesEmail, signInWith: 'e-mailed code' });
        const email = uniqueEmail('requester', 'sales-path.example');
        s.admin = { email, ...(await world.signIn(email)) };
        world.cast('Console admin (contact sales)', {
          role: 'ADMIN of Sales Path',
          email,
          signInWith: 'e-mailed code',
        });
        s.organizationId = (
          await world.gqlOk(
            OrganizationCreateDocument,
            { input: { name: 'Sales Path', kind: 'API_CONSOLE' } },
            s.admin.token,
          )
        ).organizationCreate.organization!.id;
        const before = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: s.organizationId },
          s.admin.token,
        );
        expect(before.identitySettings.routes).toContain('CONTACT_SALES');
        const filed = await world.gqlOk(
          ParentOrganizationRequestDocument,
          { organizationId: s.organizationId, input: { message: 'We want SSO for 40 people.' } },
          s.admin.token,
        );
        expect(filed.parentOrganizationRequest).toMatchObject({
          userErrors: [],
          request: { status: 'PENDING' },
        });
        s.requestId = filed.parentOrganizationRequest.request!.id;
        await world.mail.waitFor({ to: email, subject: 'We received your request' }, { timeoutMs: 10_000 });
        const pending = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: s.organizationId },
          s.admin.token,
        );
        expect(pending.identitySettings).toMatchObject({ available: false, pendingRequestStatus: 'PENDING' });
      },
    },
    {
      name: 'Sales creates the parent organization',
      guide: ['To request that a parent organization is created for your organization’s API/Console account'],
      async run(world, s) {
        const salesMail = await world.mail.waitFor(
          { subject: 'Parent organization requested: Sales Path' },
          { timeoutMs: 10_000 },
        );
        expect(salesMail[0]!.text).toContain('We want SSO for 40 people.');
        const listed = await world.gqlOk(
          ParentOrganizationRequestsDocument,
          { status: 'PENDING' },
          s.sales!.token,
        );
        expect(listed.parentOrganizationRequests.nodes.map((r) => r.id)).toContain(s.requestId);
        const approved = await world.gqlOk(
          ParentOrganizationRequestApproveDocument,
          { id: given(s.requestId, 'the request'), input: { note: 'Welcome' } },
          s.sales!.token,
        );
        expect(approved.parentOrganizationRequestApprove).toMatchObject({
          userErrors: [],
          request: { status: 'APPROVED' },
        });
      },
    },
    {
      name: 'Console admin finds the Identity settings page',
      guide: [
        'Once the parent organization is created, the Identity settings page will appear in your Console account',
      ],
      async run(world, s) {
        const admin = given(s.admin, 'the Console admin');
        const settings = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: s.organizationId! },
          admin.token,
        );
        expect(settings.identitySettings).toMatchObject({
          available: true,
          parentOrganization: { name: 'Sales Path' },
        });
        await world.mail.waitFor(
          { to: admin.email, subject: 'Sales Path now has a parent organization' },
          { timeoutMs: 10_000 },
        );
      },
    },
  ],
});
