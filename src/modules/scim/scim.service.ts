// The SCIM 2.0 protocol for one directory (RFC 7644): Users and Groups with list (filter, paging,
// projection), get, create, replace, patch (both Okta's and Entra ID's dialects) and delete, ETags with
// If-Match, and the error format. Every write re-applies provisioning in the same transaction.
import {
  type EntityClass,
  type EntityData,
  LockMode,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { insertAsOneStatement } from '../../db/one-statement-write.js';
import { entitiesOf, plainRows as rows, preparedRows } from '../../db/plain-reads.js';
import type { Clock } from '../../lib/clock.js';
import type { EventBus } from '../../lib/events.js';
import { isUuid, uuidv7 } from '../../lib/ids.js';
import { constantTimeEqual, sha256 } from '../../lib/secrets.js';
import type { GroupMappingService } from '../mappings/group-mapping.service.js';
import { Organization } from '../organizations/organization.entity.js';
import { DirectoryGroup, DirectoryGroupMember } from './directory-group.entity.js';
import {
  type ContextRow,
  contextColumns,
  type DirectoryProvisioning,
  type ReadAhead,
  type ReconcileOutcome,
} from './directory-provisioning.js';
import { DirectoryUser, type ScimEmail, userNameKey } from './directory-user.entity.js';
import { Directory } from './directory.entity.js';
import {
  compileFilter,
  type FilterSchema,
  parseFilter,
  ScimFilterError,
  type SqlParam,
} from './scim-filter.js';
import { filterEqualities, matchesFilter, parsePatchPath as parsePath, ScimPathError } from './scim-path.js';
import {
  applyUserResource,
  etag,
  GROUP_SCHEMA,
  type Json,
  LIST_SCHEMA,
  PATCH_SCHEMA,
  project,
  renderGroup,
  renderUser,
  toBoolean,
  toEmails,
  toText,
  USER_SCHEMA,
} from './scim-resources.js';
import { ScimError, scimBadValue, scimNotFound } from './scim.errors.js';

export const MAX_RESULTS = 200;

export const USER_FILTER: FilterSchema = {
  schemaUri: USER_SCHEMA,
  attributes: {
    id: { sql: 'u.id::text', type: 'string', caseExact: true },
    userName: { sql: 'u.user_name', type: 'string', folded: { sql: 'u.user_name_key', fold: userNameKey } },
    externalId: { sql: 'u.external_id', type: 'string', caseExact: true },
    displayName: { sql: 'u.display_name', type: 'string' },
    'name.givenName': { sql: 'u.given_name', type: 'string' },
    'name.familyName': { sql: 'u.family_name', type: 'string' },
    active: { sql: 'u.active', type: 'boolean' },
    'meta.created': { sql: 'u.created_at', type: 'datetime' },
    'meta.lastModified': { sql: 'u.updated_at', type: 'datetime' },
  },
  multiValued: {
    emails: {
      jsonbColumn: 'u.emails',
      subAttributes: { value: { type: 'string' }, type: { type: 'string' }, primary: { type: 'boolean' } },
    },
  },
};

export const GROUP_FILTER: FilterSchema = {
  schemaUri: GROUP_SCHEMA,
  multiValued: {
    members: {
      existsSql: (inner) =>
        `exists (select 1 from directory_group_members gm where gm.group_id = g.id and ${inner})`,
      subAttributes: { value: { sql: 'gm.member_id::text', type: 'string', caseExact: true } },
    },
  },
  attributes: {
    id: { sql: 'g.id::text', type: 'string', caseExact: true },
    displayName: { sql: 'g.display_name', type: 'string' },
    externalId: { sql: 'g.external_id', type: 'string', caseExact: true },
    'meta.created': { sql: 'g.created_at', type: 'datetime' },
    'meta.lastModified': { sql: 'g.updated_at', type: 'datetime' },
  },
};

/** Where a list endpoint reads from; the alias is the one its filter schema's SQL is written against. */
export interface ListSource<T> {
  entity: EntityClass<T>;
  /** The SCIM resource name, as errors name it. */
  resource: string;
  table: string;
  alias: string;
  filter: FilterSchema;
}

export const USERS: ListSource<DirectoryUser> = {
  entity: DirectoryUser,
  resource: 'User',
  table: 'directory_users',
  alias: 'u',
  filter: USER_FILTER,
};
const GROUPS: ListSource<DirectoryGroup> = {
  entity: DirectoryGroup,
  resource: 'Group',
  table: 'directory_groups',
  alias: 'g',
  filter: GROUP_FILTER,
};

type GroupMemberRef = { id: string; userName: string };
type GroupInsert = { created: boolean; members: GroupMemberRef[] };

export interface ListQuery {
  filter?: string;
  startIndex?: string;
  count?: string;
  attributes?: string;
  excludedAttributes?: string;
}

export interface WriteResult {
  resource: Json;
  status: number;
  version: number;
}

type AfterCommit = { revokedUserIds: string[] };

export class ScimService {
  constructor(
    private readonly clock: Clock,
    private readonly provisioning: DirectoryProvisioning,
    private readonly events: EventBus,
    private readonly mappings: GroupMappingService,
  ) {}

  /**
   * The directory the bearer token opens; an unknown directory and a wrong token read the same (401).
   * `provisioningEmail`: the canonical e-mail of a user about to be created, whose provisioning context is
   * read in the same statement (an IdP's first push is a POST per user: a round trip fewer for each).
   */
  async authenticate(
    em: EntityManager,
    directoryId: string,
    authorization: string | undefined,
    provisioningEmail?: string,
  ): Promise<{ directory: Directory; readAhead?: ReadAhead }> {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '')?.[1];
    const refuse = () => new ScimError(401, undefined, 'A valid bearer token of this directory is required.');
    if (!token || !isUuid(directoryId)) throw refuse();
    const context =
      provisioningEmail === undefined
        ? null
        : contextColumns({ sql: 'dir.parent_id', params: [] }, provisioningEmail);
    // Every SCIM request starts here: one prepared read mapped into the request's identity map.
    const [row] = await preparedRows<EntityData<Directory> & Partial<ContextRow>>(
      em,
      `select dir.*${context ? `, ${context.sql}` : ''} from directories dir where dir.id = ? limit 1`,
      [...(context?.params ?? []), directoryId],
    );
    if (!row) throw refuse();
    const { captured, account, organizations, ...directoryRow } = row;
    const directory = entitiesOf(em, Directory, [directoryRow as EntityData<Directory>])[0]!;
    const hash = sha256(token);
    const current = constantTimeEqual(hash, directory.tokenHash);
    const previous =
      !!directory.previousTokenHash &&
      !!directory.previousTokenExpiresAt &&
      directory.previousTokenExpiresAt > this.clock.now() &&
      constantTimeEqual(hash, directory.previousTokenHash);
    if (!current && !previous) throw refuse();
    // Recorded at most every 10 s: a write per request would serialise a burst of IdP requests on this row.
    const now = this.clock.now();
    if (!directory.lastRequestAt || now.getTime() - directory.lastRequestAt.getTime() > 10_000) {
      directory.lastRequestAt = now;
      await em.nativeUpdate(Directory, { id: directory.id }, { lastRequestAt: now });
    }
    if (!context) return { directory };
    return {
      directory,
      readAhead: {
        directoryId: directory.id,
        email: provisioningEmail!,
        row: { captured: captured!, account: account ?? null, organizations: organizations! },
      },
    };
  }

  // ---- Users ----

  async listUsers(em: EntityManager, directory: Directory, base: string, query: ListQuery): Promise<Json> {
    const { total, startIndex, items } = await this.page(em, USERS, directory, query);
    const resources = items.map((user) =>
      project(renderUser(user, base), query.attributes, query.excludedAttributes),
    );
    return listResponse(total, startIndex, resources);
  }

  async getUser(
    em: EntityManager,
    directory: Directory,
    base: string,
    id: string,
    query: ListQuery,
  ): Promise<WriteResult> {
    const user = await this.find(em, USERS, directory, id);
    return {
      resource: project(renderUser(user, base), query.attributes, query.excludedAttributes),
      status: 200,
      version: user.version,
    };
  }

  /** `readAhead`: the provisioning context, if authenticate read it. */
  async createUser(
    em: EntityManager,
    directory: Directory,
    base: string,
    body: unknown,
    readAhead?: ReadAhead,
  ): Promise<WriteResult> {
    const resource = requireSchema(body, USER_SCHEMA);
    const written = await this.createUserInOneStatement(em, directory, base, resource, readAhead);
    if (written) return written;
    return this.write(em, async (tx, after) => {
      const user = this.newUser(tx, directory, resource);
      // The row is written with the account link provisioning gives it, in one flush: a taken userName
      // surfaces there and rolls the rest back.
      await refuseTakenUserName(user, async () => {
        this.collect(after, await this.provisioning.reconcile(tx, directory, user, { readded: true }));
        await tx.flush();
      });
      return { resource: renderUser(user, base), status: 201, version: user.version };
    });
  }

  /**
   * The common creation, an IdP's first push: the directory user, its account and memberships, and their
   * audit events are all new rows, written in one statement (insertAsOneStatement) without a transaction
   * around the reads before it, as a read-committed one would see the same. Null, having written nothing,
   * for any other case (an account to update, group mappings to apply, an account made meanwhile), which
   * createUser then makes in a transaction.
   */
  private async createUserInOneStatement(
    em: EntityManager,
    directory: Directory,
    base: string,
    resource: Json,
    readAhead: ReadAhead | undefined,
  ): Promise<WriteResult | null> {
    const fork = em.fork();
    const user = this.newUser(fork, directory, resource);
    const outcome = await this.provisioning.reconcile(fork, directory, user, {
      readded: true,
      withoutMappings: true,
      readAhead,
    });
    // Revoked sessions are closed after a commit, which only the transactional path tracks.
    if (outcome.needsMappings || outcome.revokedUserId) return null;
    try {
      let written = false;
      await refuseTakenUserName(user, async () => (written = await insertAsOneStatement(fork)));
      if (!written) return null;
    } catch (error) {
      // An account with this e-mail made since the read: the transaction links it.
      if (error instanceof UniqueConstraintViolationException) return null;
      throw error;
    }
    return { resource: renderUser(user, base), status: 201, version: user.version };
  }

  private newUser(em: EntityManager, directory: Directory, resource: Json): DirectoryUser {
    const user = new DirectoryUser(em.getReference(Directory, directory.id), '', this.clock.now());
    applyUserResource(user, resource);
    em.persist(user);
    return user;
  }

  async replaceUser(
    em: EntityManager,
    directory: Directory,
    base: string,
    id: string,
    body: unknown,
    ifMatch?: string,
  ): Promise<WriteResult> {
    const resource = requireSchema(body, USER_SCHEMA);
    return this.write(em, async (tx, after) => {
      const user = await this.find(tx, USERS, directory, id, true);
      checkVersion(user.version, ifMatch);
      if (resource.id !== undefined && resource.id !== user.id)
        throw new ScimError(400, 'mutability', 'id is immutable.');
      const wasActive = user.active;
      applyUserResource(user, resource);
      return this.saveUser(tx, directory, user, base, after, !wasActive && user.active);
    });
  }

  async patchUser(
    em: EntityManager,
    directory: Directory,
    base: string,
    id: string,
    body: unknown,
    ifMatch?: string,
  ): Promise<WriteResult> {
    const operations = patchOperations(body);
    return this.write(em, async (tx, after) => {
      const user = await this.find(tx, USERS, directory, id, true);
      checkVersion(user.version, ifMatch);
      const wasActive = user.active;
      for (const op of operations) applyUserOperation(user, op);
      return this.saveUser(tx, directory, user, base, after, !wasActive && user.active);
    });
  }

  async deleteUser(em: EntityManager, directory: Directory, id: string, ifMatch?: string): Promise<void> {
    await this.write(em, async (tx, after) => {
      const user = await this.find(tx, USERS, directory, id, true);
      checkVersion(user.version, ifMatch);
      this.collect(after, await this.provisioning.reconcile(tx, directory, user, { deleted: true }));
      tx.remove(user);
      return { resource: {}, status: 204, version: 0 };
    });
  }

  // ---- Groups ----

  async listGroups(em: EntityManager, directory: Directory, base: string, query: ListQuery): Promise<Json> {
    const { total, startIndex, items } = await this.page(em, GROUPS, directory, query);
    const withMembers = !(query.excludedAttributes ?? '')
      .toLowerCase()
      .split(',')
      .map((s) => s.trim())
      .includes('members');
    const members = withMembers ? await this.membersOfGroups(em, items) : new Map<string, GroupMemberRef[]>();
    const resources = items.map((group) =>
      project(
        renderGroup(group, members.get(group.id) ?? [], base),
        query.attributes,
        query.excludedAttributes,
      ),
    );
    return listResponse(total, startIndex, resources);
  }

  async getGroup(
    em: EntityManager,
    directory: Directory,
    base: string,
    id: string,
    query: ListQuery,
  ): Promise<WriteResult> {
    const group = await this.find(em, GROUPS, directory, id);
    const members = await this.membersOf(em, group);
    return {
      resource: project(renderGroup(group, members, base), query.attributes, query.excludedAttributes),
      status: 200,
      version: group.version,
    };
  }

  async createGroup(
    em: EntityManager,
    directory: Directory,
    base: string,
    body: unknown,
  ): Promise<WriteResult> {
    const resource = requireSchema(body, GROUP_SCHEMA);
    const displayName = toText(resource.displayName, 'displayName');
    if (!displayName) throw scimBadValue('displayName is required.');
    const members = directoryUserIds(memberIds(resource.members ?? []));
    const now = this.clock.now();
    const group = new DirectoryGroup(em.getReference(Directory, directory.id), displayName, now);
    group.externalId = toText(resource.externalId, 'externalId');
    const created = (written: GroupInsert) => ({
      resource: renderGroup(group, written.members, base),
      status: 201,
      version: group.version,
    });
    // Where no organization maps groups, the group and its members are the whole write: one statement,
    // atomic by itself. Otherwise the mappings are applied in the same transaction as the insert.
    const alone = await this.insertGroup(em, directory, group, members, { unlessMapped: true });
    if (alone.created) return created(alone);
    return this.write(em, async (tx) => {
      const written = await this.insertGroup(tx, directory, group, members, { unlessMapped: false });
      await this.reevaluate(tx, directory, [], group);
      return created(written);
    });
  }

  /**
   * Inserts `group` with its members in one statement (an IdP's first push creates hundreds of groups of
   * thousands; the ORM would track an entity per member), or nothing: when the name is taken (409), a
   * member is not a user of the directory (400), or, `unlessMapped`, an organization of the parent maps groups.
   */
  private async insertGroup(
    em: EntityManager,
    directory: Directory,
    group: DirectoryGroup,
    members: string[],
    options: { unlessMapped: boolean },
  ): Promise<GroupInsert> {
    const [written] = await rows<GroupInsert & { taken: boolean; found: number }>(
      em,
      `with wanted as (${WANTED_MEMBERS}),
       facts as (
         select exists (select 1 from directory_groups where directory_id = ? and display_name = ?) as taken,
                (select count(*)::int from wanted) as found,
                exists (select 1 from organizations where parent_id = ? and advanced_group_mappings) as mapped),
       created as (
         insert into directory_groups (id, directory_id, display_name, external_id, version, created_at, updated_at)
         select ?, ?, ?, ?, ?, ?, ? from facts
          where not taken and found = ? and not (mapped and ?)
         returning id),
       added as (insert into directory_group_members (id, group_id, member_id)
                 select w.id, c.id, w.member_id from wanted w cross join created c)
       select f.taken, f.found, exists (select 1 from created) as created,
              (select coalesce(json_agg(json_build_object('id', w.member_id, 'userName', w.user_name)
                                        order by w.id), '[]') from wanted w) as members
         from facts f`,
      [
        ...wantedMembers(directory, members),
        directory.id,
        group.displayName,
        directory.parent.id,
        group.id,
        directory.id,
        group.displayName,
        group.externalId ?? null,
        group.version,
        group.createdAt,
        group.updatedAt,
        members.length,
        options.unlessMapped,
      ],
    );
    if (written!.taken)
      throw new ScimError(409, 'uniqueness', `A group named "${group.displayName}" already exists.`);
    if (written!.found !== members.length) throw notDirectoryUser();
    return written!;
  }

  async replaceGroup(
    em: EntityManager,
    directory: Directory,
    base: string,
    id: string,
    body: unknown,
    ifMatch?: string,
  ): Promise<WriteResult> {
    const resource = requireSchema(body, GROUP_SCHEMA);
    return this.write(em, async (tx) => {
      const group = await this.find(tx, GROUPS, directory, id, true);
      checkVersion(group.version, ifMatch);
      const displayName = toText(resource.displayName, 'displayName');
      if (!displayName) throw scimBadValue('displayName is required.');
      const before = (await this.membersOf(tx, group)).map((m) => m.id);
      group.displayName = displayName;
      group.externalId = toText(resource.externalId, 'externalId');
      await this.setMembers(tx, directory, group, memberIds(resource.members ?? []));
      await this.reevaluate(tx, directory, before, group);
      return this.touchGroup(tx, group, base);
    });
  }

  /** Group PATCH serialises on the group's row, so concurrent member additions all land. */
  async patchGroup(
    em: EntityManager,
    directory: Directory,
    base: string,
    id: string,
    body: unknown,
    ifMatch?: string,
  ): Promise<WriteResult> {
    const operations = patchOperations(body);
    return this.write(em, async (tx) => {
      const group = await this.find(tx, GROUPS, directory, id, true);
      checkVersion(group.version, ifMatch);
      const before = (await this.membersOf(tx, group)).map((m) => m.id);
      for (const op of operations) await this.applyGroupOperation(tx, directory, group, op);
      await this.reevaluate(tx, directory, before, group);
      return this.touchGroup(tx, group, base);
    });
  }

  async deleteGroup(em: EntityManager, directory: Directory, id: string, ifMatch?: string): Promise<void> {
    await this.write(em, async (tx) => {
      const group = await this.find(tx, GROUPS, directory, id, true);
      checkVersion(group.version, ifMatch);
      const before = (await this.membersOf(tx, group)).map((m) => m.id);
      tx.remove(group);
      await this.reevaluate(tx, directory, before, null);
      return { resource: {}, status: 204, version: 0 };
    });
  }

  // ---- internals ----

  /** One transaction per SCIM write; revoked users' live connections close once it committed. */
  private async write(
    em: EntityManager,
    run: (tx: EntityManager, after: AfterCommit) => Promise<WriteResult>,
  ) {
    const after: AfterCommit = { revokedUserIds: [] };
    const result = await em.transactional((tx) => run(tx, after));
    for (const userId of after.revokedUserIds) this.events.publish('USER_SESSIONS_REVOKED', userId);
    return result;
  }

  private collect(after: AfterCommit, outcome: ReconcileOutcome): void {
    if (outcome.revokedUserId) after.revokedUserIds.push(outcome.revokedUserId);
  }

  private async saveUser(
    tx: EntityManager,
    directory: Directory,
    user: DirectoryUser,
    base: string,
    after: AfterCommit,
    readded: boolean,
  ) {
    user.version += 1;
    user.updatedAt = this.clock.now();
    await refuseTakenUserName(user, () => tx.flush());
    this.collect(after, await this.provisioning.reconcile(tx, directory, user, { readded }));
    return { resource: renderUser(user, base), status: 200, version: user.version };
  }

  private async touchGroup(tx: EntityManager, group: DirectoryGroup, base: string) {
    group.version += 1;
    group.updatedAt = this.clock.now();
    return this.renderGroupResult(tx, group, base, 200);
  }

  /** Group changes reach memberships at once (group mappings' SCIM channel): members before and after are re-evaluated. */
  private async reevaluate(
    tx: EntityManager,
    directory: Directory,
    memberIdsBefore: string[],
    group: DirectoryGroup | null,
  ) {
    // Groups grant nothing where no organization of the parent has mappings on: one read, not two per member.
    const mapped = await tx.count(Organization, { parent: directory.parent.id, advancedGroupMappings: true });
    if (mapped === 0) return;
    await tx.flush();
    const after = group ? (await this.membersOf(tx, group)).map((m) => m.id) : [];
    const affected = [...new Set([...memberIdsBefore, ...after])];
    if (affected.length === 0) return;
    const users = await tx.find(DirectoryUser, { id: { $in: affected } });
    for (const user of users) await this.mappings.applyForDirectoryUser(tx, directory, user);
  }

  private async renderGroupResult(tx: EntityManager, group: DirectoryGroup, base: string, status: number) {
    await tx.flush();
    return {
      resource: renderGroup(group, await this.membersOf(tx, group), base),
      status,
      version: group.version,
    };
  }

  private async applyGroupOperation(
    tx: EntityManager,
    directory: Directory,
    group: DirectoryGroup,
    op: PatchOperation,
  ) {
    const path = op.path?.trim();
    if (!path) {
      // Okta and Entra: {op: replace, value: {displayName, id?, externalId?, members?}}.
      const value = asObject(op.value);
      for (const [key, v] of Object.entries(value)) {
        const lower = key.toLowerCase();
        if (lower === 'displayname') group.displayName = toText(v, 'displayName') ?? group.displayName;
        else if (lower === 'externalid') group.externalId = toText(v, 'externalId');
        else if (lower === 'members') await this.changeMembers(tx, directory, group, op.op, memberIds(v));
        else if (lower === 'id') {
          if (v !== group.id) throw new ScimError(400, 'mutability', 'id is immutable.');
        } else throw new ScimError(400, 'invalidPath', `Unknown group attribute "${key}".`);
      }
      return;
    }
    const parsed = parsePatchPath(path);
    const attribute = parsed.attribute.attribute.toLowerCase();
    if (attribute === 'members') {
      if (parsed.filter) {
        if (op.op !== 'remove')
          throw new ScimError(400, 'invalidPath', 'A member filter is only allowed with remove.');
        const members = await this.membersOf(tx, group);
        const matched = members.filter((m) =>
          matchesFilter(parsed.filter!, { value: m.id, display: m.userName }),
        );
        if (matched.length === 0) throw new ScimError(400, 'noTarget', 'No member matches the path filter.');
        await this.changeMembers(
          tx,
          directory,
          group,
          'remove',
          matched.map((m) => m.id),
        );
        return;
      }
      // Entra removes with {op: Remove, path: members, value: [{value}]}; without a value, remove all.
      if (op.op === 'remove' && op.value === undefined) {
        await this.setMembers(tx, directory, group, []);
        return;
      }
      await this.changeMembers(tx, directory, group, op.op, memberIds(op.value));
      return;
    }
    if (attribute === 'displayname') {
      if (op.op === 'remove') throw new ScimError(400, 'mutability', 'displayName is required.');
      group.displayName = toText(op.value, 'displayName') ?? group.displayName;
      return;
    }
    if (attribute === 'externalid') {
      group.externalId = op.op === 'remove' ? null : toText(op.value, 'externalId');
      return;
    }
    if (attribute === 'id') throw new ScimError(400, 'mutability', 'id is immutable.');
    throw new ScimError(400, 'invalidPath', `Unknown group attribute "${path}".`);
  }

  private async changeMembers(
    tx: EntityManager,
    directory: Directory,
    group: DirectoryGroup,
    op: PatchVerb,
    ids: string[],
  ) {
    if (op === 'replace') return this.setMembers(tx, directory, group, ids);
    if (op === 'add') return this.addMembers(tx, directory, group, ids);
    await tx.nativeDelete(DirectoryGroupMember, { group, member: { $in: ids.filter(isUuid) } });
  }

  private async setMembers(tx: EntityManager, directory: Directory, group: DirectoryGroup, ids: string[]) {
    await tx.nativeDelete(DirectoryGroupMember, { group });
    await this.addMembers(tx, directory, group, ids);
  }

  /**
   * Adds members in one statement whatever their number (an IdP's first push sends thousands), keeping
   * those already in. Member ids must be users of this directory: another directory's ids are refused like
   * unknown ones, and the refusal rolls back the request's transaction with what the statement inserted.
   */
  private async addMembers(tx: EntityManager, directory: Directory, group: DirectoryGroup, ids: string[]) {
    const unique = directoryUserIds(ids);
    if (unique.length === 0) return;
    const [found] = await rows<{ n: number }>(
      tx,
      `with wanted as (${WANTED_MEMBERS}),
            added as (insert into directory_group_members (id, group_id, member_id)
                      select id, ?, member_id from wanted
                      on conflict (group_id, member_id) do nothing)
       select count(*)::int as n from wanted`,
      [...wantedMembers(directory, unique), group.id],
    );
    if (found?.n !== unique.length) throw notDirectoryUser();
  }

  private async membersOf(em: EntityManager, group: DirectoryGroup) {
    return (await this.membersOfGroups(em, [group])).get(group.id) ?? [];
  }

  /**
   * Members of several groups in one query, so a list page costs the same whatever its size. Read as
   * plain rows: a group of thousands must not become thousands of tracked entities.
   */
  private async membersOfGroups(em: EntityManager, groups: DirectoryGroup[]) {
    const byGroup = new Map<string, GroupMemberRef[]>();
    if (groups.length === 0) return byGroup;
    const members = await rows<{ group_id: string; id: string; user_name: string }>(
      em,
      `select gm.group_id, u.id, u.user_name
         from directory_group_members gm join directory_users u on u.id = gm.member_id
        where gm.group_id = any(?::uuid[])
        order by gm.id`,
      [groups.map((g) => g.id)],
    );
    for (const m of members) {
      const list = byGroup.get(m.group_id) ?? [];
      list.push({ id: m.id, userName: m.user_name });
      byGroup.set(m.group_id, list);
    }
    return byGroup;
  }

  /** One page in creation order: filter, count and paging run in SQL, then the page loads as entities. */
  private async page<T extends { id: string }>(
    em: EntityManager,
    source: ListSource<T>,
    directory: Directory,
    query: ListQuery,
  ) {
    const { startIndex, count, page } = listStatements(source, directory.id, query);
    const [total] = await rows<{ n: number }>(em, count.sql, count.params);
    const ids = await rows<{ id: string }>(em, page.sql, page.params);
    const loaded = await em.find(source.entity, { id: { $in: ids.map((r) => r.id) } } as never);
    const byId = new Map(loaded.map((item) => [item.id, item]));
    return { total: total?.n ?? 0, startIndex, items: ids.map((r) => byId.get(r.id)!) };
  }

  /** One resource of the directory (locked for a write when asked); any other id reads as not found. */
  private async find<T extends object>(
    em: EntityManager,
    source: ListSource<T>,
    directory: Directory,
    id: string,
    lock = false,
  ): Promise<T> {
    if (!isUuid(id)) throw scimNotFound(source.resource);
    const found = await em.findOne(
      source.entity,
      { id, directory: directory.id } as never,
      lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
    );
    if (!found) throw scimNotFound(source.resource);
    return found;
  }
}

