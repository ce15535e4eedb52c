// Domains: "Add Domain", the TXT record to publish with copy buttons, the live Pending to Verified badge,
// "Check now", and "View Domain Memberships" with its CSV and JSON downloads.
import { gql, mutate, request, subscribe } from './api.js';
import {
  actionButton,
  announce,
  badge,
  confirmDialog,
  copyField,
  field,
  form,
  h,
  section,
  when,
} from './dom.js';
import { panel } from './panel.js';

const DOMAINS = gql`
  query ConsoleDomains($parentId: ID!) {
    domains(parentId: $parentId, first: 100) {
      nodes {
        id
        name
        status
        claimExpiresAt
        verifiedAt
        lastCheckedAt
        lastCheckOutcome
        lastCheckDetail
        verificationRecord {
          name
          type
          value
        }
      }
    }
  }
`;
const ADD = gql`
  mutation ConsoleDomainAdd($parentId: ID!, $name: String!) {
    domainAdd(parentId: $parentId, input: { name: $name }) {
      userErrors {
        code
        message
      }
      domain {
        id
        status
      }
    }
  }
`;
const REFRESH = gql`
  mutation ConsoleDomainRefresh($id: ID!) {
    domainRefresh(id: $id) {
      userErrors {
        code
        message
      }
      domain {
        id
        status
        lastCheckDetail
      }
    }
  }
`;
const RESTART = gql`
  mutation ConsoleDomainRestart($id: ID!) {
    domainRestart(id: $id) {
      userErrors {
        code
        message
      }
      domain {
        id
        status
      }
    }
  }
`;
const REMOVE = gql`
  mutation ConsoleDomainRemove($id: ID!) {
    domainRemove(id: $id) {
      userErrors {
        code
        message
      }
      domain {
        id
        status
      }
    }
  }
`;
const STATUS_CHANGED = gql`
  subscription ConsoleDomainStatus($parentId: ID!) {
    domainStatusChanged(parentId: $parentId) {
      domainId
      name
      status
    }
  }
`;
const MEMBERSHIPS = gql`
  query ConsoleDomainMemberships($parentId: ID!) {
    domainMemberships(parentId: $parentId, first: 100) {
      nodes {
        email
        domain
        organizationName
        role
        source
      }
    }
  }
`;

/**
 * @typedef {{ id: string, name: string, status: string, claimExpiresAt: string, verifiedAt: string | null,
 *   lastCheckedAt: string | null, lastCheckOutcome: string | null, lastCheckDetail: string | null,
 *   verificationRecord: { name: string, type: string, value: string } }} Domain
 * @typedef {{ email: string, domain: string, organizationName: string | null, role: string | null, source: string | null }} DomainMembership
 */

/** @param {import('./panel.js').ScreenContext} context */
export function domainsSection({ parentId, onLeave }) {
  const list = panel(async (body) => {
    /** @type {{ domains: { nodes: Domain[] } }} */
    const data = await request(DOMAINS, { parentId });
    const domains = data.domains.nodes;
    body.append(
      domains.length === 0
        ? h('p', {}, 'No domains yet. Add your company’s e-mail domain to capture its accounts.')
        : h(
            'ul',
            { class: 'cards' },
            domains.map((domain) => domainCard(domain, list.reload)),
          ),
    );
  });
  onLeave(
    subscribe(
      STATUS_CHANGED,
      { parentId },
      (/** @type {{ domainStatusChanged: { name: string, status: string } }} */ data) => {
        announce(`${data.domainStatusChanged.name} is now ${data.domainStatusChanged.status.toLowerCase()}`);
        void list.reload();
      },
      list.reload,
    ),
  );

  const add = form(
    {
      label: 'Add Domain',
      action: async (data) => {
        await mutate(ADD, { parentId, name: String(data.get('name') ?? '') });
        add.reset();
        await list.reload();
      },
    },
    field('name', 'Domain', { required: true, placeholder: 'example.com', autocomplete: 'off' }),
  );

  return section('domains', 'Domains', add, list.element, membershipsView(parentId));
}

/** @param {Domain} domain @param {() => Promise<void>} reload */
function domainCard(domain, reload) {
  const record = domain.verificationRecord;
  const run = (/** @type {string} */ mutation) => async () => {
    await mutate(mutation, { id: domain.id });
    await reload();
  };
  return h(
    'li',
    { class: 'card', 'data-domain': domain.name },
    h('h3', {}, domain.name, ' ', badge(domain.status)),
    domain.status === 'VERIFIED'
      ? h(
          'p',
          {},
          `Verified ${when(domain.verifiedAt)}. Accounts on this domain and its subdomains are captured.`,
        )
      : [
          h(
            'p',
            {},
            `Publish this ${record.type} record at your DNS provider, then check. We also check automatically.`,
          ),
          copyField('Record name', record.name),
          copyField('Record value', record.value),
          h(
            'p',
            { class: 'muted' },
            `Last checked ${when(domain.lastCheckedAt)}`,
            domain.lastCheckDetail ? `: ${domain.lastCheckDetail}` : '',
            domain.status === 'PENDING' ? `. The claim expires ${when(domain.claimExpiresAt)}.` : '',
          ),
        ],
    h(
      'div',
      { class: 'row' },
      domain.status === 'PENDING' &&
        actionButton('Check now', run(REFRESH), { 'aria-label': `Check ${domain.name} now` }),
      ['FAILED', 'UNVERIFIED', 'BLOCKED'].includes(domain.status) &&
        actionButton('Start again', run(RESTART), { 'aria-label': `Start verifying ${domain.name} again` }),
      actionButton(
        'Remove',
        async () => {
          if (await confirmDialog(`Remove ${domain.name}? A verified domain stops being captured.`, 'Remove'))
            await run(REMOVE)();
        },
        { class: 'danger', 'aria-label': `Remove ${domain.name}` },
      ),
    ),
  );
}

/** @param {string} parentId */
function membershipsView(parentId) {
  const container = h('div', { id: 'domain-memberships' });
  const show = async () => {
    /** @type {{ domainMemberships: { nodes: DomainMembership[] } }} */
    const data = await request(MEMBERSHIPS, { parentId });
    const rows = data.domainMemberships.nodes;
    container.replaceChildren(
      h('h3', {}, 'Domain memberships'),
      h(
        'p',
        {},
        'Every account on your verified domains and the organizations it belongs to. Download all: ',
        h('a', { href: `/parents/${parentId}/domain-memberships.csv`, download: true }, 'CSV'),
        ' · ',
        h('a', { href: `/parents/${parentId}/domain-memberships.json`, download: true }, 'JSON'),
      ),
      rows.length === 0
        ? h('p', {}, 'No accounts on verified domains yet.')
        : h(
            'div',
            { class: 'table-scroll' },
            h(
              'table',
              {},
              h('caption', { class: 'visually-hidden' }, 'Domain memberships (first 100)'),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['E-mail', 'Domain', 'Organization', 'Role', 'Source'].map((t) =>
                    h('th', { scope: 'col' }, t),
                  ),
                ),
              ),
              h(
                'tbody',
                {},
                rows.map((row) =>
                  h(
                    'tr',
                    {},
                    [
                      row.email,
                      row.domain,
                      row.organizationName ?? '—',
                      row.role ?? '—',
                      row.source ?? '—',
                    ].map((t) => h('td', {}, t)),
                  ),
                ),
              ),
            ),
          ),
    );
  };
  return h('div', {}, actionButton('View Domain Memberships', show), container);
}
