// A SCIM 2.0 conformance suite (RFC 7644) with the exact request shapes Okta and Entra ID send, the
// refusals, and what provisioning does with the accounts: created before first login, memberships,
// deprovisioning that ends sessions at once, reactivation that does not revive old sessions.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DirectoryCreateDocument,
  DirectoryDeleteDocument,
  DirectoryRotateTokenDocument,
  MeDocument,
  MemberRemoveDocument,
  MembersDocument,
} from '../generated/graphql.js';
import { type CapturedParent, capturedParent } from '../support/identity.js';
import { scimClient, type ScimResponse } from '../support/scim.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

describe('SCIM 2.0 server', () => {
  let stack: Stack;
  let parent: CapturedParent;
  let directory: { id: string; scimBaseUrl: string };
  let token: string;
  let scim: ReturnType<typeof scimClient>;

  const oktaUser = (email: string, extra: Record<string, unknown> = {}) => ({
    schemas: [USER],
    userName: email,
    name: { givenName: 'Okta', familyName: 'User' },
    emails: [{ primary: true, value: email, type: 'work' }],
    displayName: 'Okta User',
    locale: 'en-US',
    externalId: `00u${Math.random().toString(36).slice(2, 10)}`,
    groups: [],
    active: true,
    ...extra,
  });

  beforeAll(async () => {
    stack = await startStack();
    parent = await capturedParent(stack, 'scim-corp.com', 'SCIM Corp');
    const created = await stack.gqlOk(
      DirectoryCreateDocument,
      { parentId: parent.parentId, input: { name: 'Okta', provider: 'OKTA' } },
      parent.owner.token,
    );
    expect(created.directoryCreate.token).toMatch(/^scim_[A-Za-z0-9_-]{43}$/);
    directory = created.directoryCreate.directory!;
    token = created.directoryCreate.token!;
    scim = scimClient(directory.scimBaseUrl, token);
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe('discovery', () => {
    it('serves ServiceProviderConfig, ResourceTypes and Schemas as application/scim+json', async () => {
      const config = await scim('GET', '/ServiceProviderConfig');
      expect(config.status).toBe(200);
      expect(config.contentType).toContain('application/scim+json');
      expect(config.body).toMatchObject({
        patch: { supported: true },
        filter: { supported: true, maxResults: 200 },
        etag: { supported: true },
      });
      const types = await scim('GET', '/ResourceTypes');
      expect(types.body.Resources?.map((r) => r.id)).toEqual(['User', 'Group']);
      const schemas = await scim('GET', '/Schemas');
      expect(schemas.body.Resources?.map((r) => r.id)).toEqual([USER, GROUP]);
    });
  });

  describe('Okta dialect', () => {
    it('looks up, creates, replaces and deactivates with PATCH active, then reactivates', async () => {
      const email = uniqueEmail('okta', 'scim-corp.com');
      const lookup = await scim(
        'GET',
        `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&startIndex=1&count=100`,
      );
      expect(lookup.body).toMatchObject({ totalResults: 0, Resources: [] });
      const created = await scim('POST', '/Users', oktaUser(email));
      expect(created.status).toBe(201);
      expect(created.etag).toBe('W/"1"');
      expect(created.body).toMatchObject({
        schemas: [USER],
        userName: email,
        active: true,
        locale: 'en-US',
        meta: {
          resourceType: 'User',
          location: `${directory.scimBaseUrl}/Users/${created.body.id}`,
          version: 'W/"1"',
        },
      });
      const id = created.body.id!;
      const found = await scim(
        'GET',
        `/Users?filter=${encodeURIComponent(`userName eq "${email.toUpperCase()}"`)}`,
      );
      expect(found.body.Resources?.map((r) => r.id)).toEqual([id]);

      // The account exists before any login, with memberships as rule 11 says.
      const members = await stack.gqlOk(
        MembersDocument,
        { organizationId: parent.organizationId, first: 100 },
        parent.owner.token,
      );
      expect(members.members.nodes.find((m) => m.user.email === email)).toMatchObject({
        role: 'MEMBER',
        source: 'SCIM',
      });

      const replaced = await scim('PUT', `/Users/${id}`, {
        ...oktaUser(email),
        name: { givenName: 'Renamed', familyName: 'User' },
      });
      expect(replaced.body).toMatchObject({ name: { givenName: 'Renamed' }, meta: { version: 'W/"2"' } });

      // The user signs in (e-mail code is refused for captured domains only with active SSO; none here).
      const session = await stack.signIn(email);
      expect((await stack.gqlOk(MeDocument, {}, session.token)).me?.email).toBe(email);

      const deactivated = await scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', value: { active: false } }],
      });
      expect(deactivated.body.active).toBe(false);
      // Access ends at once: the session is gone and the membership ended.
      expect((await stack.gql(MeDocument, {}, session.token)).data?.me).toBeNull();
      const after = await stack.gqlOk(
        MembersDocument,
        { organizationId: parent.organizationId, first: 100 },
        parent.owner.token,
      );
      expect(after.members.nodes.some((m) => m.user.email === email)).toBe(false);

      await scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', value: { active: true } }],
      });
      const restored = await stack.gqlOk(
        MembersDocument,
        { organizationId: parent.organizationId, first: 100 },
        parent.owner.token,
      );
      expect(restored.members.nodes.some((m) => m.user.email === email)).toBe(true);
      // Reactivation does not revive old sessions.
      expect((await stack.gql(MeDocument, {}, session.token)).data?.me).toBeNull();
    });

    it('answers a duplicate POST after a timeout with 409 uniqueness and keeps one user', async () => {
      const email = uniqueEmail('dup', 'scim-corp.com');
      expect((await scim('POST', '/Users', oktaUser(email))).status).toBe(201);
      const again = await scim('POST', '/Users', oktaUser(email.toUpperCase()));
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ schemas: [ERROR], status: '409', scimType: 'uniqueness' });
      const found = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`);
      expect(found.body.totalResults).toBe(1);
    });

    it('pushes groups, adds and removes members, renames and deletes', async () => {
      const a = (await scim('POST', '/Users', oktaUser(uniqueEmail('ga', 'scim-corp.com')))).body.id!;
      const b = (await scim('POST', '/Users', oktaUser(uniqueEmail('gb', 'scim-corp.com')))).body.id!;
      const group = await scim('POST', '/Groups', {
        schemas: [GROUP],
        displayName: 'anthropic-scim-corp-member',
        members: [],
      });
      expect(group.status).toBe(201);
      const id = group.body.id!;
      await scim('PATCH', `/Groups/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'add', path: 'members', value: [{ value: a, display: 'a' }, { value: b }] }],
      });
      expect(((await scim('GET', `/Groups/${id}`)).body.members as unknown[]).length).toBe(2);
      const withMember = await scim('GET', `/Groups?filter=${encodeURIComponent(`members.value eq "${a}"`)}`);
      expect(withMember.body.Resources?.map((r) => r.id)).toEqual([id]);
      await scim('PATCH', `/Groups/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'remove', path: `members[value eq "${a}"]` }],
      });
      const after = await scim('GET', `/Groups/${id}`);
      expect((after.body.members as Array<{ value: string }>).map((m) => m.value)).toEqual([b]);
      await scim('PATCH', `/Groups/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', value: { id, displayName: 'anthropic-scim-corp-admin' } }],
      });
      const byName = await scim(
        'GET',
        `/Groups?filter=${encodeURIComponent('displayName eq "anthropic-scim-corp-admin"')}&excludedAttributes=members`,
      );
      expect(byName.body.Resources).toHaveLength(1);
      expect(byName.body.Resources?.[0]?.members).toBeUndefined();
      expect((await scim('DELETE', `/Groups/${id}`)).status).toBe(204);
      expect((await scim('GET', `/Groups/${id}`)).status).toBe(404);
    });

    it('creates a user with its account, JIT membership and audit events in one statement, and publishes the membership', async () => {
      const email = uniqueEmail('one-statement', 'scim-corp.com');
      const statements: string[] = [];
      const knex = stack.app.orm.em.getConnection().getKnex();
      const record = (query: { sql: string }) => {
        // Authentication reads the directory (and now and then notes its last request): not the write.
        if (!/^\s*(select \* from|update) "?directories"? /i.test(query.sql)) statements.push(query.sql);
      };
      const publish = vi.spyOn(stack.app.services.events, 'publish');
      knex.on('query', record);
      let created: ScimResponse;
      try {
        created = await scim('POST', '/Users', oktaUser(email));
      } finally {
        knex.off('query', record);
      }
      expect(created.status).toBe(201);
      const writes = statements.filter((sql) => /^\s*(with|insert|update|delete|begin)/i.test(sql));
      expect(writes, writes.join('\n')).toHaveLength(1);
      expect(writes[0]).toMatch(
        /insert into "users".*insert into "directory_users"|insert into "directory_users".*insert into "users"/s,
      );
      const [row] = await stack.app.orm.em
        .fork()
        .getConnection()
        .execute<Array<{ role: string; source: string; actions: string[]; linked: boolean }>>(
          `select m.role, m.source,
                  (select array_agg(a.action order by a.action) from audit_events a
                    where a.target_id in (u.id, m.id)) as actions,
                  exists (select 1 from directory_users d where d.user_id = u.id and d.id = ?) as linked
             from users u join memberships m on m.user_id = u.id
            where u.email = ? and m.organization_id = ?`,
          [created.body.id, email, parent.organizationId],
        );
      expect(row).toMatchObject({
        source: 'SCIM',
        linked: true,
        actions: ['member.provisioned', 'user.created'],
      });
      expect(publish).toHaveBeenCalledWith(
        'MEMBERSHIP_CHANGED',
        parent.organizationId,
        expect.objectContaining({ email, change: 'ADDED', role: row!.role }),
      );
      publish.mockRestore();
    });

    it('writes a group of many members in one statement, and keeps none of a refused request', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 40; i++)
        ids.push((await scim('POST', '/Users', oktaUser(uniqueEmail(`bulk${i}`, 'scim-corp.com')))).body.id!);
      const statements: string[] = [];
      const knex = stack.app.orm.em.getConnection().getKnex();
      const record = (query: { sql: string }) => {
        if (/directory_group_members/.test(query.sql) && /^\s*(with|insert)/i.test(query.sql))
          statements.push(query.sql);
      };
      knex.on('query', record);
      let created: ScimResponse;
      try {
        created = await scim('POST', '/Groups', {
          schemas: [GROUP],
          displayName: 'bulk',
          members: ids.map((value) => ({ value })),
        });
      } finally {
        knex.off('query', record);
      }
      expect(created.status).toBe(201);
      expect(statements).toHaveLength(1);
      // Multi-valued attributes have no order (RFC 7643 section 2.4).
      const members = (body: ScimResponse['body']) =>
        (body.members as Array<{ value: string }>).map((m) => m.value).sort();
      expect(members(created.body)).toEqual([...ids].sort());
      const group = created.body.id!;

      // Adding members already in keeps one row each.
      const extra = (await scim('POST', '/Users', oktaUser(uniqueEmail('bulk-extra', 'scim-corp.com')))).body
        .id!;
      const added = await scim('PATCH', `/Groups/${group}`, {
        schemas: [PATCH],
        Operations: [{ op: 'add', path: 'members', value: [{ value: ids[0] }, { value: extra }] }],
      });
      expect(added.status).toBe(200);
      expect(members((await scim('GET', `/Groups/${group}`)).body)).toEqual([...ids, extra].sort());

      // One unknown member refuses the whole request, and what the statement inserted is rolled back.
      const unknown = '01890000-0000-7000-8000-000000000000';
      const mixed = await scim('PATCH', `/Groups/${group}`, {
        schemas: [PATCH],
        Operations: [
          { op: 'remove', path: 'members', value: [{ value: ids[1] }] },
          { op: 'add', path: 'members', value: [{ value: unknown }] },
        ],
      });
      expect(mixed).toMatchObject({ status: 400, body: { scimType: 'invalidValue' } });
      expect(members((await scim('GET', `/Groups/${group}`)).body)).toEqual([...ids, extra].sort());
      const refused = await scim('POST', '/Groups', {
        schemas: [GROUP],
        displayName: 'bulk-refused',
        members: [{ value: ids[0] }, { value: unknown }],
      });
      expect(refused).toMatchObject({ status: 400, body: { scimType: 'invalidValue' } });
      const byName = await scim(
        'GET',
        `/Groups?filter=${encodeURIComponent('displayName eq "bulk-refused"')}`,
      );
      expect(byName.body.totalResults).toBe(0);
    });
  });

  describe('Entra ID dialect', () => {
    it('accepts "Replace", "False" as a string, dotted path-less keys, e-mail value paths and member removal by value array', async () => {
      const email = uniqueEmail('entra', 'scim-corp.com');
      const created = await scim('POST', '/Users', {
        schemas: [USER, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
        externalId: 'entra-nick',
        userName: email,
        active: true,
        displayName: 'Entra User',
        emails: [{ primary: true, type: 'work', value: email }],
        name: { formatted: 'Entra User', familyName: 'User', givenName: 'Entra' },
        roles: [],
      });
      expect(created.status).toBe(201);
      const id = created.body.id!;
      const renamed = await scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'Replace', value: { 'name.givenName': 'Edna', 'name.familyName': 'Mode' } }],
      });
      expect(renamed.body.name).toMatchObject({ givenName: 'Edna', familyName: 'Mode' });
      const moved = await scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'Replace', path: 'emails[type eq "work"].value', value: email }],
      });
      expect((moved.body.emails as Array<{ value: string }>)[0]?.value).toBe(email);
      const filtered = await scim(
        'GET',
        `/Users?filter=${encodeURIComponent(`emails[type eq "work"].value eq "${email}"`)}`,
      );
      expect(filtered.body.Resources?.map((r) => r.id)).toEqual([id]);

      const group = (
        await scim('POST', '/Groups', {
          schemas: [GROUP],
          externalId: 'g-ext',
          displayName: 'entra group',
          members: [],
        })
      ).body.id!;
      await scim('PATCH', `/Groups/${group}`, {
        schemas: [PATCH],
        Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }],
      });
      await scim('PATCH', `/Groups/${group}`, {
        schemas: [PATCH],
        Operations: [{ op: 'Remove', path: 'members', value: [{ value: id }] }],
      });
      expect((await scim('GET', `/Groups/${group}`)).body.members).toEqual([]);

      const off = await scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
      });
      expect(off.body.active).toBe(false);
    });
  });

  describe('queries', () => {
    it('pages with startIndex and count, capped at the advertised maximum, with totals', async () => {
      for (let i = 0; i < 5; i++)
        await scim('POST', '/Users', oktaUser(uniqueEmail(`page${i}`, 'scim-corp.com')));
      const first = await scim('GET', '/Users?startIndex=1&count=2&attributes=userName');
      expect(first.body).toMatchObject({ startIndex: 1, itemsPerPage: 2 });
      expect(Object.keys(first.body.Resources![0]!).sort()).toEqual(['id', 'schemas', 'userName']);
      const total = first.body.totalResults as number;
      const all = await scim('GET', `/Users?startIndex=1&count=100000`);
      expect(all.body.itemsPerPage).toBe(Math.min(total, 200));
      const second = await scim('GET', '/Users?startIndex=3&count=2');
      expect(second.body.Resources?.[0]?.id).toBe(all.body.Resources?.[2]?.id);
    });

    it.each([
      ['userName co "@scim-corp.com" and active eq true', 200],
      ['urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"', 200],
      ['not (active eq false)', 200],
      ['meta.lastModified gt "2000-01-01T00:00:00Z"', 200],
      ['userName xx "a"', 400],
      ['userName eq', 400],
      ['(userName eq "a"', 400],
      ['password eq "x"', 400],
    ])('filter %j answers %i', async (filter, status) => {
      const response = await scim('GET', `/Users?filter=${encodeURIComponent(filter)}`);
      expect(response.status).toBe(status);
      if (status === 400)
        expect(response.body).toMatchObject({ schemas: [ERROR], scimType: 'invalidFilter' });
    });
  });

  // A user creation's provisioning context is read in the statement that authenticates the directory.
  describe('the context read ahead', () => {
    const em = () => stack.app.orm.em.fork();
    const authenticate = (authorization: string, email?: string) =>
      stack.app.services.scim.authenticate(em(), directory.id, authorization, email);
    const memberOf = async (email: string) =>
      (
        await stack.gqlOk(
          MembersDocument,
          { organizationId: parent.organizationId, first: 100 },
          parent.owner.token,
        )
      ).members.nodes.some((m) => m.user.email === email);

    it("is the e-mail's context: captured or not, its account, the parent's organizations", async () => {
      const email = uniqueEmail('ahead', 'scim-corp.com');
      const { readAhead } = await authenticate(`Bearer ${token}`, email);
      expect(readAhead).toMatchObject({ email, row: { captured: true, account: null } });
      expect(readAhead!.row.organizations.map((o) => o.id)).toContain(parent.organizationId);
      const known = (await authenticate(`Bearer ${token}`, parent.owner.email)).readAhead!;
      expect(known.row.account).toMatchObject({ email: parent.owner.email });
      const elsewhere = (await authenticate(`Bearer ${token}`, 'someone@elsewhere-corp.com')).readAhead!;
      expect(elsewhere.row.captured).toBe(false);
      expect((await authenticate(`Bearer ${token}`)).readAhead).toBeUndefined();
      await expect(authenticate('Bearer scim_wrong', email)).rejects.toMatchObject({ status: 401 });
    });

    it('provisions from the context read for the same e-mail and directory, never from another', async () => {
      const { directory: opened } = await authenticate(`Bearer ${token}`);
      const notCaptured = { captured: false, account: null, organizations: [] };
      const create = (email: string, aheadFor: string, directoryId = opened.id) =>
        stack.app.services.scim.createUser(em(), opened, directory.scimBaseUrl, oktaUser(email), {
          directoryId,
          email: aheadFor,
          row: notCaptured,
        });
      // Read for another address, or another directory: the user's own context is read, and provisions them.
      const provisioned = uniqueEmail('ahead', 'scim-corp.com');
      expect((await create(provisioned, 'other@scim-corp.com')).status).toBe(201);
      expect(await memberOf(provisioned)).toBe(true);
      const otherDirectory = uniqueEmail('ahead', 'scim-corp.com');
      expect((await create(otherDirectory, otherDirectory, crypto.randomUUID())).status).toBe(201);
      expect(await memberOf(otherDirectory)).toBe(true);
      // Read for this address (here saying it is not captured): used as it is, so no membership.
      const notProvisioned = uniqueEmail('ahead', 'scim-corp.com');
      expect((await create(notProvisioned, notProvisioned)).status).toBe(201);
      expect(await memberOf(notProvisioned)).toBe(false);
    });
  });

  describe('refusals', () => {
    it('refuses a missing or wrong token with 401 and a SCIM error body', async () => {
      for (const authorization of [undefined, 'Bearer wrong', `Basic ${token}`]) {
        const response = await fetch(`${directory.scimBaseUrl}/Users`, {
          headers: authorization ? { authorization } : {},
        });
        expect(response.status).toBe(401);
        expect(await response.json()).toMatchObject({ schemas: [ERROR], status: '401' });
      }
    });

    it("reads another directory's ids as not found, and its token opens nothing here", async () => {
      const other = await capturedParent(stack, 'other-scim.com');
      const created = await stack.gqlOk(
        DirectoryCreateDocument,
        { parentId: other.parentId, input: { name: 'Other' } },
        other.owner.token,
      );
      const otherScim = scimClient(
        created.directoryCreate.directory!.scimBaseUrl,
        created.directoryCreate.token!,
      );
      const foreign = (await otherScim('POST', '/Users', oktaUser(uniqueEmail('x', 'other-scim.com')))).body
        .id!;
      expect((await scim('GET', `/Users/${foreign}`)).status).toBe(404);
      expect(
        (
          await scim('PATCH', `/Users/${foreign}`, {
            schemas: [PATCH],
            Operations: [{ op: 'replace', value: { active: false } }],
          })
        ).status,
      ).toBe(404);
      expect((await scim('DELETE', `/Users/${foreign}`)).status).toBe(404);
      const crossToken = scimClient(directory.scimBaseUrl, created.directoryCreate.token!);
      expect((await crossToken('GET', '/Users')).status).toBe(401);
      // A group member from another directory is refused.
      const group = (await scim('POST', '/Groups', { schemas: [GROUP], displayName: 'cross', members: [] }))
        .body.id!;
      const cross = await scim('PATCH', `/Groups/${group}`, {
        schemas: [PATCH],
        Operations: [{ op: 'add', path: 'members', value: [{ value: foreign }] }],
      });
      expect(cross).toMatchObject({ status: 400, body: { scimType: 'invalidValue' } });
    });

    it.each<[string, string, unknown, string | undefined, number, string | undefined]>([
      ['malformed JSON', 'POST', '{"schemas":', 'application/scim+json', 400, 'invalidSyntax'],
      [
        'an unknown schema',
        'POST',
        { schemas: ['urn:example:Thing'], userName: 'x@scim-corp.com' },
        undefined,
        400,
        'invalidSyntax',
      ],
      ['a wrong content type', 'POST', 'userName=x', 'text/plain', 415, undefined],
      [
        'an unknown PATCH op',
        'PATCH',
        { schemas: [PATCH], Operations: [{ op: 'merge', value: {} }] },
        undefined,
        400,
        'invalidSyntax',
      ],
    ])('refuses %s', async (_name, method, body, contentType, status, scimType) => {
      const target =
        method === 'PATCH'
          ? `/Users/${(await scim('POST', '/Users', oktaUser(uniqueEmail('r', 'scim-corp.com')))).body.id}`
          : '/Users';
      const response = await scim(method, target, body, contentType ? { 'content-type': contentType } : {});
      expect(response.status).toBe(status);
      expect(response.body).toMatchObject({
        schemas: [ERROR],
        status: String(status),
        ...(scimType ? { scimType } : {}),
      });
    });

    it('refuses changing an immutable attribute, a stale ETag, and an oversize body', async () => {
      const created = await scim('POST', '/Users', oktaUser(uniqueEmail('imm', 'scim-corp.com')));
      const id = created.body.id!;
      const immutable = await scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: 'id', value: 'other' }],
      });
      expect(immutable).toMatchObject({ status: 400, body: { scimType: 'mutability' } });
      await scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', value: { displayName: 'v2' } }],
      });
      const stale = await scim(
        'PATCH',
        `/Users/${id}`,
        { schemas: [PATCH], Operations: [{ op: 'replace', value: { displayName: 'v3' } }] },
        { 'if-match': 'W/"1"' },
      );
      expect(stale.status).toBe(412);
      const current = await scim('GET', `/Users/${id}`);
      const fresh = await scim(
        'PATCH',
        `/Users/${id}`,
        { schemas: [PATCH], Operations: [{ op: 'replace', value: { displayName: 'v3' } }] },
        { 'if-match': current.etag! },
      );
      expect(fresh.status).toBe(200);
      const huge = await scim('POST', '/Users', {
        ...oktaUser(uniqueEmail('big', 'scim-corp.com')),
        title: 'x'.repeat(2 * 1024 * 1024),
      });
      expect(huge.status).toBe(413);
    });
  });

  it('keeps all 20 members when 20 PATCH requests add them to one group at once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++)
      ids.push((await scim('POST', '/Users', oktaUser(uniqueEmail(`c${i}`, 'scim-corp.com')))).body.id!);
    const group = (
      await scim('POST', '/Groups', { schemas: [GROUP], displayName: 'concurrent', members: [] })
    ).body.id!;
    const results = await Promise.all(
      ids.map((id) =>
        scim('PATCH', `/Groups/${group}`, {
          schemas: [PATCH],
          Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }],
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 200));
    const members = (await scim('GET', `/Groups/${group}`)).body.members as Array<{ value: string }>;
    expect(members.map((m) => m.value).sort()).toEqual([...ids].sort());
  });

  it('deletes a user: access ends, a second DELETE is 404, and the userName can be created again', async () => {
    const email = uniqueEmail('gone', 'scim-corp.com');
    const id = (await scim('POST', '/Users', oktaUser(email))).body.id!;
    const session = await stack.signIn(email);
    expect((await scim('DELETE', `/Users/${id}`)).status).toBe(204);
    expect((await stack.gql(MeDocument, {}, session.token)).data?.me).toBeNull();
    expect((await scim('DELETE', `/Users/${id}`)).status).toBe(404);
    expect((await scim('POST', '/Users', oktaUser(email))).status).toBe(201);
  });

  it('lets an admin remove a SCIM-managed member in the console; a sync does not undo it, a re-add by the IdP does', async () => {
    const email = uniqueEmail('console', 'scim-corp.com');
    const id = (await scim('POST', '/Users', oktaUser(email))).body.id!;
    const members = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId, first: 100 },
      parent.owner.token,
    );
    const userId = members.members.nodes.find((m) => m.user.email === email)!.user.id;
    await stack.gqlOk(
      MemberRemoveDocument,
      { organizationId: parent.organizationId, userId },
      parent.owner.token,
    );
    // A replace that changes nothing about assignment keeps the removal.
    await scim('PUT', `/Users/${id}`, oktaUser(email, { displayName: 'Still here' }));
    const still = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId, first: 100 },
      parent.owner.token,
    );
    expect(still.members.nodes.some((m) => m.user.email === email)).toBe(false);
    // Unassign and reassign in the IdP: the user is back.
    await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { active: false } }],
    });
    await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { active: true } }],
    });
    const back = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId, first: 100 },
      parent.owner.token,
    );
    expect(back.members.nodes.some((m) => m.user.email === email)).toBe(true);
  });

  it('rotates the token with a short overlap: only the token just replaced keeps working', async () => {
    const t0 = token;
    const first = await stack.gqlOk(DirectoryRotateTokenDocument, { id: directory.id }, parent.owner.token);
    const t1 = first.directoryRotateToken.token!;
    const status = async (t: string) =>
      (await scimClient(directory.scimBaseUrl, t)('GET', '/Users?count=1')).status;
    expect([await status(t1), await status(t0)]).toEqual([200, 200]);
    const second = await stack.gqlOk(DirectoryRotateTokenDocument, { id: directory.id }, parent.owner.token);
    const t2 = second.directoryRotateToken.token!;
    expect([await status(t2), await status(t1), await status(t0)]).toEqual([200, 200, 401]);
    token = t2;
    scim = scimClient(directory.scimBaseUrl, t2);
  });

  it('deletes a directory: its token opens nothing any more', async () => {
    const other = await capturedParent(stack, 'deleted-scim.com');
    const created = await stack.gqlOk(
      DirectoryCreateDocument,
      { parentId: other.parentId, input: { name: 'Temp' } },
      other.owner.token,
    );
    const temp = scimClient(created.directoryCreate.directory!.scimBaseUrl, created.directoryCreate.token!);
    expect((await temp('GET', '/Users')).status).toBe(200);
    const deleted = await stack.gqlOk(
      DirectoryDeleteDocument,
      { id: created.directoryCreate.directory!.id },
      other.owner.token,
    );
    expect(deleted.directoryDelete.userErrors).toEqual([]);
    expect((await temp('GET', '/Users')).status).toBe(401);
    const stranger = await stack.gql(DirectoryDeleteDocument, { id: directory.id }, other.owner.token);
    expect(stranger.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