/**
 * The statements of a list page, with `?` placeholders: its total, and its ids in creation order. Apart
 * from the service so tests can EXPLAIN exactly what a filter costs.
 */
export function listStatements<T>(source: ListSource<T>, directoryId: string, query: ListQuery) {
  const { table, alias } = source;
  const { where, params } = scopedWhere(
    query.filter,
    source.filter,
    `${alias}.directory_id = ?`,
    directoryId,
  );
  const { offset, limit, startIndex } = paging(query);
  return {
    startIndex,
    count: { sql: `select count(*)::int as n from ${table} ${alias} where ${where}`, params },
    page: {
      sql: `select ${alias}.id from ${table} ${alias} where ${where} order by ${alias}.created_at, ${alias}.id offset ? limit ?`,
      params: [...params, offset, limit],
    },
  };
}

function scopedWhere(
  filter: string | undefined,
  schema: FilterSchema,
  scopeSql: string,
  directoryId: string,
) {
  if (!filter) return { where: scopeSql, params: [directoryId] as SqlParam[] };
  try {
    const compiled = compileFilter(parseFilter(filter), schema);
    return { where: `${scopeSql} and (${compiled.sql})`, params: [directoryId, ...compiled.params] };
  } catch (error) {
    if (error instanceof ScimFilterError) throw new ScimError(400, 'invalidFilter', error.message);
    throw error;
  }
}

