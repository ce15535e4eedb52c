// The Identity settings console: who is signed in, which organization, and that organization's identity
// settings (or why they are unavailable and the way to them). Routes live in the URL fragment:
// #/org/<id> and #/merge/<token> (the link of a merge approval e-mail).
import { gql, mutate, request } from './api.js';
import { directorySection } from './directory.js';
import { domainsSection } from './domains.js';
import { actionButton, field, fill, form, h, section, select } from './dom.js';
import { mappingsSection } from './mappings.js';
import { membersSection } from './members.js';
import { mergeScreen } from './merge.js';
import { ssoSection } from './sso.js';

const VIEWER = gql`
  query ConsoleViewer {
    me {
      id
      email
    }
  }
`;
const ORGANIZATIONS = gql`
  query ConsoleOrganizations {
    organizations(first: 100) {
      nodes {
        id
        name
        kind
        viewerRole
      }
    }
  }
`;
const SETTINGS = gql`
  query ConsoleIdentitySettings($organizationId: ID!) {
    identitySettings(organizationId: $organizationId) {
      available
      reason
      routes
      pendingRequestStatus
      parentOrganization {
        id
        name
      }
    }
  }
`;
const CONTACT_SALES = gql`
  mutation ConsoleContactSales($organizationId: ID!, $input: ParentOrganizationRequestInput) {
    parentOrganizationRequest(organizationId: $organizationId, input: $input) {
      userErrors {
        code
        message
      }
    }
  }
`;
const CREATE_ORGANIZATION = gql`
  mutation ConsoleOrganizationCreate($input: OrganizationCreateInput!) {
    organizationCreate(input: $input) {
      userErrors {
        code
        message
      }
      organization {
        id
      }
    }
  }
`;
const LOGOUT = gql`
  mutation ConsoleLogout {
    logout {
      revoked
    }
  }
`;

const ADMIN_ROLES = ['ADMIN', 'OWNER', 'PRIMARY_OWNER'];

/**
 * @typedef {{ id: string, name: string, kind: string, viewerRole: string }} Organization
 * @typedef {{ me: { id: string, email: string } | null }} Viewer
 * @typedef {{ available: boolean, reason: string | null, routes: string[], pendingRequestStatus: string | null,
 *   parentOrganization: { id: string, name: string } | null }} IdentitySettings
 */

const header = /** @type {HTMLElement} */ (document.getElementById('top'));
const main = /** @type {HTMLElement} */ (document.getElementById('main'));
/** @type {(() => void)[]} */
let leaving = [];
/** Counts routes: a route that a newer one overtook while it waited for the API renders nothing. */
let routes = 0;

function stopScreen() {
  for (const stop of leaving) stop();
  leaving = [];
}

async function route() {
  const generation = ++routes;
  stopScreen();
  const current = () => generation === routes;
  /** @param {() => void} stop */
  const onLeave = (stop) => (current() ? void leaving.push(stop) : stop());
  /** @type {Viewer} */
  const viewer = await request(VIEWER);
  if (!current()) return;
  if (!viewer.me) return signedOutScreen();
  /** @type {{ organizations: { nodes: Organization[] } }} */
  const {
    organizations: { nodes: organizations },
  } = await request(ORGANIZATIONS);
  if (!current()) return;

  const [, screen = '', argument = ''] = location.hash.split('/');
  const shown = organizations.find((org) => org.id === argument) ?? organizations[0];
  renderHeader(viewer.me.email, organizations, shown);
  if (screen === 'merge') return show(mergeScreen(decodeURIComponent(argument), viewer.me.email, onLeave));
  if (!shown)
    return show(
      h('h1', {}, 'Identity settings'),
      h('p', {}, 'You do not belong to any organization yet. Create one, or ask an admin to invite you.'),
      createOrganizationForm(),
    );
  const screenElement = await organizationScreen(shown, viewer.me.id, onLeave);
  if (current()) show(screenElement);
}

/** @param {import('./dom.js').Child[]} content */
function show(...content) {
  fill(main, ...content);
  main.focus();
}

function navigate() {
  route().catch((failure) =>
    show(
      h('p', { class: 'error', role: 'alert' }, failure instanceof Error ? failure.message : String(failure)),
    ),
  );
}

