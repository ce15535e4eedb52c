// The SCIM 2.0 client of one simulated IdP tenant: it provisions the tenant's users and pushed groups into a
// service provider's SCIM server (RFC 7643/7644) the way Okta and Microsoft Entra ID really talk to one,
// quirks included, so the server is tested against the wire traffic it will actually receive.
//
// Okta (developer.okta.com "Okta and SCIM Version 2.0"): lookup by userName with startIndex/count, POST with
// locale/groups/externalId (the Okta user id), profile updates as a PUT of the full resource, lowercase
// PatchOp ops, deactivation as a path-less `replace` of `{ active: false }`, never a DELETE of a user, group
// membership as `add` with display and `remove` with a `members[value eq "..."]` filter path.
// Entra ("Known issues and resolutions with SCIM 2.0 protocol compliance"): capitalised ops ("Replace", "Add",
// "Remove"), path-less Replace with dotted keys, `emails[type eq "work"].value` paths, `active` as the string
// "False"/"True", group lookups with excludedAttributes=members, member removal with a value array instead
// of a filter path, and never a DELETE of a user (unassigning deactivates).
//
// Objects are diffed against what was last pushed: a change to a linked object sends only the update; an
// unlinked one is looked up, then created (a 409 on create looks it up again and carries on); a full push
// ("Push Now", "Restart provisioning") looks every object up. Requests of one tenant run one at a time, in
// order. Failures are recorded and the push carries on with the next object.
import type { ScimConfigInput, ScimMode } from './schemas.js';

export const SCIM_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCIM_ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const SCIM_GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const SCIM_PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const REQUEST_TIMEOUT_MS = 10_000;
// Bounds on what a long-running simulator remembers; tests only ever look at recent entries.
const MAX_LOG = 5000;
const MAX_ERRORS = 1000;

/** What the client reads from its tenant: the users (with their assignment to the app) and the groups. */
export interface ScimSourceUser {
  subject: string;
  email: string;
  firstName: string;
  lastName: string;
  groups: string[];
  assigned: boolean;
}

export interface ScimSourceGroup {
  /** The IdP's stable group id (Entra sends it as the group's externalId). */
  id: string;
  name: string;
}

export interface ScimSource {
  users(): ScimSourceUser[];
  groups(): ScimSourceGroup[];
}

/** One request the client sent, as sent, with the server's answer. */
export interface ScimRequestRecord {
  method: string;
  /** Relative to the configured base URL, query string included exactly as sent, e.g. `/Users?filter=...`. */
  path: string;
  body?: unknown;
  /** 0 when no HTTP answer came (connection refused, timeout). */
  status: number;
  /** The parsed JSON answer (or its text when not JSON); absent when empty. */
  response?: unknown;
}

export interface ScimError {
  /** What was being pushed, e.g. `user ada@acme.test` or `group anthropic-admins`. */
  target: string;
  method: string;
  path: string;
  status: number;
  message: string;
}

export interface ScimPushSummary {
  /** Assigned users reconciled (looked up, then created or updated). */
  users: number;
  /** Users deactivated because they are no longer assigned (or were removed from the tenant). */
  deactivated: number;
  /** Groups matching the push rule, reconciled. */
  groups: number;
  /** Groups deleted because they were removed, renamed out of the rule, or the rule changed. */
  deletedGroups: number;
  /** Requests sent by this push. */
  requests: number;
  /** Errors recorded during this push (the push carries on past each one). */
  errors: ScimError[];
}

export interface ScimStatus {
  baseUrl: string;
  mode: ScimMode;
  pushGroupsPrefix: string | null;
  autoPush: boolean;
  /** Pushes queued or running. */
  pending: number;
  /** SCIM ids of the users and groups this tenant has linked, by e-mail and group name. */
  linkedUsers: Record<string, { id: string; active: boolean }>;
  linkedGroups: Record<string, { id: string; members: string[] }>;
}

