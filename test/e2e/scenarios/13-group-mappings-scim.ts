// "Advanced Group Mappings", SCIM: Okta's Push Groups with a rule for every "anthropic-" group. Pushed
// groups decide organizations and roles at once, without a login; a move reaches the user's open session
// on its next query; a user unassigned from the application loses everything at once.
import { expect } from 'vitest';
import type { IdpTenant } from '../../../simulators/idp/index.js';
import {
  AdvancedGroupMappingsUpdateDocument,
  DirectoryCreateDocument,
  MeDocument,
  MembersDocument,
  OrganizationGroupMappingsDocument,
} from '../../generated/graphql.js';
import { mergedConsole, type Person, roles } from '../../scenarios-support/acts.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { capturedParent, type CapturedParent } from '../../support/identity.js';
import { defineScenario, given } from './scenario.js';

interface Names {
  slug: string;
  group: Record<string, string>;
}

interface State {
  parent?: CapturedParent;
  admin?: Person;
  consoleId?: string;
  tenant?: IdpTenant;
  scim?: { baseUrl: string; token: string };
  ent?: Names;
  con?: Names;
  alice?: Person;
}

export default defineScenario<State>({
  section: 'SCIM',
  after: 'Advanced Group Mappings',
  title: 'Advanced Group Mappings with SCIM',
  state: () => ({}),
  steps: [
    {
      name: 'Admin connects Okta provisioning to a SCIM directory of a parent with a linked Console organization',
      guide: [
        'Sharing groups via SCIM is through a different mechanism. In Okta, these are referred to as Push Groups',
      ],
      async run(world, s) {
        s.parent = await capturedParent(world, 'okta-scim.com', 'Okta Scim');
        ({ admin: s.admin, organizationId: s.consoleId } = await mergedConsole(
          world,
          s.parent,
          'Okta Scim Console',
        ));
        const read = async (id: string, token: string): Promise<Names> => {
          const { organization } = await world.gqlOk(OrganizationGroupMappingsDocument, { id }, token);
          return {
            slug: organization.slug,
            group: Object.fromEntries(organization.groupMappingNames.map((n) => [n.role, n.groupName])),
          };
        };
        s.ent = await read(s.parent.organizationId, s.parent.owner.token);
        s.con = await read(s.consoleId!, s.admin!.token);
        s.tenant = await world.idp.createTenant({ preset: 'okta' });
        const created = await world.gqlOk(
          DirectoryCreateDocument,
          {
            parentId: s.parent.parentId,
            input: {
              name: 'Okta',
              provider: 'OKTA',
              pushUrl: `${world.idp.apiUrl}/tenants/${s.tenant.id}/scim/push`,
            },
          },
          s.parent.owner.token,
        );
        s.scim = {
          baseUrl: created.directoryCreate.directory!.scimBaseUrl,
          token: created.directoryCreate.token!,
        };
      },
    },
    {
      name: 'IdP admin creates a Push Groups rule for every "anthropic-" group',
      guide: [
        'Visit the Push Groups page for the SSO Application',
        'Click the “+ Push Groups” button',
        'Create a rule to push all groups starting with the “anthropic-” prefix',
        'Creating a rule-based push group:',
      ],
      async run(world, s) {
        const tenant = given(s.tenant, 'the IdP tenant');
        tenant.configureScim({ ...s.scim!, mode: 'okta', pushGroupsPrefix: 'anthropic-' });
        const entOn = await world.gqlOk(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId: s.parent!.organizationId, input: { enabled: true } },
          s.parent!.owner.token,
        );
        expect(entOn.advancedGroupMappingsUpdate.userErrors).toEqual([]);
        // The Console admin is pushed into the Console admin group before mappings are turned on.
        tenant.addUser({
          email: s.admin!.email,
          firstName: 'Ada',
          lastName: 'Admin',
          groups: ['engineering', s.con!.group.ADMIN!],
        });
        await tenant.scimIdle();
        expect(tenant.scimErrors()).toEqual([]);
        const pushed = tenant.scimLog().filter((r) => r.method === 'POST' && r.path === '/Groups');
        expect(pushed.map((r) => (r.body as { displayName: string }).displayName)).toEqual([
          s.con!.group.ADMIN,
        ]);
        const enabled = await world.gqlOk(
          AdvancedGroupMappingsUpdateDocument,
          { organizationId: s.consoleId!, input: { enabled: true } },
          s.admin!.token,
        );
        expect(enabled.advancedGroupMappingsUpdate.userErrors).toEqual([]);
      },
    },
    {
      name: 'Users assigned with their groups reach exactly the organizations their groups name',
      guide: [
        "If you have multiple organizations under a single parent organization, then it's strongly advised",
        'This will allow you to use IdP groups to control exactly which organizations accounts are given access to.',
      ],
      async run(world, s) {
        const { ent, con } = { ent: given(s.ent, 'the group names'), con: s.con! };
        const alice = uniqueEmail('alice', s.parent!.domain);
        const bob = uniqueEmail('bob', s.parent!.domain);
        s.tenant!.addUser({ email: alice, groups: [ent.group.MEMBER!, con.group.DEVELOPER!, 'engineering'] });
        s.tenant!.addUser({ email: bob, groups: [con.group.BILLING!] });
        await s.tenant!.scimIdle();
        expect(s.tenant!.scimErrors()).toEqual([]);
        const members = await world.gqlOk(
          MembersDocument,
          { organizationId: s.consoleId!, first: 100 },
          s.admin!.token,
        );
        expect(Object.fromEntries(members.members.nodes.map((m) => [m.user.email, m.role]))).toEqual({
          [s.admin!.email]: 'ADMIN',
          [alice]: 'DEVELOPER',
          [bob]: 'BILLING',
        });
        s.alice = { email: alice, ...(await world.signIn(alice)) };
        world.cast('Okta Scim employee', {
          role: 'by pushed groups (deprovisioned later)',
          email: alice,
          signInWith: 'e-mailed code',
        });
        expect(await roles(world, s.alice.token)).toEqual({ [ent.slug]: 'MEMBER', [con.slug]: 'DEVELOPER' });
      },
    },
    {
      name: "A move between pushed groups reaches the user's open session at once",
      guide: ['Creating a rule-based push group:'],
      async run(world, s) {
        const alice = given(s.alice, "the user's session");
        s.tenant!.setGroups(alice.email, [s.con!.group.ADMIN!, 'engineering']);
        await s.tenant!.scimIdle();
        expect(await roles(world, alice.token)).toEqual({ [s.con!.slug]: 'ADMIN' });
      },
    },
    {
      name: 'A user unassigned from the application is deprovisioned at once',
      guide: ['Remove users from the SSO application in your IdP'],
      async run(world, s) {
        const alice = given(s.alice, "the user's session");
        s.tenant!.assignUser(alice.email, false);
        await s.tenant!.scimIdle();
        expect((await world.gql(MeDocument, {}, alice.token)).data?.me ?? null).toBeNull();
        const members = await world.gqlOk(
          MembersDocument,
          { organizationId: s.consoleId!, first: 100 },
          s.admin!.token,
        );
        expect(members.members.nodes.map((m) => m.user.email)).not.toContain(alice.email);
      },
    },
  ],
});
