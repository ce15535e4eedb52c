// The IdP simulator's SCIM client, against a tiny in-memory SCIM server defined here: the exact requests Okta
// and Entra send when users are assigned, updated and unassigned, groups pushed, renamed and deleted, with
// auto-push off and a full reconcile, the 409 retry path and the "Sync now" HTTP trigger.
import http from 'node:http';
import type net from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  SCIM_ENTERPRISE_USER_SCHEMA,
  SCIM_GROUP_SCHEMA,
  SCIM_PATCH_OP_SCHEMA,
  SCIM_USER_SCHEMA,
  startIdpSimulator,
  type IdpSimulator,
  type IdpTenant,
  type ScimMode,
} from '../../simulators/idp/index.js';

const TOKEN = 'scim-token-0123456789';
const DIRECTORY = 'dir_1';
const ADA = {
  email: 'ada@acme.test',
  firstName: 'Ada',
  lastName: 'Lovelace',
  groups: ['anthropic-admins', 'engineering'],
};
const BOB = {
  email: 'Bob.Smith@acme.test',
  firstName: 'Bob',
  lastName: 'Smith',
  groups: ['anthropic-admins'],
};

interface Received {
  method: string;
  path: string;
  body?: unknown;
  authorization: string | undefined;
  contentType: string | undefined;
}

type Json = Record<string, unknown>;

/** Just enough of a SCIM server: ids, filtered lookups, 409 on a duplicate, PATCH as both products send it. */
class FakeScimServer {
  readonly received: Received[] = [];
  readonly users = new Map<string, Json>();
  readonly groups = new Map<string, Json>();
  /** userNames / displayNames that one lookup will not find (a create racing ours). */
  readonly missOnce = new Set<string>();
  /** Answers the next matching request with this status. */
  readonly failNext: { method: string; path: string; status: number }[] = [];
  private next = 0;
  private taken = 0;
  private server!: http.Server;
  baseUrl = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as net.AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}/scim/v2/${DIRECTORY}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Requests received since the last call, as "METHOD path". */
  take(): Received[] {
    const taken = this.received.slice(this.taken);
    this.taken = this.received.length;
    return taken;
  }

  /** Puts a user straight into the server (as if created earlier by someone else). */
  seedUser(resource: Json): string {
    const id = `user-${++this.next}`;
    this.users.set(id, { schemas: [SCIM_USER_SCHEMA], ...resource, id });
    return id;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text === '' ? undefined : (JSON.parse(text) as Json);
    const raw = req.url ?? '';
    const prefix = `/scim/v2/${DIRECTORY}`;
    const path = raw.startsWith(prefix) ? raw.slice(prefix.length) : raw;
    const method = req.method ?? 'GET';
    this.received.push({
      method,
      path,
      ...(body === undefined ? {} : { body }),
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
    });
    const send = (status: number, payload?: unknown) => {
      if (payload === undefined) {
        res.writeHead(status);
        res.end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/scim+json' });
      res.end(JSON.stringify(payload));
    };
    const error = (status: number, detail: string, scimType?: string) =>
      send(status, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
        status: String(status),
        ...(scimType ? { scimType } : {}),
        detail,
      });

    if (req.headers.authorization !== `Bearer ${TOKEN}`) return error(401, 'bad token');
    const failure = this.failNext.findIndex((f) => f.method === method && path.startsWith(f.path));
    if (failure >= 0) {
      const [f] = this.failNext.splice(failure, 1);
      return error(f!.status, 'injected failure');
    }

    const url = new URL(path, 'http://scim.invalid');
    const [, type, id] = url.pathname.split('/');
    const store = type === 'Users' ? this.users : type === 'Groups' ? this.groups : undefined;
    if (!store) return error(404, 'no such endpoint');
    const key = type === 'Users' ? 'userName' : 'displayName';
    const same = (a: unknown, b: string) =>
      type === 'Users' ? String(a).toLowerCase() === b.toLowerCase() : a === b;

    if (id === undefined && method === 'GET') {
      const match = /^(\w+) eq "(.*)"$/.exec(url.searchParams.get('filter') ?? '');
      let found = [...store.values()];
      if (match) {
        const value = match[2]!;
        found = this.missOnce.delete(value) ? [] : found.filter((r) => same(r[match[1]!], value));
      }
      if (url.searchParams.get('excludedAttributes') === 'members') {
        found = found.map(({ members: _members, ...rest }) => rest);
      }
      return send(200, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
        totalResults: found.length,
        startIndex: 1,
        itemsPerPage: found.length,
        Resources: found,
      });
    }
    if (id === undefined && method === 'POST' && body) {
      if ([...store.values()].some((r) => same(r[key], String(body[key])))) {
        return error(409, `${key} already exists`, 'uniqueness');
      }
      const { meta: _meta, ...rest } = body;
      const created = { ...rest, id: `${type === 'Users' ? 'user' : 'group'}-${++this.next}` };
      store.set(created.id, created);
      return send(201, created);
    }
    const resource = id === undefined ? undefined : store.get(id);
    if (!resource) return error(404, 'no such resource');
    if (method === 'PUT' && body) {
      store.set(resource.id as string, { ...body, id: resource.id });
      return send(200, store.get(resource.id as string));
    }
    if (method === 'PATCH' && body) {
      applyPatch(resource, body.Operations as Json[]);
      return type === 'Groups' ? send(204) : send(200, resource);
    }
    if (method === 'DELETE') {
      store.delete(resource.id as string);
      return send(204);
    }
    return error(405, 'not supported');
  }
}