interface ScimConfig {
  baseUrl: string;
  token: string;
  mode: ScimMode;
  pushGroupsPrefix: string | null;
  autoPush: boolean;
}

/** The attributes compared between the tenant and the server. */
interface UserSnapshot {
  userName: string;
  givenName: string;
  familyName: string;
  formatted: string;
  displayName: string;
  email: string;
  externalId: string;
  active: boolean;
}

interface LinkedUser extends UserSnapshot {
  id: string;
}

interface LinkedGroup {
  id: string;
  displayName: string;
  /** SCIM user ids as last pushed (or as the server reported them). */
  members: Set<string>;
}

interface Resource {
  id: string;
  [key: string]: unknown;
}

class ScimFailure extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type PatchOperation = { op: string; path?: string; value?: unknown };

export class ScimClient {
  private config: ScimConfig;
  private readonly log: ScimRequestRecord[] = [];
  private readonly errors: ScimError[] = [];
  private sent = 0;
  /** Linked users by the tenant's user subject. */
  private readonly users = new Map<string, LinkedUser>();
  /** Linked groups by the tenant's group id. */
  private readonly groups = new Map<string, LinkedGroup>();
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  /** An incremental push is queued and not started yet: it will read every change made until it starts. */
  private incrementalQueued = false;
  /** Errors of the full push now running, for its summary. */
  private collecting: ScimError[] | undefined;

  constructor(
    private readonly source: ScimSource,
    config: ScimConfigInput,
  ) {
    this.config = normalise(config);
  }

  /** Changes the settings; a different base URL or mode is another directory, so every link is forgotten. */
  configure(config: ScimConfigInput): void {
    const next = normalise(config);
    if (next.baseUrl !== this.config.baseUrl || next.mode !== this.config.mode) {
      this.users.clear();
      this.groups.clear();
    }
    this.config = next;
  }

  setAutoPush(autoPush: boolean): void {
    this.config.autoPush = autoPush;
  }

  /** Called after every change to the tenant's users or groups: pushes it when auto-push is on. */
  changed(): void {
    if (!this.config.autoPush || this.incrementalQueued) return;
    this.incrementalQueued = true;
    void this.enqueue(() => {
      this.incrementalQueued = false;
      return this.push(false);
    });
  }

  /** A full reconcile ("Push Now"): every assigned user and pushed group is looked up, then created or updated. */
  pushAll(): Promise<ScimPushSummary> {
    return this.enqueue(() => this.push(true));
  }

  /** Resolves once nothing is queued or running. */
  async idle(): Promise<void> {
    while (this.pending > 0) await this.tail;
  }

  requests(): ScimRequestRecord[] {
    return this.log.map((entry) => structuredClone(entry));
  }

  recordedErrors(): ScimError[] {
    return this.errors.map((error) => ({ ...error }));
  }

  clearLog(): void {
    this.log.length = 0;
    this.errors.length = 0;
  }