type PatchVerb = 'add' | 'replace' | 'remove';
export interface PatchOperation {
  op: PatchVerb;
  path?: string;
  value?: unknown;
}

function asObject(value: unknown): Json {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw scimBadValue('The operation needs an object value.');
  return value as Json;
}

function requireSchema(body: unknown, schema: string): Json {
  const resource = asObjectSyntax(body);
  const schemas = resource.schemas;
  if (!Array.isArray(schemas) || !schemas.includes(schema)) {
    throw new ScimError(400, 'invalidSyntax', `The resource must list the schema ${schema}.`);
  }
  return resource;
}

function asObjectSyntax(body: unknown): Json {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new ScimError(400, 'invalidSyntax', 'The body must be a JSON object.');
  return body as Json;
}

/** PatchOp bodies; op names are case-insensitive (Entra sends "Replace", "Add", "Remove"). */
export function patchOperations(body: unknown): PatchOperation[] {
  const message = asObjectSyntax(body);
  if (!Array.isArray(message.schemas) || !message.schemas.includes(PATCH_SCHEMA)) {
    throw new ScimError(400, 'invalidSyntax', `A PATCH body must list the schema ${PATCH_SCHEMA}.`);
  }
  const operations = message.Operations ?? message.operations;
  if (!Array.isArray(operations) || operations.length === 0 || operations.length > 1000) {
    throw new ScimError(400, 'invalidSyntax', 'Operations must be a non-empty array.');
  }
  return operations.map((raw) => {
    const operation = asObjectSyntax(raw);
    const op = typeof operation.op === 'string' ? operation.op.toLowerCase() : '';
    if (op !== 'add' && op !== 'replace' && op !== 'remove')
      // JSON, not String(): a body's {"toString": []} cannot be turned into a string.
      throw new ScimError(400, 'invalidSyntax', `Unknown op ${JSON.stringify(operation.op) ?? 'missing'}.`);
    if (operation.path !== undefined && typeof operation.path !== 'string')
      throw new ScimError(400, 'invalidPath', 'path must be a string.');
    if (op === 'remove' && !operation.path) throw new ScimError(400, 'noTarget', 'remove needs a path.');
    return { op, path: operation.path as string | undefined, value: operation.value };
  });
}