function setPath(resource: Json, path: string, value: unknown): void {
  if (path === 'id') return;
  if (path === 'active') {
    resource.active = typeof value === 'string' ? value.toLowerCase() === 'true' : value;
    return;
  }
  if (path === 'emails[type eq "work"].value') {
    const emails = (resource.emails ?? []) as Json[];
    const work = emails.find((email) => email.type === 'work');
    if (work) work.value = value;
    else resource.emails = [...emails, { type: 'work', value }];
    return;
  }
  const [head, sub] = path.split('.');
  if (sub === undefined) resource[head!] = value;
  else resource[head!] = { ...((resource[head!] as Json | undefined) ?? {}), [sub]: value };
}

function applyPatch(resource: Json, operations: Json[]): void {
  for (const operation of operations) {
    const op = String(operation.op).toLowerCase();
    const path = operation.path as string | undefined;
    const members = (resource.members ?? []) as Json[];
    if (path === undefined) {
      for (const [k, v] of Object.entries(operation.value as Json)) setPath(resource, k, v);
    } else if (path === 'members') {
      const values = (operation.value as Json[]).map((member) => member.value);
      resource.members =
        op === 'add'
          ? [
              ...members,
              ...(operation.value as Json[]).filter((m) => !members.some((x) => x.value === m.value)),
            ]
          : members.filter((member) => !values.includes(member.value));
    } else if (/^members\[value eq "(.+)"\]$/.test(path) && op === 'remove') {
      const value = /^members\[value eq "(.+)"\]$/.exec(path)![1];
      resource.members = members.filter((member) => member.value !== value);
    } else {
      setPath(resource, path, operation.value);
    }
  }
}

function lines(received: Received[]): string[] {
  return received.map((r) => `${r.method} ${r.path}`);
}

const patchOp = (...Operations: unknown[]) => ({ schemas: [SCIM_PATCH_OP_SCHEMA], Operations });

let sim: IdpSimulator;
let scim: FakeScimServer;

beforeAll(async () => {
  sim = await startIdpSimulator();
});

afterAll(async () => {
  await sim.close();
});

beforeEach(async () => {
  scim = new FakeScimServer();
  await scim.start();
});

afterEach(async () => {
  await scim.close();
});

async function tenantWithScim(
  preset: 'okta' | 'entra-id',
  mode: ScimMode,
  autoPush = true,
): Promise<IdpTenant> {
  const tenant = await sim.createTenant({ preset });
  tenant.configureScim({
    baseUrl: scim.baseUrl,
    token: TOKEN,
    mode,
    pushGroupsPrefix: 'anthropic-',
    autoPush,
  });
  return tenant;
}

function userId(userName: string): string {
  const user = [...scim.users.values()].find(
    (u) => String(u.userName).toLowerCase() === userName.toLowerCase(),
  );
  if (!user) throw new Error(`no SCIM user ${userName}`);
  return user.id as string;
}

function groupId(displayName: string): string {
  const group = [...scim.groups.values()].find((g) => g.displayName === displayName);
  if (!group) throw new Error(`no SCIM group ${displayName}`);
  return group.id as string;
}

