// "Domain memberships": the accounts on the parent's verified domains and every organization they belong
// to (in the parent or not), in the API and as CSV and JSON downloads.
import { expect } from 'vitest';
import {
  DomainMembershipsDocument,
  type DomainMembershipsQuery,
  IdentitySettingsDocument,
  OrganizationCreateDocument,
} from '../../generated/graphql.js';
import { capturedParent, type CapturedParent } from '../../support/identity.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { defineScenario, given } from './scenario.js';

interface State {
  parent?: CapturedParent;
  outsider?: string;
  rows?: DomainMembershipsQuery['domainMemberships']['nodes'];
}

export default defineScenario<State>({
  section: 'Domain memberships',
  title: 'Domain memberships',
  state: () => ({}),
  steps: [
    {
      name: 'Admin navigates to the Identity settings page of a parent with a verified domain',
      guide: [
        'To view or download information about your verified domains',
        'Navigate to claude.ai/settings/identity',
      ],
      async run(world, s) {
        s.parent = await capturedParent(world, 'members-corp.com', 'Members Corp');
        world.cast('Members Corp owner', {
          role: 'PRIMARY_OWNER of Members Corp',
          email: s.parent.owner.email,
          signInWith: 'e-mailed code',
        });
        // An employee on the domain runs an organization of their own, outside the parent.
        s.outsider = uniqueEmail('side-project', 'members-corp.com');
        const outsider = await world.signIn(s.outsider);
        await world.gqlOk(
          OrganizationCreateDocument,
          { input: { name: 'Side Project', kind: 'API_CONSOLE' } },
          outsider.token,
        );
        const settings = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: s.parent.organizationId },
          s.parent.owner.token,
        );
        expect(settings.identitySettings.available).toBe(true);
      },
    },
    {
      name: 'Admin clicks "View Domain Memberships"',
      guide: ['Click "View Domain Memberships" in the "Domain management" section'],
      async run(world, s) {
        const parent = given(s.parent, 'the parent');
        const page = await world.gqlOk(
          DomainMembershipsDocument,
          { parentId: parent.parentId, first: 100 },
          parent.owner.token,
        );
        s.rows = page.domainMemberships.nodes;
        expect(s.rows.map((r) => [r.email, r.organizationName, r.inParent]).sort()).toEqual(
          [
            [parent.owner.email, 'Members Corp', true],
            [s.outsider, 'Side Project', false],
          ].sort(),
        );
      },
    },
    {
      name: 'Admin downloads the domain memberships as CSV and JSON',
      guide: ['download your domain membership details in CSV or JSON format'],
      async run(world, s) {
        const parent = given(s.parent, 'the parent');
        const headers = { authorization: `Bearer ${parent.owner.token}` };
        const json = await fetch(`${world.url}/parents/${parent.parentId}/domain-memberships.json`, {
          headers,
        });
        expect(json.headers.get('content-disposition')).toBe(
          `attachment; filename="domain-memberships-${parent.parentId}.json"`,
        );
        expect(await json.json()).toEqual(s.rows);
        const csv = await fetch(`${world.url}/parents/${parent.parentId}/domain-memberships.csv`, {
          headers,
        });
        expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
        const lines = (await csv.text()).trim().split(/\r?\n/);
        expect(lines).toHaveLength(1 + s.rows!.length);
        expect(lines[0]).toContain('email');
        expect(lines.slice(1).join('\n')).toContain(s.outsider);
      },
    },
  ],
});
