// Members of one organization: invite by e-mail, change nothing the IdP owns, remove (access ends at once).
import { gql, mutate, request, subscribe } from './api.js';
import { actionButton, confirmDialog, field, fill, form, h, section, select, when } from './dom.js';
import { panel } from './panel.js';

const MEMBERS = gql`
  query ConsoleMembers($organizationId: ID!, $after: String) {
    members(organizationId: $organizationId, first: 100, after: $after) {
      pageInfo {
        hasNextPage
        endCursor
      }
      nodes {
        id
        role
        source
        createdAt
        user {
          id
          email
          name
        }
      }
    }
  }
`;
const INVITE = gql`
  mutation ConsoleMemberInvite($organizationId: ID!, $input: MemberInviteInput!) {
    memberInvite(organizationId: $organizationId, input: $input) {
      userErrors {
        code
        message
      }
    }
  }
`;
const REMOVE = gql`
  mutation ConsoleMemberRemove($organizationId: ID!, $userId: ID!) {
    memberRemove(organizationId: $organizationId, userId: $userId) {
      userErrors {
        code
        message
      }
    }
  }
`;
const CHANGED = gql`
  subscription ConsoleMembershipChanged($organizationId: ID!) {
    membershipChanged(organizationId: $organizationId) {
      organizationId
    }
  }
`;

const ROLES = /** @type {Record<string, string[]>} */ ({
  ENTERPRISE: ['MEMBER', 'ADMIN', 'OWNER'],
  API_CONSOLE: ['USER', 'DEVELOPER', 'BILLING', 'ADMIN'],
});

/** @typedef {{ id: string, role: string, source: string, createdAt: string, user: { id: string, email: string, name: string | null } }} Member */

/**
 * @param {Pick<import('./panel.js').ScreenContext, 'organizationId' | 'onLeave'>} context
 * @param {{ kind: string, isAdmin: boolean, viewerId: string }} organization
 */
export function membersSection({ organizationId, onLeave }, { kind, isAdmin, viewerId }) {
  /** @param {Member} member */
  const row = (member) =>
    h(
      'tr',
      { 'data-member': member.user.email },
      h('td', {}, member.user.email),
      h('td', {}, member.role),
      h('td', {}, member.source),
      h('td', {}, when(member.createdAt)),
      h(
        'td',
        {},
        isAdmin &&
          member.user.id !== viewerId &&
          member.role !== 'PRIMARY_OWNER' &&
          actionButton(
            'Remove',
            async () => {
              const question = `Remove ${member.user.email}? Their access to this organization ends at once.`;
              if (!(await confirmDialog(question, 'Remove'))) return;
              await mutate(REMOVE, { organizationId, userId: member.user.id });
              await list.reload();
            },
            { class: 'danger', 'aria-label': `Remove ${member.user.email}` },
          ),
      ),
    );

  const list = panel(async (body) => {
    const rows = h('tbody');
    const more = h('div');
    /** @param {string | null} after */
    const load = async (after) => {
      /** @type {{ members: { nodes: Member[], pageInfo: { hasNextPage: boolean, endCursor: string | null } } }} */
      const { members } = await request(MEMBERS, { organizationId, after });
      rows.append(...members.nodes.map(row));
      fill(
        more,
        members.pageInfo.hasNextPage &&
          actionButton('Show more members', () => load(members.pageInfo.endCursor)),
      );
    };
    await load(null);
    body.append(
      h(
        'div',
        { class: 'table-scroll' },
        h(
          'table',
          {},
          h('caption', { class: 'visually-hidden' }, 'Members'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['E-mail', 'Role', 'Added by', 'Since', ''].map((t) => h('th', { scope: 'col' }, t)),
            ),
          ),
          rows,
        ),
      ),
      more,
    );
  });
  if (isAdmin) onLeave(subscribe(CHANGED, { organizationId }, () => void list.reload(), list.reload));

  const invited = h('p', { role: 'status' });
  const invite = form(
    {
      label: 'Invite',
      action: async (data) => {
        const email = String(data.get('email') ?? '');
        await mutate(INVITE, { organizationId, input: { email, role: data.get('role') } });
        invite.reset();
        invited.textContent = `Invitation sent to ${email}.`;
      },
    },
    h(
      'div',
      { class: 'row' },
      field('email', 'E-mail', { type: 'email', required: true, autocomplete: 'off' }),
      select('role', 'Role', ROLES[kind] ?? []),
    ),
  );
  return section('members', 'Members', isAdmin && invite, invited, list.element);
}
