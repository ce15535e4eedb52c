// "SCIM": the IdP (Okta mode of the simulator) provisions to our SCIM server. Adding a user to the SSO
// application creates the account and the membership; removing them deprovisions at once: their sessions
// end and their open subscription is closed by the server (4403).
import { expect } from 'vitest';
import type { IdpTenant } from '../../../simulators/idp/index.js';
import {
  DirectoryCreateDocument,
  MemberRoleUpdateDocument,
  MembersDocument,
  MembershipChangedDocument,
  OrganizationsDocument,
} from '../../generated/graphql.js';
import { type LiveSubscription, type Person, subscribe } from '../../scenarios-support/acts.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { capturedParent, type CapturedParent } from '../../support/identity.js';
import { defineScenario, eventually, given } from './scenario.js';

interface State {
  parent?: CapturedParent;
  tenant?: IdpTenant;
  alice?: string;
  aliceId?: string;
  session?: Person;
  live?: LiveSubscription<unknown>;
}

export default defineScenario<State>({
  section: 'SCIM',
  title: 'SCIM',
  state: () => ({}),
  steps: [
    {
      name: 'Admin connects the IdP to a new SCIM directory',
      guide: [
        'Using SCIM, you can have group members added or deleted based on automatic updates from your IdP.',
      ],
      async run(world, s) {
        s.parent = await capturedParent(world, 'sync-corp.com', 'Sync Corp');
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
        expect(created.directoryCreate.userErrors).toEqual([]);
        s.tenant.configureScim({
          baseUrl: created.directoryCreate.directory!.scimBaseUrl,
          token: created.directoryCreate.token!,
          mode: 'okta',
          pushGroupsPrefix: 'anthropic-',
        });
      },
    },
    {
      name: 'IdP admin adds a user to the SSO application and the user is provisioned',
      guide: ['Adding members', 'Add users to the SSO application in your IdP'],
      async run(world, s) {
        const tenant = given(s.tenant, 'the IdP tenant');
        s.alice = uniqueEmail('alice', 'sync-corp.com');
        tenant.addUser({
          email: s.alice,
          firstName: 'Alice',
          lastName: 'A',
          groups: ['anthropic-sync-corp-member', 'not-pushed'],
        });
        await tenant.scimIdle();
        expect(tenant.scimErrors()).toEqual([]);
        const members = await world.gqlOk(
          MembersDocument,
          { organizationId: s.parent!.organizationId, first: 100 },
          s.parent!.owner.token,
        );
        const alice = members.members.nodes.find((m) => m.user.email === s.alice);
        expect(alice).toMatchObject({ role: 'MEMBER', source: 'SCIM' });
        s.aliceId = alice!.user.id;
        expect(tenant.scimLog().some((r) => JSON.stringify(r.body ?? '').includes('not-pushed'))).toBe(false);
      },
    },
    {
      name: 'The provisioned user signs in and keeps a live subscription open',
      guide: ['This is the ideal setup for full control of group memberships.'],
      async run(world, s) {
        const alice = given(s.alice, 'the provisioned user');
        // An owner, so that the membership subscription is hers to hold.
        await world.gqlOk(
          MemberRoleUpdateDocument,
          { organizationId: s.parent!.organizationId, userId: s.aliceId!, role: 'OWNER' },
          s.parent!.owner.token,
        );
        s.session = { email: alice, ...(await world.signIn(alice)) };
        s.live = await subscribe(
          world,
          MembershipChangedDocument,
          { organizationId: s.parent!.organizationId },
          s.session.token,
        );
      },
    },
    {
      name: 'IdP admin removes the user from the SSO application and access ends at once',
      guide: ['Removing members', 'Remove users from the SSO application in your IdP'],
      async run(world, s) {
        const session = given(s.session, "the user's session");
        s.tenant!.assignUser(session.email, false);
        await s.tenant!.scimIdle();
        const refused = await world.gql(OrganizationsDocument, {}, session.token);
        expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
        await eventually(
          () => s.live!.closedWith(),
          (code) => code === 4403,
          { what: 'the subscription to close with 4403' },
        );
      },
    },
  ],
});