/**
 * The rows of group members to write, with their new row ids: the users of the directory among the ids
 * `wantedMembers` binds (fewer rows than ids means an id is not a user of this directory).
 */
// One primary-key lookup per wanted member, whatever the statistics say: right after an IdP's first push
// they still count the directory's users as none, and the planner then hashed, or scanned per member,
// every user of the directory. The LIMIT keeps the directory condition out of the lookup.
export const WANTED_MEMBERS = `select v.id, v.member_id, u.user_name
                          from unnest(?::uuid[], ?::uuid[]) as v(id, member_id)
                          cross join lateral (select user_name, directory_id from directory_users
                                               where id = v.member_id limit 1) u
                         where u.directory_id = ?`;

function wantedMembers(directory: Directory, ids: string[]): unknown[] {
  return [ids.map(() => uuidv7()), ids, directory.id];
}

/** Member ids without repeats; another directory's ids are refused like unknown ones (checked in SQL). */
function directoryUserIds(ids: string[]): string[] {
  if (ids.some((id) => !isUuid(id))) throw notDirectoryUser();
  return [...new Set(ids)];
}

const notDirectoryUser = () => scimBadValue('A member value is not a user id of this directory.');

function memberIds(value: unknown): string[] {
  if (!Array.isArray(value)) throw scimBadValue('members must be an array.');
  return value.map((m) => {
    const id = m && typeof m === 'object' ? (m as Json).value : undefined;
    if (typeof id !== 'string') throw scimBadValue('Each member needs a value.');
    return id;
  });
}

