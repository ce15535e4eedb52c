// SCIM directories: create (the bearer token is shown once), rotate the token, last sync and "Sync Now",
// updated live when a sync finishes.
import { gql, mutate, request, subscribe } from './api.js';
import {
  actionButton,
  announce,
  confirmDialog,
  copyField,
  field,
  fill,
  form,
  h,
  section,
  select,
  when,
} from './dom.js';
import { panel } from './panel.js';
import { PROVIDERS } from './sso.js';

const DIRECTORIES = gql`
  query ConsoleDirectories($parentId: ID!) {
    directories(parentId: $parentId, first: 100) {
      nodes {
        id
        name
        provider
        scimBaseUrl
        userCount
        activeUserCount
        groupCount
        lastRequestAt
        lastSyncAt
        lastSync {
          users
          groups
          provisioned
          deprovisioned
          errors
        }
      }
    }
  }
`;
const CREATE = gql`
  mutation ConsoleDirectoryCreate($parentId: ID!, $input: DirectoryCreateInput!) {
    directoryCreate(parentId: $parentId, input: $input) {
      userErrors {
        code
        message
      }
      token
    }
  }
`;
const ROTATE = gql`
  mutation ConsoleDirectoryRotate($id: ID!) {
    directoryRotateToken(id: $id) {
      userErrors {
        code
        message
      }
      token
    }
  }
`;
const SYNC = gql`
  mutation ConsoleDirectorySync($id: ID!) {
    directorySync(id: $id) {
      userErrors {
        code
        message
      }
      directory {
        id
      }
    }
  }
`;
const SYNCED = gql`
  subscription ConsoleDirectorySynced($parentId: ID!) {
    directoryStatusChanged(parentId: $parentId) {
      directoryId
      users
      groups
    }
  }
`;

/**
 * @typedef {{ id: string, name: string, provider: string, scimBaseUrl: string, userCount: number,
 *   activeUserCount: number, groupCount: number, lastRequestAt: string | null, lastSyncAt: string | null,
 *   lastSync: { users: number, groups: number, provisioned: number, deprovisioned: number, errors: string[] } | null }} Directory
 */

/** @param {import('./panel.js').ScreenContext} context */
export function directorySection({ parentId, onLeave }) {
  // The token exists only in the mutation's answer: kept on screen until the next change, never re-read.
  const tokenNotice = h('div', { class: 'token-notice' });
  /** @param {string} name @param {unknown} token */
  const showToken = (name, token) => {
    if (typeof token !== 'string') throw new Error('The server answered without a token: try again.');
    fill(
      tokenNotice,
      h(
        'p',
        { class: 'warning', role: 'status' },
        `Copy the bearer token of ${name} into your IdP now: it is shown once.`,
      ),
      copyField('SCIM bearer token', token),
    );
  };

  const list = panel(async (body) => {
    /** @type {{ directories: { nodes: Directory[] } }} */
    const data = await request(DIRECTORIES, { parentId });
    const directories = data.directories.nodes;
    body.append(
      directories.length === 0
        ? h('p', {}, 'No SCIM directory. With one, your IdP creates, updates and deactivates accounts here.')
        : h(
            'ul',
            { class: 'cards' },
            directories.map((directory) => card(directory)),
          ),
    );
  });
  onLeave(
    subscribe(
      SYNCED,
      { parentId },
      () => {
        announce('Directory sync finished');
        void list.reload();
      },
      list.reload,
    ),
  );

  /** @param {Directory} directory */
  function card(directory) {
    const sync = directory.lastSync;
    return h(
      'li',
      { class: 'card', 'data-directory': directory.name },
      h('h3', {}, directory.name),
      h(
        'p',
        { class: 'muted' },
        `${directory.provider} · ${directory.activeUserCount} active of ${directory.userCount} users · ${directory.groupCount} groups`,
      ),
      copyField('SCIM base URL', directory.scimBaseUrl),
      h(
        'p',
        { class: 'last-sync' },
        `Last sync ${when(directory.lastSyncAt)}`,
        sync
          ? `: ${sync.users} users, ${sync.groups} groups, ${sync.provisioned} provisioned, ${sync.deprovisioned} deprovisioned`
          : '',
        `. Last request from the IdP ${when(directory.lastRequestAt)}.`,
      ),
      sync &&
        sync.errors.length > 0 &&
        h(
          'ul',
          { class: 'error' },
          sync.errors.map((error) => h('li', {}, error)),
        ),
      h(
        'div',
        { class: 'row' },
        actionButton(
          'Sync Now',
          async () => {
            await mutate(SYNC, { id: directory.id });
            await list.reload();
          },
          { 'aria-label': `Sync ${directory.name} now` },
        ),
        actionButton(
          'Rotate token',
          async () => {
            const question = `Rotate the token of ${directory.name}? The current token stops working 10 minutes from now.`;
            if (!(await confirmDialog(question, 'Rotate'))) return;
            showToken(directory.name, (await mutate(ROTATE, { id: directory.id })).token);
          },
          { class: 'secondary', 'aria-label': `Rotate the token of ${directory.name}` },
        ),
      ),
    );
  }

  const create = form(
    {
      label: 'Create directory',
      action: async (data) => {
        const payload = await mutate(CREATE, {
          parentId,
          input: {
            name: String(data.get('name') ?? ''),
            provider: data.get('provider'),
            pushUrl: String(data.get('pushUrl') ?? '').trim() || undefined,
          },
        });
        create.reset();
        showToken(String(data.get('name')), payload.token);
        await list.reload();
      },
    },
    h(
      'div',
      { class: 'row' },
      field('name', 'Name', { required: true, placeholder: 'Okta' }),
      select('provider', 'Identity provider', PROVIDERS),
      field('pushUrl', 'IdP push URL (for Sync Now)', { type: 'url' }),
    ),
  );

  return section(
    'scim',
    'SCIM directory',
    h('details', { class: 'add' }, h('summary', {}, 'Create a SCIM directory'), create),
    tokenNotice,
    list.element,
  );
}
