// "Adding and removing users", before SSO is enabled: invite by e-mail from the members page; remove with
// the trash icon and "Remove", after which the removed member's session reaches the organization no more.
import { expect } from 'vitest';
import {
  MemberInviteDocument,
  MemberRemoveDocument,
  MembersDocument,
  type MembersQuery,
  OrganizationCreateDocument,
  OrganizationDocument,
} from '../../generated/graphql.js';
import type { Person } from '../../scenarios-support/acts.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { defineScenario, given } from './scenario.js';

interface State {
  admin?: Person;
  organizationId?: string;
  inviteeEmail?: string;
  inviteeToken?: string;
  member?: MembersQuery['members']['nodes'][number];
}

export default defineScenario<State>({
  section: 'Before SSO is enabled',
  title: 'Members before SSO',
  state: () => ({}),
  steps: [
    {
      name: 'Admin navigates to the members page',
      guide: ['Navigate to console.anthropic.com/settings/members'],
      async run(world, s) {
        const email = uniqueEmail('admin', 'acme-research.example');
        s.admin = { email, ...(await world.signIn(email)) };
        world.cast('Acme Research admin', {
          role: 'ADMIN of Acme Research',
          email,
          signInWith: 'e-mailed code',
        });
        s.organizationId = (
          await world.gqlOk(
            OrganizationCreateDocument,
            { input: { name: 'Acme Research', kind: 'API_CONSOLE' } },
            s.admin.token,
          )
        ).organizationCreate.organization!.id;
        const members = await world.gqlOk(
          MembersDocument,
          { organizationId: s.organizationId },
          s.admin.token,
        );
        expect(members.members.nodes.map((m) => m.user.email)).toEqual([email]);
      },
    },
    {
      name: 'Admin clicks the "Invite" button',
      guide: ['Click the “Invite” button to add new team members'],
      async run(world, s) {
        s.inviteeEmail = uniqueEmail('dev', 'acme-research.example');
        const invited = await world.gqlOk(
          MemberInviteDocument,
          {
            organizationId: given(s.organizationId, 'the organization'),
            input: { email: s.inviteeEmail, role: 'DEVELOPER' },
          },
          s.admin!.token,
        );
        expect(invited.memberInvite.userErrors).toEqual([]);
      },
    },
    {
      name: 'Invitee accepts the invitation from the e-mail',
      guide: ['Adding members'],
      async run(world, s) {
        const [mail] = await world.mail.waitFor(
          { to: given(s.inviteeEmail, 'the invitee'), subject: 'invited' },
          { timeoutMs: 10_000 },
        );
        const link = mail!.links.find((l) => l.includes('/invitations/accept'))!;
        // Following the link only shows a confirmation.
        expect(await (await fetch(link)).text()).toContain(
          '<form method="post" action="/invitations/accept">',
        );
        const accepted = await fetch(`${world.url}/invitations/accept`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: new URL(link).searchParams.get('token')! }).toString(),
          redirect: 'manual',
        });
        expect(await accepted.text()).toContain('Welcome to Acme Research');
        s.inviteeToken = /^ci_session=([^;]+)/.exec(accepted.headers.get('set-cookie')!)![1]!;
        world.cast('Acme Research developer', {
          role: 'DEVELOPER of Acme Research (removed later)',
          email: s.inviteeEmail!,
          signInWith: 'e-mailed code',
        });
      },
    },
    {
      name: 'Admin finds the user to remove on the members page',
      guide: ['Removing members', 'Find the user you want to remove'],
      async run(world, s) {
        const members = await world.gqlOk(
          MembersDocument,
          { organizationId: s.organizationId! },
          s.admin!.token,
        );
        s.member = members.members.nodes.find((m) => m.user.email === s.inviteeEmail);
        expect(s.member).toMatchObject({ role: 'DEVELOPER', source: 'INVITE' });
      },
    },
    {
      name: 'Admin clicks the trash icon on their row and selects "Remove"',
      guide: ['Click the trash icon on the row with their name', 'Select "Remove"'],
      async run(world, s) {
        const member = given(s.member, 'the member');
        const removed = await world.gqlOk(
          MemberRemoveDocument,
          { organizationId: s.organizationId!, userId: member.user.id },
          s.admin!.token,
        );
        expect(removed.memberRemove.userErrors).toEqual([]);
        const refused = await world.gql(OrganizationDocument, { id: s.organizationId! }, s.inviteeToken);
        expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      },
    },
  ],
});