describe('Okta mode', () => {
  it('creates a user: lookup with startIndex/count, then POST with the Okta body and headers', async () => {
    const tenant = await tenantWithScim('okta', 'okta');
    const { subject } = tenant.addUser({ ...ADA, groups: [] });
    await tenant.scimIdle();

    const received = scim.take();
    expect(lines(received)).toEqual([
      'GET /Users?filter=userName%20eq%20%22ada%40acme.test%22&startIndex=1&count=100',
      'POST /Users',
    ]);
    for (const r of received) {
      expect(r.authorization).toBe(`Bearer ${TOKEN}`);
      expect(r.contentType).toBe('application/scim+json');
    }
    expect(received[1]!.body).toStrictEqual({
      schemas: [SCIM_USER_SCHEMA],
      userName: 'ada@acme.test',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      emails: [{ primary: true, value: 'ada@acme.test', type: 'work' }],
      displayName: 'Ada Lovelace',
      locale: 'en-US',
      externalId: subject,
      groups: [],
      active: true,
    });
    expect(subject).toMatch(/^00u/);
    // The client's own log says the same, with the server's answers.
    expect(tenant.scimLog().map((r) => [r.method, r.path, r.status])).toEqual([
      ['GET', received[0]!.path, 200],
      ['POST', '/Users', 201],
    ]);
    expect(tenant.scimErrors()).toEqual([]);
  });

  it('updates the profile with a PUT of the full resource; unassign deactivates, reassign reactivates', async () => {
    const tenant = await tenantWithScim('okta', 'okta');
    const { subject } = tenant.addUser({ ...ADA, groups: [] });
    await tenant.scimIdle();
    scim.take();
    const id = userId(ADA.email);

    tenant.updateUser(ADA.email, { lastName: 'King', email: 'ada.king@acme.test' });
    await tenant.scimIdle();
    const [put, ...rest] = scim.take();
    expect(rest).toEqual([]);
    expect(put).toMatchObject({ method: 'PUT', path: `/Users/${id}` });
    expect(put!.body).toStrictEqual({
      schemas: [SCIM_USER_SCHEMA],
      id,
      userName: 'ada.king@acme.test',
      name: { givenName: 'Ada', familyName: 'King' },
      emails: [{ primary: true, value: 'ada.king@acme.test', type: 'work' }],
      displayName: 'Ada King',
      locale: 'en-US',
      externalId: subject,
      groups: [],
      active: true,
    });

    tenant.assignUser('ada.king@acme.test', false);
    await tenant.scimIdle();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      ['PATCH', `/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })],
    ]);
    expect(scim.users.get(id)?.active).toBe(false);

    // Unassigned: profile changes are not pushed.
    tenant.updateUser('ada.king@acme.test', { firstName: 'Augusta' });
    await tenant.scimIdle();
    expect(scim.take()).toEqual([]);

    tenant.assignUser('ada.king@acme.test', true);
    await tenant.scimIdle();
    const reactivated = scim.take();
    expect(lines(reactivated)).toEqual([`PATCH /Users/${id}`, `PUT /Users/${id}`]);
    expect(reactivated[0]!.body).toEqual(patchOp({ op: 'replace', value: { active: true } }));
    expect(reactivated[1]!.body).toMatchObject({ name: { givenName: 'Augusta', familyName: 'King' } });

    // Removing the user from Okta deactivates too: Okta never DELETEs a user.
    tenant.removeUser('ada.king@acme.test');
    await tenant.scimIdle();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      ['PATCH', `/Users/${id}`, patchOp({ op: 'replace', value: { active: false } })],
    ]);
    expect(tenant.scimLog().some((r) => r.method === 'DELETE')).toBe(false);
  });

  it('pushes only groups matching the rule; member add/remove, rename and delete shapes', async () => {
    const tenant = await tenantWithScim('okta', 'okta');
    tenant.addUser(ADA);
    await tenant.scimIdle();
    const ada = userId(ADA.email);
    const received = scim.take();
    expect(lines(received)).toEqual([
      'GET /Users?filter=userName%20eq%20%22ada%40acme.test%22&startIndex=1&count=100',
      'POST /Users',
      // "engineering" does not start with anthropic-: never pushed.
      'GET /Groups?filter=displayName%20eq%20%22anthropic-admins%22',
      'POST /Groups',
      `PATCH /Groups/${groupId('anthropic-admins')}`,
    ]);
    const admins = groupId('anthropic-admins');
    expect(received[3]!.body).toStrictEqual({
      schemas: [SCIM_GROUP_SCHEMA],
      displayName: 'anthropic-admins',
      members: [],
    });
    expect(received[4]!.body).toStrictEqual(
      patchOp({ op: 'add', path: 'members', value: [{ value: ada, display: 'ada@acme.test' }] }),
    );

    tenant.addUser(BOB);
    await tenant.scimIdle();
    const bob = userId(BOB.email);
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      ['GET', '/Users?filter=userName%20eq%20%22Bob.Smith%40acme.test%22&startIndex=1&count=100', undefined],
      ['POST', '/Users', expect.objectContaining({ userName: 'Bob.Smith@acme.test' })],
      [
        'PATCH',
        `/Groups/${admins}`,
        patchOp({ op: 'add', path: 'members', value: [{ value: bob, display: 'Bob.Smith@acme.test' }] }),
      ],
    ]);

    tenant.setGroups(ADA.email, ['engineering']);
    await tenant.scimIdle();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      ['PATCH', `/Groups/${admins}`, patchOp({ op: 'remove', path: `members[value eq "${ada}"]` })],
    ]);

    tenant.renameGroup('anthropic-admins', 'anthropic-owners');
    await tenant.scimIdle();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      [
        'PATCH',
        `/Groups/${admins}`,
        patchOp({ op: 'replace', value: { id: admins, displayName: 'anthropic-owners' } }),
      ],
    ]);
    expect(scim.groups.get(admins)).toMatchObject({
      displayName: 'anthropic-owners',
      members: [{ value: bob }],
    });

    // Unassigning a member deactivates the user and takes them out of the pushed group.
    tenant.assignUser(BOB.email, false);
    await tenant.scimIdle();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      ['PATCH', `/Users/${bob}`, patchOp({ op: 'replace', value: { active: false } })],
      ['PATCH', `/Groups/${admins}`, patchOp({ op: 'remove', path: `members[value eq "${bob}"]` })],
    ]);

    tenant.removeGroup('anthropic-owners');
    await tenant.scimIdle();
    expect(lines(scim.take())).toEqual([`DELETE /Groups/${admins}`]);
    expect(scim.groups.size).toBe(0);
    expect(tenant.groups().map((g) => g.name)).toEqual(['engineering']);
  });

  it('with auto-push off, changes pile up until scimPushAll reconciles everything', async () => {
    const tenant = await tenantWithScim('okta', 'okta');
    tenant.addUser(ADA);
    tenant.addUser(BOB);
    await tenant.scimIdle();
    const [ada, bob, admins] = [userId(ADA.email), userId(BOB.email), groupId('anthropic-admins')];
    scim.take();

    tenant.setScimAutoPush(false);
    tenant.updateUser(ADA.email, { firstName: 'Augusta' });
    tenant.assignUser(BOB.email, false);
    tenant.addUser({ email: 'cy@acme.test', groups: ['anthropic-admins', 'anthropic-viewers'] });
    tenant.addUser({ email: 'dee@acme.test', assigned: false, groups: ['anthropic-viewers'] });
    await tenant.scimIdle();
    expect(scim.take()).toEqual([]);

    const summary = await tenant.scimPushAll();
    const cy = userId('cy@acme.test');
    const viewers = groupId('anthropic-viewers');
    expect(scim.take().map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /Users?filter=userName%20eq%20%22ada%40acme.test%22&startIndex=1&count=100',
      `PUT /Users/${ada}`,
      'GET /Users?filter=userName%20eq%20%22cy%40acme.test%22&startIndex=1&count=100',
      'POST /Users',
      `PATCH /Users/${bob}`,
      'GET /Groups?filter=displayName%20eq%20%22anthropic-admins%22',
      `PATCH /Groups/${admins}`,
      'GET /Groups?filter=displayName%20eq%20%22anthropic-viewers%22',
      'POST /Groups',
      `PATCH /Groups/${viewers}`,
    ]);
    expect(summary).toEqual({
      users: 2,
      deactivated: 1,
      groups: 2,
      deletedGroups: 0,
      requests: 10,
      errors: [],
    });
    expect(scim.users.get(ada)).toMatchObject({ name: { givenName: 'Augusta' } });
    expect(scim.users.get(bob)?.active).toBe(false);
    expect(scim.groups.get(admins)?.members).toEqual([
      { value: ada, display: ADA.email },
      { value: cy, display: 'cy@acme.test' },
    ]);
    // dee is not assigned: not provisioned, and not a member of the pushed group.
    expect(scim.groups.get(viewers)?.members).toEqual([{ value: cy, display: 'cy@acme.test' }]);

    // A second push finds everything in place: lookups only.
    const again = await tenant.scimPushAll();
    expect(scim.take().every((r) => r.method === 'GET')).toBe(true);
    expect(again).toMatchObject({ users: 2, deactivated: 0, groups: 2, requests: 4, errors: [] });
  });

  it('on 409 for a create, looks the user up and carries on (RL-01); other failures are recorded and skipped', async () => {
    const tenant = await tenantWithScim('okta', 'okta', false);
    // Someone created cy between Okta's lookup and its POST.
    const existing = scim.seedUser({
      userName: 'cy@acme.test',
      name: { givenName: 'C', familyName: 'Y' },
      active: true,
    });
    scim.missOnce.add('cy@acme.test');
    tenant.addUser({ email: 'cy@acme.test', firstName: 'Cy', lastName: 'Young', groups: [] });
    tenant.addUser({ ...ADA, groups: [] });
    tenant.addUser({ ...BOB, groups: [] });

    const summary = await tenant.scimPushAll();
    expect(scim.take().map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /Users?filter=userName%20eq%20%22cy%40acme.test%22&startIndex=1&count=100',
      'POST /Users',
      'GET /Users?filter=userName%20eq%20%22cy%40acme.test%22&startIndex=1&count=100',
      `PUT /Users/${existing}`,
      'GET /Users?filter=userName%20eq%20%22ada%40acme.test%22&startIndex=1&count=100',
      'POST /Users',
      'GET /Users?filter=userName%20eq%20%22Bob.Smith%40acme.test%22&startIndex=1&count=100',
      'POST /Users',
    ]);
    expect(tenant.scimLog()[1]).toMatchObject({ method: 'POST', status: 409 });
    expect(scim.users.get(existing)).toMatchObject({ name: { givenName: 'Cy', familyName: 'Young' } });
    expect(summary.errors).toEqual([]);

    // A 500 on one user is recorded; the next user is still pushed.
    tenant.addUser({ email: 'dee@acme.test', groups: [] });
    tenant.addUser({ email: 'eve@acme.test', groups: [] });
    scim.failNext.push({ method: 'POST', path: '/Users', status: 500 });
    const failed = await tenant.scimPushAll();
    expect(failed.errors).toEqual([
      {
        target: 'user dee@acme.test',
        method: 'POST',
        path: '/Users',
        status: 500,
        message: 'POST /Users answered 500: injected failure',
      },
    ]);
    expect(tenant.scimErrors()).toEqual(failed.errors);
    expect(() => userId('eve@acme.test')).not.toThrow();
    expect(() => userId('dee@acme.test')).toThrow();
  });
});

describe('Entra mode', () => {
  it('creates a user with the enterprise schema, mailNickname as externalId and roles', async () => {
    const tenant = await tenantWithScim('entra-id', 'entra');
    tenant.addUser({ ...BOB, groups: [] });
    await tenant.scimIdle();
    const received = scim.take();
    expect(lines(received)).toEqual([
      'GET /Users?filter=userName%20eq%20%22Bob.Smith%40acme.test%22',
      'POST /Users',
    ]);
    expect(received[1]!.body).toStrictEqual({
      schemas: [SCIM_USER_SCHEMA, SCIM_ENTERPRISE_USER_SCHEMA],
      externalId: 'Bob.Smith',
      userName: 'Bob.Smith@acme.test',
      active: true,
      displayName: 'Bob Smith',
      emails: [{ primary: true, type: 'work', value: 'Bob.Smith@acme.test' }],
      meta: { resourceType: 'User' },
      name: { formatted: 'Bob Smith', familyName: 'Smith', givenName: 'Bob' },
      roles: [],
    });
    expect(received.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('updates with capitalised path-less Replace and dotted keys; unassign sends active "False", never DELETE', async () => {
    const tenant = await tenantWithScim('entra-id', 'entra');
    tenant.addUser({ ...ADA, groups: [] });
    await tenant.scimIdle();
    const id = userId(ADA.email);
    scim.take();

    tenant.updateUser(ADA.email, { firstName: 'Augusta', lastName: 'King' });
    await tenant.scimIdle();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      [
        'PATCH',
        `/Users/${id}`,
        patchOp({
          op: 'Replace',
          value: {
            displayName: 'Augusta King',
            'name.givenName': 'Augusta',
            'name.familyName': 'King',
            'name.formatted': 'Augusta King',
          },
        }),
      ],
    ]);

    tenant.updateUser(ADA.email, { email: 'augusta@acme.test' });
    await tenant.scimIdle();
    expect(scim.take().map((r) => r.body)).toEqual([
      patchOp(
        { op: 'Replace', path: 'userName', value: 'augusta@acme.test' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'augusta@acme.test' },
      ),
    ]);
    expect(scim.users.get(id)).toMatchObject({
      userName: 'augusta@acme.test',
      externalId: 'ada',
      emails: [{ value: 'augusta@acme.test' }],
    });

    tenant.assignUser('augusta@acme.test', false);
    await tenant.scimIdle();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      ['PATCH', `/Users/${id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' })],
    ]);

    tenant.assignUser('augusta@acme.test', true);
    await tenant.scimIdle();
    expect(scim.take().map((r) => r.body)).toEqual([
      patchOp({ op: 'Replace', path: 'active', value: 'True' }),
    ]);

    tenant.removeUser('augusta@acme.test');
    await tenant.scimIdle();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      ['PATCH', `/Users/${id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' })],
    ]);
    expect(tenant.scimLog().some((r) => r.method === 'DELETE')).toBe(false);
  });

  it('pushes groups by prefix with excludedAttributes lookups, value-array Add/Remove and Replace displayName', async () => {
    const tenant = await tenantWithScim('entra-id', 'entra');
    tenant.addUser(ADA);
    tenant.addUser(BOB);
    await tenant.scimIdle();
    const [ada, bob, admins] = [userId(ADA.email), userId(BOB.email), groupId('anthropic-admins')];
    const group = tenant.group('anthropic-admins');
    const received = scim.take();
    expect(lines(received)).toEqual([
      'GET /Users?filter=userName%20eq%20%22ada%40acme.test%22',
      'POST /Users',
      'GET /Users?filter=userName%20eq%20%22Bob.Smith%40acme.test%22',
      'POST /Users',
      'GET /Groups?excludedAttributes=members&filter=displayName%20eq%20%22anthropic-admins%22',
      'POST /Groups',
      `PATCH /Groups/${admins}`,
    ]);
    expect(received[5]!.body).toStrictEqual({
      schemas: [SCIM_GROUP_SCHEMA],
      externalId: group?.id,
      displayName: 'anthropic-admins',
      meta: { resourceType: 'Group' },
      members: [],
    });
    expect(group?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(received[6]!.body).toStrictEqual(
      patchOp({ op: 'Add', path: 'members', value: [{ value: ada }, { value: bob }] }),
    );

    tenant.setGroups(BOB.email, []);
    await tenant.scimIdle();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      ['PATCH', `/Groups/${admins}`, patchOp({ op: 'Remove', path: 'members', value: [{ value: bob }] })],
    ]);

    tenant.setGroups(BOB.email, ['anthropic-admins']);
    await tenant.scimIdle();
    expect(scim.take().map((r) => r.body)).toEqual([
      patchOp({ op: 'Add', path: 'members', value: [{ value: bob }] }),
    ]);

    tenant.renameGroup('anthropic-admins', 'anthropic-owners');
    await tenant.scimIdle();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      [
        'PATCH',
        `/Groups/${admins}`,
        patchOp({ op: 'Replace', path: 'displayName', value: 'anthropic-owners' }),
      ],
    ]);

    // Renamed out of the push rule: deleted from the server.
    tenant.renameGroup('anthropic-owners', 'owners');
    await tenant.scimIdle();
    expect(lines(scim.take())).toEqual([`DELETE /Groups/${admins}`]);
  });

  it('a full push after auto-push was off deactivates with "False" and fixes drift found by lookups', async () => {
    const tenant = await tenantWithScim('entra-id', 'entra');
    tenant.addUser({ ...ADA, groups: [] });
    tenant.addUser({ ...BOB, groups: [] });
    await tenant.scimIdle();
    const [ada, bob] = [userId(ADA.email), userId(BOB.email)];
    scim.take();

    tenant.setScimAutoPush(false);
    tenant.assignUser(ADA.email, false);
    tenant.updateUser(BOB.email, { lastName: 'Jones' });
    // Drift on the server side that only a lookup can see.
    scim.users.get(bob)!.active = false;
    await tenant.scimIdle();
    expect(scim.take()).toEqual([]);

    await tenant.scimPushAll();
    expect(scim.take().map((r) => [r.method, r.path, r.body])).toEqual([
      ['GET', '/Users?filter=userName%20eq%20%22Bob.Smith%40acme.test%22', undefined],
      [
        'PATCH',
        `/Users/${bob}`,
        patchOp(
          { op: 'Replace', path: 'active', value: 'True' },
          {
            op: 'Replace',
            value: { displayName: 'Bob Jones', 'name.familyName': 'Jones', 'name.formatted': 'Bob Jones' },
          },
        ),
      ],
      ['PATCH', `/Users/${ada}`, patchOp({ op: 'Replace', path: 'active', value: 'False' })],
    ]);
    expect(scim.users.get(bob)?.active).toBe(true);
  });
});

describe('JSON API', () => {
  async function api(method: string, path: string, body?: unknown) {
    const response = await fetch(`${sim.apiUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  it('configures SCIM, toggles auto-push, and POST /scim/push runs "Sync now"', async () => {
    expect((await api('POST', '/tenants', { tenantId: 'scim-api', preset: 'okta' })).status).toBe(201);
    const bad = await api('PUT', '/tenants/scim-api/scim', {
      baseUrl: 'ftp://x',
      token: TOKEN,
      mode: 'onelogin',
    });
    expect(bad).toMatchObject({ status: 400, json: { error: 'invalid_input' } });
    expect((await api('POST', '/tenants/scim-api/scim/push')).status).toBe(400); // not configured yet

    const configured = await api('PUT', '/tenants/scim-api/scim', {
      baseUrl: scim.baseUrl,
      token: TOKEN,
      mode: 'okta',
      pushGroupsPrefix: 'anthropic-',
      autoPush: false,
    });
    expect(configured).toMatchObject({
      status: 200,
      json: {
        scim: { baseUrl: scim.baseUrl, mode: 'okta', pushGroupsPrefix: 'anthropic-', autoPush: false },
      },
    });
    expect(JSON.stringify(configured.json)).not.toContain(TOKEN);

    expect((await api('POST', '/tenants/scim-api/users', ADA)).status).toBe(201);
    expect((await api('POST', '/tenants/scim-api/groups', { name: 'anthropic-empty' })).status).toBe(201);
    expect((await api('GET', '/tenants/scim-api/scim/log')).json).toEqual({ requests: [] });

    const pushed = await api('POST', '/tenants/scim-api/scim/push');
    expect(pushed).toMatchObject({ status: 200, json: { users: 1, groups: 2, deactivated: 0, errors: [] } });
    expect(scim.users.size).toBe(1);
    expect([...scim.groups.values()].map((g) => g.displayName)).toEqual([
      'anthropic-admins',
      'anthropic-empty',
    ]);

    expect((await api('PUT', '/tenants/scim-api/scim/auto-push', { autoPush: true })).status).toBe(200);
    const unassigned = await api('PUT', `/tenants/scim-api/users/${encodeURIComponent(ADA.email)}/assigned`, {
      assigned: false,
    });
    expect(unassigned.json).toMatchObject({ email: ADA.email, assigned: false });
    const log = await api('GET', '/tenants/scim-api/scim/log');
    const requests = log.json.requests as { method: string; path: string; status: number }[];
    expect(requests.slice(-2).map((r) => [r.method, r.status])).toEqual([
      ['PATCH', 200],
      ['PATCH', 204],
    ]);
    expect(scim.users.get(userId(ADA.email))?.active).toBe(false);
    expect((await api('GET', '/tenants/scim-api/scim/errors')).json).toEqual({ errors: [] });
    expect((await api('DELETE', '/tenants/scim-api')).status).toBe(200);
  });
});
