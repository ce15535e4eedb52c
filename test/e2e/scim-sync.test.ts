// The guide's SCIM section with the IdP simulator's SCIM client (Okta mode): adding users to the SSO
// application provisions accounts and members; removing them deprovisions at once (sessions and open
// subscriptions end); "Sync now" reconciles a change made while pushing was off.
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DirectoryCreateDocument,
  DirectoryStatusChangedDocument,
  type DirectoryStatusChangedSubscription,
  DirectorySyncDocument,
  MemberRoleUpdateDocument,
  MembersDocument,
  MembershipChangedDocument,
  OrganizationsDocument,
} from '../generated/graphql.js';
import { capturedParent } from '../support/identity.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('directory sync with SCIM', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('provisions from the IdP, deprovisions at once, and Sync now reconciles what was not pushed', async () => {
    const parent = await capturedParent(stack, 'sync-corp.com', 'Sync Corp');
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    const created = await stack.gqlOk(
      DirectoryCreateDocument,
      {
        parentId: parent.parentId,
        input: {
          name: 'Okta',
          provider: 'OKTA',
          pushUrl: `${stack.idp.apiUrl}/tenants/${tenant.id}/scim/push`,
        },
      },
      parent.owner.token,
    );
    const directory = created.directoryCreate.directory!;
    tenant.configureScim({
      baseUrl: directory.scimBaseUrl,
      token: created.directoryCreate.token!,
      mode: 'okta',
      pushGroupsPrefix: 'anthropic-',
    });

    // "Add users to the SSO application in your IdP."
    const alice = uniqueEmail('alice', 'sync-corp.com');
    tenant.addUser({
      email: alice,
      firstName: 'Alice',
      lastName: 'A',
      groups: ['anthropic-sync-corp-member', 'not-pushed'],
    });
    await tenant.scimIdle();
    expect(tenant.scimErrors()).toEqual([]);
    const members = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId, first: 100 },
      parent.owner.token,
    );
    const aliceMember = members.members.nodes.find((m) => m.user.email === alice)!;
    expect(aliceMember).toMatchObject({ role: 'MEMBER', source: 'SCIM' });
    expect(tenant.scimLog().some((r) => r.method === 'POST' && r.path === '/Groups')).toBe(true);
    expect(tenant.scimLog().some((r) => JSON.stringify(r.body ?? '').includes('not-pushed'))).toBe(false);

    // Alice signs in and holds a live subscription (as an owner of the organization).
    await stack.gqlOk(
      MemberRoleUpdateDocument,
      { organizationId: parent.organizationId, userId: aliceMember.user.id, role: 'OWNER' },
      parent.owner.token,
    );
    const session = await stack.signIn(alice);
    const client = stack.ws(session.token);
    let closed: { code: number } | undefined;
    client.on('closed', (event) => {
      closed = event as { code: number };
    });
    const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    client.subscribe(
      { query: print(MembershipChangedDocument), variables: { organizationId: parent.organizationId } },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
    await connected;

    // "Remove users from the SSO application in your IdP": access ends at once.
    tenant.assignUser(alice, false);
    await tenant.scimIdle();
    const refused = await stack.gql(OrganizationsDocument, {}, session.token);
    expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    await expect.poll(() => closed?.code, { timeout: 5_000 }).toBe(4403);

    // A change made while pushing is off reaches us with "Sync now".
    const events: DirectoryStatusChangedSubscription['directoryStatusChanged'][] = [];
    const ownerClient = stack.ws(parent.owner.token);
    const ownerConnected = new Promise<void>((resolve) => ownerClient.on('connected', () => resolve()));
    ownerClient.subscribe<DirectoryStatusChangedSubscription>(
      { query: print(DirectoryStatusChangedDocument), variables: { parentId: parent.parentId } },
      {
        next: (v) => v.data && events.push(v.data.directoryStatusChanged),
        error: () => {},
        complete: () => {},
      },
    );
    await ownerConnected;
    tenant.setScimAutoPush(false);
    const bob = uniqueEmail('bob', 'sync-corp.com');
    tenant.addUser({ email: bob, firstName: 'Bob', lastName: 'B', groups: [] });
    const before = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId, first: 100 },
      parent.owner.token,
    );
    expect(before.members.nodes.some((m) => m.user.email === bob)).toBe(false);
    const synced = await stack.gqlOk(DirectorySyncDocument, { id: directory.id }, parent.owner.token);
    expect(synced.directorySync.directory?.lastSync).toMatchObject({ pushRequested: true, errors: [] });
    expect(synced.directorySync.directory?.lastSyncAt).not.toBeNull();
    const after = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId, first: 100 },
      parent.owner.token,
    );
    expect(after.members.nodes.find((m) => m.user.email === bob)).toMatchObject({ source: 'SCIM' });
    await expect.poll(() => events.length, { timeout: 5_000 }).toBe(1);
    expect(events[0]).toMatchObject({ directoryId: directory.id, errors: [] });
  });
});