/** One User PATCH operation: a path, or (path-less) an object of attributes, dotted keys included. */
export function applyUserOperation(user: DirectoryUser, op: PatchOperation): void {
  if (!op.path) {
    for (const [key, value] of Object.entries(asObject(op.value))) setUserAttribute(user, key, op.op, value);
    return;
  }
  setUserAttribute(user, op.path, op.op, op.value);
}

function setUserAttribute(user: DirectoryUser, rawPath: string, op: PatchVerb, value: unknown): void {
  const path = rawPath.replace(/^urn:ietf:params:scim:schemas:core:2\.0:User:/i, '');
  const lower = path.toLowerCase();
  const remove = op === 'remove';
  switch (lower) {
    case 'active':
      if (remove) throw new ScimError(400, 'mutability', 'active cannot be removed.');
      user.active = toBoolean(value, 'active');
      return;
    case 'username': {
      const userName = toText(value, 'userName');
      if (remove || !userName) throw new ScimError(400, 'mutability', 'userName is required.');
      user.userName = userName;
      user.userNameKey = userNameKey(userName);
      return;
    }
    case 'externalid':
      user.externalId = remove ? null : toText(value, 'externalId');
      return;
    case 'displayname':
      user.displayName = remove ? null : toText(value, 'displayName', 400);
      return;
    case 'name.givenname':
      user.givenName = remove ? null : toText(value, 'name.givenName', 200);
      return;
    case 'name.familyname':
      user.familyName = remove ? null : toText(value, 'name.familyName', 200);
      return;
    case 'name': {
      // RFC 7644 §3.5.2: a sub-attribute the value leaves out keeps its value.
      const name = remove ? { givenName: null, familyName: null } : asObject(value);
      for (const [key, sub] of Object.entries(name)) {
        if (/^(givenName|familyName)$/i.test(key)) setUserAttribute(user, `name.${key}`, op, sub);
      }
      return;
    }
    case 'emails':
      user.emails = remove ? [] : op === 'add' ? addEmails(user.emails, toEmails(value)) : toEmails(value);
      return;
    case 'id':
    case 'meta':
    case 'groups':
      throw new ScimError(400, 'mutability', `${path} is read-only.`);
    case 'password':
    case 'schemas':
      // Kept by neither PUT nor PATCH: we hold no passwords, and the schemas follow from the attributes.
      return;
  }
  if (lower.startsWith('emails[')) {
    const parsed = parsePatchPath(path);
    const sub = parsed.subAttribute?.toLowerCase() ?? 'value';
    const matching = user.emails.filter((e) => !parsed.filter || matchesFilter(parsed.filter, e));
    if (remove) {
      user.emails = user.emails.filter((e) => !matching.includes(e));
      return;
    }
    if (sub !== 'value')
      throw new ScimError(400, 'invalidPath', `Unsupported e-mail sub-attribute "${sub}".`);
    const text = toText(value, 'emails.value', 254);
    if (matching.length === 0) {
      // Entra replaces emails[type eq "work"].value on a user that has none yet: create it.
      const wanted = parsed.filter ? filterEqualities(parsed.filter)?.type : undefined;
      const type = typeof wanted === 'string' ? wanted : 'work';
      user.emails = [...user.emails, { value: text ?? '', type, primary: user.emails.length === 0 }];
    } else {
      user.emails = user.emails.map((e) => (matching.includes(e) ? { ...e, value: text ?? '' } : e));
    }
    return;
  }
  // Attributes we keep but do not interpret (title, locale, the enterprise extension...).
  const extra = { ...(user.extra ?? {}) };
  if (remove) delete extra[path];
  else extra[path] = value;
  user.extra = Object.keys(extra).length ? extra : null;
}

