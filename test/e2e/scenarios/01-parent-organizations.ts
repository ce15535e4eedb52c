// "Understanding Parent Organizations": an Enterprise organization comes with its parent, an API Console
// organization does not; the account manager proposes the merge, one approver of each side approves from
// the e-mail, and the Console organization then shares the Enterprise parent and its identity settings.
import { expect } from 'vitest';
import { StaffRole } from '../../../src/modules/sessions/user.entity.js';
import {
  DomainAddDocument,
  DomainRefreshDocument,
  IdentitySettingsDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  MergeProposalDocument,
  OrganizationCreateDocument,
  OrganizationWithParentDocument,
} from '../../generated/graphql.js';
import type { Person } from '../../scenarios-support/acts.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { defineScenario, given } from './scenario.js';

interface State {
  owner?: Person;
  admin?: Person;
  manager?: Person;
  enterpriseId?: string;
  parentId?: string;
  consoleId?: string;
  proposalId?: string;
  adminLink?: string;
  ownerLink?: string;
}

export default defineScenario<State>({
  section: 'Understanding Parent Organizations',
  title: 'Parent organizations and the merge',
  state: () => ({}),
  steps: [
    {
      name: 'Enterprise owner finds the Identity settings page of the parent their organization was created with',
      guide: [
        'Enterprise Claude for Work organizations are created with a parent organization by default',
        'You can verify this by checking if the Identity settings page is accessible',
        'This is an entity that stores SSO settings for an organization.',
      ],
      async run(world, s) {
        const email = uniqueEmail('enterprise-owner', 'merge-corp.com');
        s.owner = { email, ...(await world.signIn(email)) };
        world.cast('Enterprise owner', {
          role: 'PRIMARY_OWNER of Merge Enterprise',
          email,
          signInWith: 'e-mailed code',
        });
        const org = (
          await world.gqlOk(
            OrganizationCreateDocument,
            { input: { name: 'Merge Enterprise', kind: 'ENTERPRISE' } },
            s.owner.token,
          )
        ).organizationCreate.organization!;
        s.enterpriseId = org.id;
        const settings = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: org.id },
          s.owner.token,
        );
        expect(settings.identitySettings.available).toBe(true);
        s.parentId = settings.identitySettings.parentOrganization!.id;
      },
    },
    {
      name: 'Console admin finds no Identity settings page on a new API Console organization',
      guide: [
        'but API Console accounts don’t automatically have this feature when they’re set up.',
        'Note that API Console accounts are not created with parent organizations by default.',
      ],
      async run(world, s) {
        const email = uniqueEmail('console-admin', 'merge-corp.com');
        s.admin = { email, ...(await world.signIn(email)) };
        world.cast('Console admin', { role: 'ADMIN of Merge Console', email, signInWith: 'e-mailed code' });
        s.consoleId = (
          await world.gqlOk(
            OrganizationCreateDocument,
            { input: { name: 'Merge Console', kind: 'API_CONSOLE' } },
            s.admin.token,
          )
        ).organizationCreate.organization!.id;
        const before = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: s.consoleId },
          s.admin.token,
        );
        expect(before.identitySettings).toMatchObject({ available: false, reason: 'NO_PARENT_ORGANIZATION' });
      },
    },
    {
      name: 'Account manager creates the merge proposal',
      guide: [
        'If your organization does have an Enterprise Claude for Work account',
        'Reach out to your Account Manager to request a merge proposal.',
      ],
      async run(world, s) {
        const email = uniqueEmail('account-manager', 'vendor.example');
        s.manager = { email, ...(await world.signInStaff(email, StaffRole.ACCOUNT_MANAGER)) };
        world.cast('Account manager', { role: 'staff ACCOUNT_MANAGER', email, signInWith: 'e-mailed code' });
        const created = await world.gqlOk(
          MergeProposalCreateDocument,
          {
            input: {
              incomingOrganizationId: given(s.consoleId, 'the Console organization'),
              targetParentId: s.parentId!,
            },
          },
          s.manager.token,
        );
        expect(created.mergeProposalCreate.userErrors).toEqual([]);
        s.proposalId = created.mergeProposalCreate.proposal!.id;
      },
    },
    {
      name: 'Console admin and Enterprise owner receive the proposal by e-mail',
      guide: [
        'Once they confirm this, it will be emailed to these approvers in both the organizations:',
        'Console Admins',
        'Enterprise Owners/Primary Owners',
      ],
      async run(world, s) {
        const linkFor = async (email: string) => {
          const [mail] = await world.mail.waitFor(
            { to: email, subject: 'Approve linking' },
            { timeoutMs: 10_000 },
          );
          return mail!.links.find((l) => l.includes('/merge-proposals/review'))!;
        };
        s.adminLink = await linkFor(given(s.admin, 'the Console admin').email);
        s.ownerLink = await linkFor(given(s.owner, 'the Enterprise owner').email);
        // Following the link only shows the proposal (mail scanners follow links too).
        const shown = await fetch(s.adminLink);
        expect(await shown.text()).toContain('Link Merge Console to Merge Enterprise?');
        const proposal = await world.gqlOk(MergeProposalDocument, { id: s.proposalId! }, s.manager!.token);
        expect(proposal.mergeProposal).toMatchObject({
          status: 'PENDING',
          incomingApprovedAt: null,
          targetApprovedAt: null,
        });
      },
    },
    {
      name: 'Console admin approves from the e-mail',
      guide: ['After one approver within each organization approves the proposal via the email'],
      async run(world, s) {
        const admin = given(s.admin, 'the Console admin');
        const approved = await fetch(`${world.url}/merge-proposals/approve`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            cookie: `ci_session=${admin.token}`,
          },
          body: new URLSearchParams({
            token: new URL(given(s.adminLink, 'the link')).searchParams.get('token')!,
          }).toString(),
        });
        expect(approved.status).toBe(200);
        expect(await approved.text()).toContain('The proposal is now pending.');
      },
    },
    {
      name: 'Enterprise owner approves from the e-mail and the merge completes',
      guide: [
        'the merge will complete, and the two organizations will be attached to the same parent organization.',
      ],
      async run(world, s) {
        const second = await world.gqlOk(
          MergeProposalApproveDocument,
          { input: { token: new URL(given(s.ownerLink, 'the link')).searchParams.get('token')! } },
          s.owner!.token,
        );
        expect(second.mergeProposalApprove.proposal?.status).toBe('COMPLETED');
        const after = await world.gqlOk(OrganizationWithParentDocument, { id: s.consoleId! }, s.admin!.token);
        expect(after.organization.parentOrganization?.id).toBe(s.parentId);
      },
    },
    {
      name: 'Console admin opens the Identity settings page of the shared parent',
      guide: [
        'Once the merge is complete, the incoming organization will gain access to console.anthropic.com/settings/identity',
        'For multiple organizations to share the same SSO configuration',
        'Multiple API Console organizations can be linked under the same parent organization.',
        'they can share the same parent organization and SSO configuration.',
      ],
      async run(world, s) {
        const settings = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: s.consoleId! },
          s.admin!.token,
        );
        expect(settings.identitySettings).toMatchObject({
          available: true,
          parentOrganization: { id: s.parentId },
        });
        const parent = await world.gqlOk(
          OrganizationWithParentDocument,
          { id: s.enterpriseId! },
          s.owner!.token,
        );
        expect(parent.organization.parentOrganization!.organizations.nodes.map((o) => o.id).sort()).toEqual(
          [s.enterpriseId, s.consoleId].sort(),
        );
      },
    },
    {
      name: 'Another parent cannot claim a domain this parent verified',
      guide: ['Domain verification is stored at the parent organization level'],
      async run(world, s) {
        const added = (
          await world.gqlOk(
            DomainAddDocument,
            { parentId: s.parentId!, input: { name: 'merge-corp.com' } },
            s.owner!.token,
          )
        ).domainAdd.domain!;
        world.dns.setTxt(added.verificationRecord.name, [added.verificationRecord.value]);
        const refreshed = await world.gqlOk(DomainRefreshDocument, { id: added.id }, s.owner!.token);
        expect(refreshed.domainRefresh.domain?.status).toBe('VERIFIED');
        const rival = await world.signIn(uniqueEmail('rival', 'rival-corp.example'));
        const rivalOrg = (
          await world.gqlOk(
            OrganizationCreateDocument,
            { input: { name: 'Rival', kind: 'ENTERPRISE' } },
            rival.token,
          )
        ).organizationCreate.organization!;
        const rivalParent = (
          await world.gqlOk(OrganizationWithParentDocument, { id: rivalOrg.id }, rival.token)
        ).organization.parentOrganization!.id;
        const claimed = await world.gqlOk(
          DomainAddDocument,
          { parentId: rivalParent, input: { name: 'merge-corp.com' } },
          rival.token,
        );
        expect(claimed.domainAdd.domain ?? null).toBeNull();
        expect(claimed.domainAdd.userErrors[0]?.code).toBe('DOMAIN_CONFLICT');
      },
    },
  ],
});