/** @param {string} email @param {Organization[]} organizations @param {Organization | undefined} current */
function renderHeader(email, organizations, current) {
  // Opened by its button, not on every change: arrowing through a closed select fires a change per key.
  const switcher = /** @type {HTMLFormElement} */ (
    h(
      'form',
      { class: 'row switcher' },
      h(
        'div',
        { class: 'field inline' },
        h('label', { for: 'org-switcher' }, 'Organization'),
        h(
          'select',
          { id: 'org-switcher', name: 'organization' },
          organizations.map((org) =>
            h('option', { value: org.id, selected: org.id === current?.id }, org.name),
          ),
        ),
      ),
      h('button', { type: 'submit', class: 'secondary' }, 'Open'),
    )
  );
  switcher.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/org/${new FormData(switcher).get('organization')}`;
  });
  fill(
    header,
    h('span', { class: 'brand' }, 'Console Identity'),
    organizations.length > 0 && switcher,
    h('span', { class: 'muted' }, email),
    actionButton(
      'Sign out',
      async () => {
        await request(LOGOUT);
        signedOutScreen();
      },
      { class: 'secondary' },
    ),
  );
}

/**
 * @param {Organization} org
 * @param {string} viewerId
 * @param {(stop: () => void) => void} onLeave
 */
async function organizationScreen(org, viewerId, onLeave) {
  /** @type {{ identitySettings: IdentitySettings }} */
  const { identitySettings: settings } = await request(SETTINGS, { organizationId: org.id });
  const isAdmin = ADMIN_ROLES.includes(org.viewerRole);
  const members = membersSection({ organizationId: org.id, onLeave }, { kind: org.kind, isAdmin, viewerId });
  const parent = settings.parentOrganization;
  if (!settings.available || !parent) {
    return h('div', {}, h('h1', {}, 'Identity settings'), unavailable(org, settings), members);
  }
  const context = { organizationId: org.id, parentId: parent.id, onLeave };
  return h(
    'div',
    {},
    h('h1', {}, 'Identity settings'),
    h('p', { class: 'muted' }, `Shared by every organization of ${parent.name}.`),
    h(
      'nav',
      { 'aria-label': 'Sections' },
      h(
        'ul',
        { class: 'plain row' },
        [
          ['domains', 'Domains'],
          ['sso', 'SSO'],
          ['scim', 'SCIM'],
          ['mappings', 'Group mappings'],
          ['members', 'Members'],
        ].map(([id, label]) =>
          h(
            'li',
            {},
            h(
              'a',
              {
                href: `#${id}`,
                onclick: (/** @type {Event} */ event) => jumpTo(event, /** @type {string} */ (id)),
              },
              label,
            ),
          ),
        ),
      ),
    ),
    domainsSection(context),
    ssoSection(context, signedOutScreen),
    directorySection(context),
    mappingsSection(context),
    members,
  );
}

/** In-page links must not change the route in the fragment. */
/** @param {Event} event @param {string} id */
function jumpTo(event, id) {
  event.preventDefault();
  const target = document.getElementById(id);
  target?.scrollIntoView();
  target?.querySelector('h2')?.setAttribute('tabindex', '-1');
  /** @type {HTMLElement | null | undefined} */ (target?.querySelector('h2'))?.focus();
}

function createOrganizationForm() {
  return form(
    {
      label: 'Create organization',
      action: async (data) => {
        const { organization } = await mutate(CREATE_ORGANIZATION, {
          input: { name: String(data.get('name') ?? ''), kind: data.get('kind') },
        });
        location.hash = `#/org/${/** @type {{ id: string }} */ (organization).id}`;
      },
    },
    h(
      'div',
      { class: 'row' },
      field('name', 'Organization name', { required: true }),
      select('kind', 'Kind', ['ENTERPRISE', 'API_CONSOLE']),
    ),
  );
}

/** Why identity settings are not available here, and the route to them. */
/** @param {Organization} org @param {IdentitySettings} settings */
function unavailable(org, settings) {
  const reason =
    settings.reason === 'FORBIDDEN'
      ? 'Only admins of this organization can manage its identity settings.'
      : `${org.name} has no parent organization yet. Identity settings (domains, SSO, SCIM) belong to a parent organization.`;
  const routes = settings.routes.map((routeName) => {
    if (routeName === 'ASK_AN_ADMIN') return h('p', {}, 'Ask an admin of this organization.');
    if (routeName === 'MERGE_PROPOSAL')
      return h(
        'p',
        {},
        'If your company already has a parent organization, your account manager can propose a merge; an admin of each side approves it by e-mail.',
      );
    if (settings.pendingRequestStatus === 'PENDING')
      return h('p', { role: 'status' }, 'Your request to sales is pending.');
    const sent = h('p', { role: 'status' });
    const contact = form(
      {
        label: 'Contact sales',
        action: async (data) => {
          await mutate(CONTACT_SALES, {
            organizationId: org.id,
            input: { message: String(data.get('message') ?? '') || undefined },
          });
          contact.replaceChildren(sent);
          sent.textContent = 'Request sent. Sales will reply by e-mail.';
        },
      },
      field('message', 'Message to sales (optional)'),
    );
    return contact;
  });
  return section('identity-unavailable', 'Not available', h('p', {}, reason), routes);
}

function signedOutScreen() {
  routes++;
  stopScreen();
  header.replaceChildren(h('span', { class: 'brand' }, 'Console Identity'));
  main.replaceChildren(
    h('h1', {}, 'Identity settings'),
    h(
      'p',
      {},
      'You are signed out. If your organization just turned on SSO, sign in again through your identity provider.',
    ),
    h('p', {}, h('a', { href: '/login', class: 'button' }, 'Sign in')),
  );
}

// Routes are fragments starting with #/; the skip link (#main) only moves the focus.
window.addEventListener('hashchange', () => {
  if (location.hash === '' || location.hash.startsWith('#/')) navigate();
});
navigate();
