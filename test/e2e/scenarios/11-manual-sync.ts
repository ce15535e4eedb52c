// "Manually syncing your directory": with the IdP's automatic pushes off, a user added in the IdP is not
// here yet; "Sync Now" reconciles, and the directory's status arrives live on the admin's subscription.
import { expect } from 'vitest';
import type { IdpTenant } from '../../../simulators/idp/index.js';
import {
  DirectoryCreateDocument,
  DirectoryStatusChangedDocument,
  type DirectoryStatusChangedSubscription,
  DirectorySyncDocument,
  MembersDocument,
} from '../../generated/graphql.js';
import { type LiveSubscription, subscribe } from '../../scenarios-support/acts.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { capturedParent, type CapturedParent } from '../../support/identity.js';
import { defineScenario, eventually, given } from './scenario.js';

interface State {
  parent?: CapturedParent;
  tenant?: IdpTenant;
  directoryId?: string;
  bob?: string;
  live?: LiveSubscription<DirectoryStatusChangedSubscription>;
}

export default defineScenario<State>({
  section: 'Manually syncing your directory',
  title: 'Manual directory sync',
  state: () => ({}),
  steps: [
    {
      name: 'A user is added in the IdP while automatic pushes are off',
      guide: ['SCIM directory syncing happens automatically'],
      async run(world, s) {
        s.parent = await capturedParent(world, 'manual-sync.com', 'Manual Sync');
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
        s.directoryId = created.directoryCreate.directory!.id;
        s.tenant.configureScim({
          baseUrl: created.directoryCreate.directory!.scimBaseUrl,
          token: created.directoryCreate.token!,
          mode: 'okta',
          pushGroupsPrefix: 'anthropic-',
        });
        s.tenant.setScimAutoPush(false);
        s.bob = uniqueEmail('bob', 'manual-sync.com');
        s.tenant.addUser({ email: s.bob, firstName: 'Bob', lastName: 'B', groups: [] });
        const before = await world.gqlOk(
          MembersDocument,
          { organizationId: s.parent.organizationId, first: 100 },
          s.parent.owner.token,
        );
        expect(before.members.nodes.some((m) => m.user.email === s.bob)).toBe(false);
      },
    },
    {
      name: 'Admin clicks "Sync Now" under Directory sync (SCIM) and the user arrives',
      guide: [
        'but you can prompt a manual sync if needed',
        'From your Identity and access settings, click "Sync Now" under the Directory sync (SCIM) section.',
      ],
      async run(world, s) {
        const parent = given(s.parent, 'the parent');
        s.live = await subscribe(
          world,
          DirectoryStatusChangedDocument,
          { parentId: parent.parentId },
          parent.owner.token,
        );
        const synced = await world.gqlOk(DirectorySyncDocument, { id: s.directoryId! }, parent.owner.token);
        expect(synced.directorySync.directory?.lastSync).toMatchObject({ pushRequested: true, errors: [] });
        const after = await world.gqlOk(
          MembersDocument,
          { organizationId: parent.organizationId, first: 100 },
          parent.owner.token,
        );
        expect(after.members.nodes.find((m) => m.user.email === s.bob)).toMatchObject({ source: 'SCIM' });
        const events = await eventually(
          () => s.live!.events,
          (list) => list.length >= 1,
          { what: 'the live directory status' },
        );
        expect(events[0]!.directoryStatusChanged).toMatchObject({ directoryId: s.directoryId, errors: [] });
      },
    },
  ],
});