/** RFC 7644 §3.5.2.1: adding an e-mail the user already has (same address and type) changes nothing. */
function addEmails(existing: ScimEmail[], added: ScimEmail[]): ScimEmail[] {
  const same = (a: ScimEmail, b: ScimEmail) =>
    a.value.toLowerCase() === b.value.toLowerCase() && a.type?.toLowerCase() === b.type?.toLowerCase();
  return added.reduce((all, email) => (all.some((e) => same(e, email)) ? all : [...all, email]), existing);
}

function parsePatchPath(path: string) {
  try {
    return parsePath(path);
  } catch (error) {
    if (error instanceof ScimPathError) throw new ScimError(400, 'invalidPath', error.message);
    throw error;
  }
}

/** Runs `write`, answering 409 when it breaks the directory's unique userName (and no other constraint). */
async function refuseTakenUserName(user: DirectoryUser, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (
      error instanceof UniqueConstraintViolationException &&
      (error as { constraint?: string }).constraint === USER_NAME_CONSTRAINT
    ) {
      throw new ScimError(409, 'uniqueness', `A user with userName "${user.userName}" already exists.`);
    }
    throw error;
  }
}

const USER_NAME_CONSTRAINT = 'directory_users_directory_id_user_name_key_unique';

function checkVersion(version: number, ifMatch?: string): void {
  if (
    ifMatch &&
    ifMatch.trim() !== '*' &&
    !ifMatch
      .split(',')
      .map((v) => v.trim())
      .includes(etag(version))
  ) {
    throw new ScimError(412, undefined, 'The resource changed since that version (If-Match failed).');
  }
}

function paging(query: ListQuery) {
  const startIndex = Math.max(1, Number.parseInt(query.startIndex ?? '1', 10) || 1);
  const requested = query.count === undefined ? 100 : Number.parseInt(query.count, 10);
  const limit = Math.min(MAX_RESULTS, Math.max(0, Number.isNaN(requested) ? 100 : requested));
  return { offset: startIndex - 1, limit, startIndex };
}

function listResponse(total: number, startIndex: number, resources: Json[]): Json {
  return {
    schemas: [LIST_SCHEMA],
    totalResults: total,
    startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}
