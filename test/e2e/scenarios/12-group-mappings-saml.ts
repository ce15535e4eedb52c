// "Advanced Group Mappings", SAML: Okta's "Group Attribute Statement" shares every "anthropic-" group at
// login. Turning mappings on before the admin is in a group is refused (lock-out); with the members in
// their groups, each login's groups decide the organizations and roles, and a move applies at the next login.
import { expect } from 'vitest';
import type { IdpTenant } from '../../../simulators/idp/index.js';
import {
  AdvancedGroupMappingsUpdateDocument,
  OrganizationGroupMappingsDocument,
  type SsoConnectionFieldsFragment,
} from '../../generated/graphql.js';
import {
  mergedConsole,
  type Person,
  roles,
  ssoLogin,
  testAndActivate,
} from '../../scenarios-support/acts.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { capturedParent, type CapturedParent, samlConnection } from '../../support/identity.js';
import { defineScenario, given } from './scenario.js';

interface State {
  parent?: CapturedParent;
  admin?: Person;
  consoleId?: string;
  tenant?: IdpTenant;
  connection?: SsoConnectionFieldsFragment;
  ent?: { slug: string; group: Record<string, string> };
  con?: { slug: string; group: Record<string, string> };
  alice?: string;
  bob?: string;
}

export default defineScenario<State>({
  section: 'SAML',
  after: 'Advanced Group Mappings',
  title: 'Advanced Group Mappings with SAML',
  state: () => ({}),
  steps: [
    {
      name: 'Account manager links a Console organization to the Enterprise parent',
      guide: ['can enable features like “Advanced Group Mappings'],
      async run(world, s) {
        s.parent = await capturedParent(world, 'okta-saml.com', 'Okta Saml');
        ({ admin: s.admin, organizationId: s.consoleId } = await mergedConsole(
          world,
          s.parent,
          'Okta Saml Console',
        ));
      },
    },
    {
      name: 'Admin reads the "anthropic-" group names of each organization',
      guide: [
        'we\'ll show special "anthropic-" prefixed group names that can be added in your IdP.',
        'Advanced Group Mappings can be used to provide not just access but also role assignment.',
      ],
      async run(world, s) {
        const parent = given(s.parent, 'the parent');
        const read = async (id: string, token: string) => {
          const { organization } = await world.gqlOk(OrganizationGroupMappingsDocument, { id }, token);
          return {
            slug: organization.slug,
            group: Object.fromEntries(organization.groupMappingNames.map((n) => [n.role, n.groupName])),
          };
        };
        s.ent = await read(parent.organizationId, parent.owner.token);
        s.con = await read(s.consoleId!, s.admin!.token);
        expect(s.con.group).toEqual({
          ADMIN: `anthropic-${s.con.slug}-admin`,
          DEVELOPER: `anthropic-${s.con.slug}-developer`,
          BILLING: `anthropic-${s.con.slug}-billing`,
          USER: `anthropic-${s.con.slug}-user`,
        });
        expect(s.ent.group.MEMBER).toBe(`anthropic-${s.ent.slug}-member`);
      },
    },
    {
      name: 'IdP admin edits the SAML settings with a "Group Attribute Statement" for "anthropic-" groups',
      guide: [
        'For JIT based provisioning, Advanced Group Mappings will be shared at login time via your IdP’s SAML response.',
        'To have Okta share groups on login, you will need to edit the SAML section of your SSO Application.',
        'Under “Applications” select the SSO Application you configured for Anthropic',
        'Select “Edit” on your SAML settings',
        'Create a “Group Attribute Statement” to share all groups prefixed with “anthropic-” to Anthropic on login.',
        'Where to edit SAML Settings',
        'On the second page of the SAML integration page',
        'Sharing groups by prefix',
      ],
      async run(world, s) {
        const parent = given(s.parent, 'the parent');
        s.tenant = await world.idp.createTenant({ preset: 'okta', groupPrefix: 'anthropic-' });
        s.tenant.addUser({ email: parent.owner.email, firstName: 'Olga', lastName: 'Owner', groups: [] });
        s.tenant.addUser({
          email: s.admin!.email,
          firstName: 'Ada',
          lastName: 'Admin',
          groups: ['engineering'],
        });
        s.connection = await samlConnection(world, parent, s.tenant);
        await testAndActivate(world, parent, s.connection, s.tenant);
        const owner = await ssoLogin(world, s.connection, s.tenant, parent.owner.email);
        const entOn = await world.gqlOk(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId: parent.organizationId, input: { enabled: true } },
          owner,
        );
        expect(entOn.advancedGroupMappingsUpdate.userErrors).toEqual([]);
      },
    },
    {
      name: 'Console admin turning mappings on before being in a group is refused to prevent lockout',
      guide: [
        'Assign members to relevant groups in Okta before turning on Advanced Group Mapping in order to prevent lockout.',
      ],
      async run(world, s) {
        const session = await ssoLogin(
          world,
          given(s.connection, 'the connection'),
          s.tenant!,
          s.admin!.email,
        );
        const refused = await world.gqlOk(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId: s.consoleId!, input: { enabled: true } },
          session,
        );
        expect(refused.advancedGroupMappingsUpdate.userErrors).toMatchObject([{ code: 'LOCKOUT' }]);
      },
    },
    {
      name: 'IdP admin assigns members to the groups, then the Console admin turns mappings on',
      guide: [
        'When members are added to these groups, they will then automatically be provisioned for access.',
      ],
      async run(world, s) {
        const tenant = given(s.tenant, 'the IdP tenant');
        const { ent, con } = { ent: s.ent!, con: s.con! };
        tenant.setGroups(s.admin!.email, ['engineering', con.group.ADMIN!]);
        s.alice = uniqueEmail('alice', s.parent!.domain);
        s.bob = uniqueEmail('bob', s.parent!.domain);
        tenant.addUser({
          email: s.alice,
          firstName: 'Alice',
          lastName: 'A',
          groups: [ent.group.MEMBER!, con.group.DEVELOPER!, 'engineering'],
        });
        tenant.addUser({ email: s.bob, firstName: 'Bob', lastName: 'B', groups: [con.group.BILLING!] });
        world.cast('Okta Saml employee', {
          role: 'Enterprise MEMBER and Console DEVELOPER by groups',
          email: s.alice,
          signInWith: 'SSO (Okta SAML tenant)',
        });
        const session = await ssoLogin(world, s.connection!, tenant, s.admin!.email);
        const enabled = await world.gqlOk(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId: s.consoleId!, input: { enabled: true } },
          session,
        );
        expect(enabled.advancedGroupMappingsUpdate.userErrors).toEqual([]);
        expect(await roles(world, session)).toEqual({ [con.slug]: 'ADMIN' });
      },
    },
    {
      name: 'Members log in and the groups shared at login decide their organizations and roles',
      guide: [
        'Hereafter, all members of group names that start with “anthropic-” will be shared with Anthropic at login time.',
        'Advanced Group Mappings allow you to control user access to specific organizations under your parent organization.',
      ],
      async run(world, s) {
        const { ent, con } = { ent: given(s.ent, 'the group names'), con: s.con! };
        const alice = await ssoLogin(world, s.connection!, s.tenant!, s.alice!);
        expect(await roles(world, alice)).toEqual({ [ent.slug]: 'MEMBER', [con.slug]: 'DEVELOPER' });
        const bob = await ssoLogin(world, s.connection!, s.tenant!, s.bob!);
        expect(await roles(world, bob)).toEqual({ [con.slug]: 'BILLING' });
      },
    },
    {
      name: 'A move between groups in Okta applies at the next login',
      guide: ['Advanced Group Mappings can be used to provide not just access but also role assignment.'],
      async run(world, s) {
        const con = given(s.con, 'the group names');
        s.tenant!.setGroups(s.alice!, [con.group.ADMIN!, 'engineering']);
        const alice = await ssoLogin(world, s.connection!, s.tenant!, s.alice!);
        expect(await roles(world, alice)).toEqual({ [con.slug]: 'ADMIN' });
      },
    },
  ],
});