  status(): ScimStatus {
    const emails = new Map(this.source.users().map((user) => [user.subject, user.email]));
    const names = new Map(this.source.groups().map((group) => [group.id, group.name]));
    const { token: _token, ...config } = this.config;
    return {
      ...config,
      pending: this.pending,
      linkedUsers: Object.fromEntries(
        [...this.users].map(([subject, user]) => [
          emails.get(subject) ?? user.userName,
          { id: user.id, active: user.active },
        ]),
      ),
      linkedGroups: Object.fromEntries(
        [...this.groups].map(([key, group]) => [
          names.get(key) ?? group.displayName,
          { id: group.id, members: [...group.members] },
        ]),
      ),
    };
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    this.pending++;
    const run = this.tail.then(task).finally(() => {
      this.pending--;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  // ---- one push ----

  private async push(full: boolean): Promise<ScimPushSummary> {
    const errors: ScimError[] = [];
    if (full) this.collecting = errors;
    const sentBefore = this.sent;
    const summary: ScimPushSummary = {
      users: 0,
      deactivated: 0,
      groups: 0,
      deletedGroups: 0,
      requests: 0,
      errors,
    };
    try {
      const users = this.source.users();
      const assigned = users.filter((user) => user.assigned);
      for (const user of assigned) {
        summary.users++;
        await this.guard(`user ${user.email}`, () => this.ensureUser(user, full));
      }
      const assignedSubjects = new Set(assigned.map((user) => user.subject));
      for (const [subject, linked] of [...this.users]) {
        if (assignedSubjects.has(subject)) continue;
        // Another subject now holds the same SCIM user (the user was re-created with the same e-mail).
        const relinked = [...this.users].some(([other, user]) => other !== subject && user.id === linked.id);
        if (relinked) {
          this.users.delete(subject);
          continue;
        }
        if (!linked.active) continue;
        summary.deactivated++;
        await this.guard(`user ${linked.userName}`, () => this.deactivateUser(linked));
      }

      const pushed = this.pushedGroups();
      const pushedIds = new Set(pushed.map((group) => group.id));
      for (const group of pushed) {
        summary.groups++;
        await this.guard(`group ${group.name}`, () => this.ensureGroup(group, users, full));
      }
      for (const [key, linked] of [...this.groups]) {
        if (pushedIds.has(key)) continue;
        summary.deletedGroups++;
        await this.guard(`group ${linked.displayName}`, async () => {
          await this.send('DELETE', `/Groups/${encodeURIComponent(linked.id)}`);
          this.groups.delete(key);
        });
      }
    } finally {
      if (full) this.collecting = undefined;
    }
    summary.requests = this.sent - sentBefore;
    return summary;
  }

  private async guard(target: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      const error: ScimError =
        err instanceof ScimFailure
          ? { target, method: err.method, path: err.path, status: err.status, message: err.message }
          : {
              target,
              method: '',
              path: '',
              status: 0,
              message: err instanceof Error ? err.message : String(err),
            };
      this.errors.push(error);
      if (this.errors.length > MAX_ERRORS) this.errors.splice(0, this.errors.length - MAX_ERRORS);
      this.collecting?.push(error);
    }
  }

  private pushedGroups(): ScimSourceGroup[] {
    const prefix = this.config.pushGroupsPrefix;
    if (prefix === null) return [];
    return this.source.groups().filter((group) => group.name.startsWith(prefix));
  }

  // ---- users ----

  private desiredUser(user: ScimSourceUser, linked: LinkedUser | undefined): UserSnapshot {
    const displayName = `${user.firstName} ${user.lastName}`.trim();
    return {
      userName: user.email,
      givenName: user.firstName,
      familyName: user.lastName,
      formatted: displayName,
      displayName,
      email: user.email,
      // Okta sends its user id; Entra its mailNickname, which stays put when the UPN changes.
      externalId: this.okta ? user.subject : (linked?.externalId ?? mailNickname(user.email)),
      active: true,
    };
  }

  private async ensureUser(user: ScimSourceUser, full: boolean): Promise<void> {
    const linked = this.users.get(user.subject);
    const desired = this.desiredUser(user, linked);
    if (linked && !full) {
      await this.updateUser(linked, desired);
      return;
    }
    // The server knows a linked user by the userName last pushed, not by a change it has not seen yet.
    let found = await this.lookupUser(linked?.userName ?? desired.userName);
    if (!found) {
      const created = await this.send('POST', '/Users', this.createUserBody(desired), { conflict: true });
      if (created.status === 409) {
        // Someone created it between the lookup and the POST: find it and carry on as if it had matched.
        found = await this.lookupUser(desired.userName);
        if (!found)
          throw new ScimFailure('POST', '/Users', 409, `409 on create but no user ${desired.userName}`);
      } else {
        this.users.set(user.subject, { ...desired, id: resourceId(created.json, 'POST', '/Users') });
        return;
      }
    }
    const current: LinkedUser = { ...userSnapshot(found.resource), id: found.resource.id };
    this.users.set(user.subject, current);
    await this.updateUser(current, desired);
  }

  private async updateUser(current: LinkedUser, desired: UserSnapshot): Promise<void> {
    const path = `/Users/${encodeURIComponent(current.id)}`;
    if (this.okta) {
      if (!current.active)
        await this.send('PATCH', path, patch([{ op: 'replace', value: { active: true } }]));
      current.active = true;
      if (profileDiffers(current, desired)) {
        await this.send('PUT', path, this.oktaUserBody(desired, current.id));
      }
    } else {
      const operations: PatchOperation[] = [];
      if (!current.active) operations.push({ op: 'Replace', path: 'active', value: 'True' });
      operations.push(...entraUserOperations(current, desired));
      if (operations.length > 0) await this.send('PATCH', path, patch(operations));
    }
    Object.assign(current, desired);
  }

  private async deactivateUser(linked: LinkedUser): Promise<void> {
    // Neither product ever DELETEs a user: unassigning (or deleting the user in the IdP) deactivates.
    const operation = this.okta
      ? { op: 'replace', value: { active: false } }
      : { op: 'Replace', path: 'active', value: 'False' };
    await this.send('PATCH', `/Users/${encodeURIComponent(linked.id)}`, patch([operation]));
    linked.active = false;
  }

  private createUserBody(user: UserSnapshot): Record<string, unknown> {
    if (this.okta) {
      return {
        schemas: [SCIM_USER_SCHEMA],
        userName: user.userName,
        name: { givenName: user.givenName, familyName: user.familyName },
        emails: [{ primary: true, value: user.email, type: 'work' }],
        displayName: user.displayName,
        locale: 'en-US',
        externalId: user.externalId,
        groups: [],
        active: true,
      };
    }
    return {
      schemas: [SCIM_USER_SCHEMA, SCIM_ENTERPRISE_USER_SCHEMA],
      externalId: user.externalId,
      userName: user.userName,
      active: true,
      displayName: user.displayName,
      emails: [{ primary: true, type: 'work', value: user.email }],
      // Entra sends the read-only meta.resourceType on create; a server must ignore it (RFC 7643 §3.1).
      meta: { resourceType: 'User' },
      name: { formatted: user.formatted, familyName: user.familyName, givenName: user.givenName },
      roles: [],
    };
  }

  private oktaUserBody(user: UserSnapshot, id: string): Record<string, unknown> {
    const { schemas, ...rest } = this.createUserBody(user);
    return { schemas, id, ...rest };
  }

  private async lookupUser(userName: string) {
    const filter = this.filter(`userName eq "${userName}"`);
    return this.lookup(
      this.okta ? `/Users?filter=${filter}&startIndex=1&count=100` : `/Users?filter=${filter}`,
    );
  }

  // ---- groups ----

  private async ensureGroup(group: ScimSourceGroup, users: ScimSourceUser[], full: boolean): Promise<void> {
    let linked = this.groups.get(group.id);
    if (!linked || full) {
      const found = await this.lookupGroup(linked?.displayName ?? group.name);
      if (found) {
        const reported = this.okta ? memberIds(found.resource) : undefined;
        linked = {
          id: found.resource.id,
          displayName:
            typeof found.resource.displayName === 'string' ? found.resource.displayName : group.name,
          members: reported ?? (linked?.id === found.resource.id ? linked.members : new Set()),
        };
      } else {
        linked = await this.createGroup(group);
      }
      this.groups.set(group.id, linked);
    }
    const path = `/Groups/${encodeURIComponent(linked.id)}`;
    if (linked.displayName !== group.name) {
      const operation = this.okta
        ? { op: 'replace', value: { id: linked.id, displayName: group.name } }
        : { op: 'Replace', path: 'displayName', value: group.name };
      await this.send('PATCH', path, patch([operation]));
      linked.displayName = group.name;
    }

    // Members are the group's users assigned to the app, once provisioned and active.
    const desired = new Map<string, string>();
    for (const user of users) {
      const member = this.users.get(user.subject);
      if (user.assigned && member?.active && user.groups.includes(group.name))
        desired.set(member.id, member.userName);
    }
    const added = [...desired.keys()].filter((id) => !linked.members.has(id));
    const removed = [...linked.members].filter((id) => !desired.has(id));
    if (added.length === 0 && removed.length === 0) return;
    const operations: PatchOperation[] = [];
    if (this.okta) {
      for (const id of removed) operations.push({ op: 'remove', path: `members[value eq "${id}"]` });
      if (added.length > 0) {
        operations.push({
          op: 'add',
          path: 'members',
          value: added.map((id) => ({ value: id, display: desired.get(id) })),
        });
      }
    } else {
      if (removed.length > 0) {
        operations.push({ op: 'Remove', path: 'members', value: removed.map((id) => ({ value: id })) });
      }
      if (added.length > 0) {
        operations.push({ op: 'Add', path: 'members', value: added.map((id) => ({ value: id })) });
      }
    }
    await this.send('PATCH', path, patch(operations));
    linked.members = new Set(desired.keys());
  }

  private async createGroup(group: ScimSourceGroup): Promise<LinkedGroup> {
    const body = this.okta
      ? { schemas: [SCIM_GROUP_SCHEMA], displayName: group.name, members: [] }
      : {
          schemas: [SCIM_GROUP_SCHEMA],
          externalId: group.id,
          displayName: group.name,
          meta: { resourceType: 'Group' },
          members: [],
        };
    const created = await this.send('POST', '/Groups', body, { conflict: true });
    if (created.status !== 409) {
      return { id: resourceId(created.json, 'POST', '/Groups'), displayName: group.name, members: new Set() };
    }
    const found = await this.lookupGroup(group.name);
    if (!found) throw new ScimFailure('POST', '/Groups', 409, `409 on create but no group ${group.name}`);
    return {
      id: found.resource.id,
      displayName: group.name,
      members: memberIds(found.resource) ?? new Set(),
    };
  }

  private async lookupGroup(displayName: string) {
    const filter = this.filter(`displayName eq "${displayName}"`);
    return this.lookup(
      this.okta ? `/Groups?filter=${filter}` : `/Groups?excludedAttributes=members&filter=${filter}`,
    );
  }

  // ---- HTTP ----

  private get okta(): boolean {
    return this.config.mode === 'okta';
  }

  /** A filter for the query string: %20 for spaces, %22 for quotes, %40 for "@". */
  private filter(expression: string): string {
    return encodeURIComponent(expression);
  }

  /** GET a filtered list; undefined when nothing matches, a failure when more than one resource does. */
  private async lookup(path: string): Promise<{ resource: Resource } | undefined> {
    const { json } = await this.send('GET', path);
    const resources = (json as { Resources?: unknown } | undefined)?.Resources ?? [];
    if (!Array.isArray(resources))
      throw new ScimFailure('GET', path, 200, 'the ListResponse has no Resources array');
    if (resources.length === 0) return undefined;
    if (resources.length > 1) {
      throw new ScimFailure('GET', path, 200, `the filter matched ${resources.length} resources, not one`);
    }
    return { resource: { ...(resources[0] as object), id: resourceId(resources[0], 'GET', path) } };
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    options: { conflict?: boolean } = {},
  ): Promise<{ status: number; json: unknown }> {
    const entry: ScimRequestRecord = { method, path, ...(body === undefined ? {} : { body }), status: 0 };
    this.log.push(entry);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
    this.sent++;
    let response: Response;
    try {
      response = await fetch(this.config.baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${this.config.token}`,
          'content-type': 'application/scim+json',
          accept: 'application/scim+json',
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new ScimFailure(method, path, 0, `${method} ${path} failed: ${(err as Error).message}`);
    }
    const text = await response.text();
    let json: unknown;
    if (text.trim() !== '') {
      try {
        json = JSON.parse(text) as unknown;
      } catch {
        json = text;
      }
    }
    entry.status = response.status;
    if (json !== undefined) entry.response = json;
    if (response.status === 200 || response.status === 201 || response.status === 204) {
      return { status: response.status, json };
    }
    if (response.status === 409 && options.conflict) return { status: 409, json };
    throw new ScimFailure(
      method,
      path,
      response.status,
      `${method} ${path} answered ${response.status}${detail(json)}`,
    );
  }
}

function normalise(config: ScimConfigInput): ScimConfig {
  return {
    baseUrl: config.baseUrl.replace(/\/+$/, ''),
    token: config.token,
    mode: config.mode,
    pushGroupsPrefix: config.pushGroupsPrefix ?? null,
    autoPush: config.autoPush ?? true,
  };
}

function patch(operations: PatchOperation[]) {
  return { schemas: [SCIM_PATCH_OP_SCHEMA], Operations: operations };
}

function mailNickname(email: string): string {
  return email.split('@')[0] ?? email;
}

function detail(json: unknown): string {
  const error = json as { detail?: unknown; scimType?: unknown } | undefined;
  if (typeof error?.detail === 'string') return `: ${error.detail}`;
  if (typeof json === 'string' && json !== '') return `: ${json.slice(0, 200)}`;
  return '';
}

function resourceId(json: unknown, method: string, path: string): string {
  const id = (json as { id?: unknown } | undefined)?.id;
  if (typeof id !== 'string' || id === '')
    throw new ScimFailure(method, path, 0, 'the answer has no resource id');
  return id;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** What the server holds, in the shape compared against the tenant (string "True"/"False" read as booleans). */
function userSnapshot(resource: Resource): UserSnapshot {
  const name = (resource.name ?? {}) as Record<string, unknown>;
  const emails = Array.isArray(resource.emails) ? (resource.emails as Record<string, unknown>[]) : [];
  const email =
    emails.find((entry) => entry.primary === true) ??
    emails.find((entry) => entry.type === 'work') ??
    emails[0];
  const active = resource.active;
  return {
    userName: text(resource.userName),
    givenName: text(name.givenName),
    familyName: text(name.familyName),
    formatted: text(name.formatted),
    displayName: text(resource.displayName),
    email: text(email?.value),
    externalId: text(resource.externalId),
    active: active === undefined || active === true || String(active).toLowerCase() === 'true',
  };
}

function profileDiffers(current: UserSnapshot, desired: UserSnapshot): boolean {
  return (['userName', 'givenName', 'familyName', 'displayName', 'email', 'externalId'] as const).some(
    (key) => current[key] !== desired[key],
  );
}

/** Entra's update: only changed attributes; names path-less with dotted keys, the e-mail by a filter path. */
function entraUserOperations(current: UserSnapshot, desired: UserSnapshot): PatchOperation[] {
  const operations: PatchOperation[] = [];
  if (current.userName !== desired.userName) {
    operations.push({ op: 'Replace', path: 'userName', value: desired.userName });
  }
  const names: Record<string, string> = {};
  if (current.displayName !== desired.displayName) names.displayName = desired.displayName;
  if (current.givenName !== desired.givenName) names['name.givenName'] = desired.givenName;
  if (current.familyName !== desired.familyName) names['name.familyName'] = desired.familyName;
  if (current.formatted !== desired.formatted) names['name.formatted'] = desired.formatted;
  if (Object.keys(names).length > 0) operations.push({ op: 'Replace', value: names });
  if (current.email !== desired.email) {
    operations.push({ op: 'Replace', path: 'emails[type eq "work"].value', value: desired.email });
  }
  if (current.externalId !== desired.externalId) {
    operations.push({ op: 'Replace', path: 'externalId', value: desired.externalId });
  }
  return operations;
}

function memberIds(resource: Resource): Set<string> | undefined {
  if (!Array.isArray(resource.members)) return undefined;
  const ids = (resource.members as { value?: unknown }[])
    .map((member) => member.value)
    .filter((value): value is string => typeof value === 'string');
  return new Set(ids);
}
