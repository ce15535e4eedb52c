// SSO connections: "Add SSO" (SAML from metadata, or OIDC), the values to give the IdP, test, activate
// (which ends every session of the parent's users), deactivate, and certificate expiry.
import { gql, mutate, request } from './api.js';
import {
  actionButton,
  badge,
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

const CONNECTIONS = gql`
  query ConsoleSsoConnections($parentId: ID!) {
    ssoConnections(parentId: $parentId, first: 100) {
      nodes {
        id
        name
        protocol
        provider
        state
        acsUrl
        spEntityId
        redirectUri
        loginUrl
        metadataUrl
        metadataError
        lastTestedAt
        lastTestSucceeded
        lastTestError
        activatedAt
        certificates {
          fingerprint
          notAfter
        }
        certificateExpiryWarning {
          notAfter
        }
      }
    }
  }
`;
const CREATE = gql`
  mutation ConsoleSsoCreate($parentId: ID!, $input: SsoConnectionCreateInput!) {
    ssoConnectionCreate(parentId: $parentId, input: $input) {
      userErrors {
        code
        message
      }
      connection {
        id
      }
    }
  }
`;
const TEST = gql`
  mutation ConsoleSsoTest($id: ID!) {
    ssoConnectionTest(id: $id) {
      userErrors {
        code
        message
      }
      testUrl
    }
  }
`;
const ACTIVATE = gql`
  mutation ConsoleSsoActivate($id: ID!) {
    ssoConnectionActivate(id: $id) {
      userErrors {
        code
        message
      }
      revokedSessions
    }
  }
`;
const DEACTIVATE = gql`
  mutation ConsoleSsoDeactivate($id: ID!) {
    ssoConnectionDeactivate(id: $id) {
      userErrors {
        code
        message
      }
      connection {
        id
      }
    }
  }
`;
const DELETE = gql`
  mutation ConsoleSsoDelete($id: ID!) {
    ssoConnectionDelete(id: $id) {
      userErrors {
        code
        message
      }
      connection {
        id
      }
    }
  }
`;

/** The identity providers, for SSO connections and SCIM directories alike. */
export const PROVIDERS = ['OKTA', 'GOOGLE_WORKSPACE', 'ENTRA_ID', 'GENERIC'];

/**
 * @typedef {{ id: string, name: string, protocol: string, provider: string, state: string, acsUrl: string | null,
 *   spEntityId: string | null, redirectUri: string | null, loginUrl: string, metadataUrl: string | null,
 *   metadataError: string | null, lastTestedAt: string | null, lastTestSucceeded: boolean | null,
 *   lastTestError: string | null, activatedAt: string | null,
 *   certificates: { fingerprint: string, notAfter: string }[], certificateExpiryWarning: { notAfter: string } | null }} Connection
 */

/**
 * @param {import('./panel.js').ScreenContext} context
 * @param {() => void} signedOut what to do when activation ended the admin's own session
 */
export function ssoSection({ parentId, onLeave }, signedOut) {
  const list = panel(async (body) => {
    /** @type {{ ssoConnections: { nodes: Connection[] } }} */
    const data = await request(CONNECTIONS, { parentId });
    const connections = data.ssoConnections.nodes;
    body.append(
      connections.length === 0
        ? h('p', {}, 'No SSO connection yet. Verify a domain, then add your identity provider.')
        : h(
            'ul',
            { class: 'cards' },
            connections.map((connection) => card(connection)),
          ),
    );
  });

  // A test runs in another window; its result shows here when that sign-in has finished.
  /** @type {number | undefined} */
  let waiting;
  onLeave(() => clearInterval(waiting));
  /** @param {Connection} connection */
  const awaitTest = (connection) => {
    clearInterval(waiting);
    let polls = 0;
    waiting = window.setInterval(async () => {
      if (++polls > 150) return clearInterval(waiting);
      /** @type {{ ssoConnections: { nodes: Connection[] } }} */
      const data = await request(CONNECTIONS, { parentId }).catch(() => ({ ssoConnections: { nodes: [] } }));
      const now = data.ssoConnections.nodes.find((node) => node.id === connection.id);
      if (now && now.lastTestedAt !== connection.lastTestedAt) {
        clearInterval(waiting);
        await list.reload();
      }
    }, 2000);
  };

  /** @param {Connection} connection */
  function card(connection) {
    const warning = connection.certificateExpiryWarning;
    const testLink = h('p', { class: 'test-link' });
    return h(
      'li',
      { class: 'card', 'data-connection': connection.name },
      h('h3', {}, connection.name, ' ', badge(connection.state)),
      h('p', { class: 'muted' }, `${connection.protocol} · ${connection.provider}`),
      warning &&
        h(
          'p',
          { class: 'warning', role: 'status' },
          `A signing certificate expires ${when(warning.notAfter)}: add its successor at your IdP and here.`,
        ),
      connection.metadataError &&
        h(
          'p',
          { class: 'warning' },
          `Metadata refresh failed (the last good copy stays in use): ${connection.metadataError}`,
        ),
      h(
        'details',
        {},
        h('summary', {}, 'Values for your identity provider'),
        connection.acsUrl && copyField('ACS URL', connection.acsUrl),
        connection.spEntityId && copyField('SP entity ID', connection.spEntityId),
        connection.redirectUri && copyField('Redirect URI', connection.redirectUri),
        copyField('Sign-in URL', connection.loginUrl),
      ),
      connection.certificates.length > 0 &&
        h(
          'ul',
          { class: 'plain' },
          connection.certificates.map((c) =>
            h('li', {}, `Certificate ${c.fingerprint.slice(0, 23)}… expires ${when(c.notAfter)}`),
          ),
        ),
      h(
        'p',
        { class: 'test-result' },
        connection.lastTestedAt
          ? connection.lastTestSucceeded
            ? `Test succeeded ${when(connection.lastTestedAt)}.`
            : `Test failed ${when(connection.lastTestedAt)}: ${connection.lastTestError ?? 'unknown reason'}.`
          : 'Not tested yet: a successful test sign-in is needed before activation.',
      ),
      testLink,
      h(
        'div',
        { class: 'row' },
        actionButton(
          'Test',
          async () => {
            const { testUrl } = await mutate(TEST, { id: connection.id });
            // A link the admin follows (a window opened after an await is blocked as a pop-up); without
            // an opener, the IdP's pages cannot reach back into this one.
            fill(
              testLink,
              h(
                'a',
                { href: String(testUrl), target: '_blank', rel: 'noopener noreferrer' },
                'Open the test sign-in',
              ),
              ' in a new window, and sign in as yourself at the IdP. The result shows here when it ends.',
            );
            awaitTest(connection);
          },
          { 'aria-label': `Test ${connection.name}` },
        ),
        connection.state !== 'ACTIVE' &&
          actionButton(
            'Activate',
            async () => {
              const confirmed = await confirmDialog(
                `Activate ${connection.name}?`,
                'Activate and end sessions',
                h(
                  'p',
                  { class: 'warning' },
                  'Every current session of your organization’s users ends, yours included. Everyone on your verified domains then signs in through SSO.',
                ),
              );
              if (!confirmed) return;
              await mutate(ACTIVATE, { id: connection.id });
              signedOut();
            },
            { 'aria-label': `Activate ${connection.name}` },
          ),
        connection.state === 'ACTIVE' &&
          actionButton(
            'Deactivate',
            async () => {
              if (
                !(await confirmDialog(
                  `Deactivate ${connection.name}? E-mail codes and Google sign-in work again.`,
                  'Deactivate',
                ))
              )
                return;
              await mutate(DEACTIVATE, { id: connection.id });
              await list.reload();
            },
            { class: 'danger', 'aria-label': `Deactivate ${connection.name}` },
          ),
        connection.state !== 'ACTIVE' &&
          actionButton(
            'Delete',
            async () => {
              if (!(await confirmDialog(`Delete ${connection.name}?`, 'Delete'))) return;
              await mutate(DELETE, { id: connection.id });
              await list.reload();
            },
            { class: 'danger', 'aria-label': `Delete ${connection.name}` },
          ),
      ),
    );
  }

  return section('sso', 'Single sign-on', addForm(parentId, list.reload), list.element);
}

/** @param {string} parentId @param {() => Promise<void>} reload */
function addForm(parentId, reload) {
  const protocol = select('protocol', 'Protocol', ['SAML', 'OIDC']);
  const saml = h(
    'fieldset',
    { class: 'saml' },
    h('legend', {}, 'SAML: your IdP’s metadata, by URL or pasted'),
    field('metadataUrl', 'Metadata URL', { type: 'url', placeholder: 'https://idp.example.com/metadata' }),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'sso-metadata-xml' }, 'Metadata XML'),
      h('textarea', { id: 'sso-metadata-xml', name: 'metadataXml', rows: '4' }),
    ),
  );
  const oidc = h(
    'fieldset',
    { class: 'oidc', hidden: true },
    h('legend', {}, 'OIDC'),
    field('issuer', 'Issuer', { type: 'url' }),
    field('clientId', 'Client ID'),
    field('clientSecret', 'Client secret', { type: 'password', autocomplete: 'off' }),
  );
  const protocolSelect = /** @type {HTMLSelectElement} */ (protocol.querySelector('select'));
  const showProtocol = () => {
    saml.hidden = protocolSelect.value !== 'SAML';
    oidc.hidden = protocolSelect.value === 'SAML';
  };
  protocolSelect.addEventListener('change', showProtocol);
  const element = form(
    {
      label: 'Add SSO',
      action: async (data) => {
        const text = (/** @type {string} */ name) => String(data.get(name) ?? '').trim() || undefined;
        const input =
          data.get('protocol') === 'SAML'
            ? {
                protocol: 'SAML',
                saml: { metadataUrl: text('metadataUrl'), metadataXml: text('metadataXml') },
              }
            : {
                protocol: 'OIDC',
                oidc: {
                  issuer: text('issuer'),
                  clientId: text('clientId'),
                  clientSecret: text('clientSecret'),
                },
              };
        await mutate(CREATE, {
          parentId,
          input: { ...input, name: text('name'), provider: data.get('provider') },
        });
        element.reset();
        showProtocol();
        element.closest('details')?.removeAttribute('open');
        await reload();
      },
    },
    h(
      'div',
      { class: 'row' },
      field('name', 'Name', { placeholder: 'Okta' }),
      select('provider', 'Identity provider', PROVIDERS),
      protocol,
    ),
    saml,
    oidc,
  );
  return h('details', { class: 'add' }, h('summary', {}, 'Add SSO'), element);
}
