// SCIM resource shapes (RFC 7643): rendering our rows as User and Group resources with meta and
// versions, reading them back from request bodies (tolerating what Okta and Entra send), and the
// `attributes`/`excludedAttributes` projection.
import type { DirectoryGroup } from './directory-group.entity.js';
import { type DirectoryUser, type ScimEmail, userNameKey } from './directory-user.entity.js';
import { canonicalEmail } from '../../lib/names.js';
import { scimBadValue } from './scim.errors.js';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export type Json = Record<string, unknown>;

export const etag = (version: number) => `W/"${version}"`;

export function renderUser(user: DirectoryUser, base: string): Json {
  return {
    schemas: [USER_SCHEMA, ...(user.extra?.[ENTERPRISE_USER_SCHEMA] ? [ENTERPRISE_USER_SCHEMA] : [])],
    id: user.id,
    ...(user.externalId ? { externalId: user.externalId } : {}),
    userName: user.userName,
    name: { givenName: user.givenName ?? undefined, familyName: user.familyName ?? undefined },
    ...(user.displayName ? { displayName: user.displayName } : {}),
    emails: user.emails,
    active: user.active,
    ...(user.extra ?? {}),
    meta: {
      resourceType: 'User',
      created: user.createdAt.toISOString(),
      lastModified: user.updatedAt.toISOString(),
      location: `${base}/Users/${user.id}`,
      version: etag(user.version),
    },
  };
}

export function renderGroup(
  group: DirectoryGroup,
  members: Array<{ id: string; userName: string }>,
  base: string,
): Json {
  return {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    ...(group.externalId ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    members: members.map((m) => ({ value: m.id, display: m.userName, $ref: `${base}/Users/${m.id}` })),
    meta: {
      resourceType: 'Group',
      created: group.createdAt.toISOString(),
      lastModified: group.updatedAt.toISOString(),
      location: `${base}/Groups/${group.id}`,
      version: etag(group.version),
    },
  };
}

/** Entra sends booleans as the strings "True"/"False". */
export function toBoolean(value: unknown, attribute: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw scimBadValue(`${attribute} must be a boolean.`);
}

export function toText(value: unknown, attribute: string, max = 500): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || value.length > max)
    throw scimBadValue(`${attribute} must be a string of at most ${max} characters.`);
  return value;
}

export function toEmails(value: unknown): ScimEmail[] {
  if (!Array.isArray(value)) throw scimBadValue('emails must be an array.');
  return value.map((e) => {
    if (!e || typeof e !== 'object' || typeof (e as Json).value !== 'string')
      throw scimBadValue('Each email needs a value.');
    const email = e as Json;
    return {
      value: String(email.value).slice(0, 254),
      ...(typeof email.type === 'string' ? { type: email.type } : {}),
      ...(email.primary !== undefined ? { primary: toBoolean(email.primary, 'emails.primary') } : {}),
    };
  });
}

/** Core attributes we store in columns; everything else of a User is kept as-is for round-trips. */
const USER_CORE = new Set([
  'schemas',
  'id',
  'externalid',
  'username',
  'name',
  'displayname',
  'emails',
  'active',
  'meta',
  'password',
  'groups',
]);

/** Applies a full User resource (POST or PUT) to the row. */
export function applyUserResource(user: DirectoryUser, body: Json): void {
  const userName = toText(body.userName, 'userName');
  if (!userName) throw scimBadValue('userName is required.');
  user.userName = userName;
  user.userNameKey = userNameKey(userName);
  user.externalId = toText(body.externalId, 'externalId');
  const name = (body.name ?? {}) as Json;
  user.givenName = toText(name.givenName, 'name.givenName', 200);
  user.familyName = toText(name.familyName, 'name.familyName', 200);
  user.displayName = toText(body.displayName, 'displayName', 400);
  user.emails = body.emails === undefined ? [] : toEmails(body.emails);
  user.active = body.active === undefined ? true : toBoolean(body.active, 'active');
  const extra = Object.fromEntries(Object.entries(body).filter(([k]) => !USER_CORE.has(k.toLowerCase())));
  user.extra = Object.keys(extra).length ? extra : null;
}

/** The work (else primary, else first) e-mail of a directory user; the userName when it is one. */
export function primaryEmail(user: Pick<DirectoryUser, 'emails' | 'userName'>): string {
  const email =
    user.emails.find((e) => e.primary) ?? user.emails.find((e) => e.type === 'work') ?? user.emails[0];
  return email?.value ?? user.userName;
}

/**
 * The canonical e-mail a user resource would be provisioned by (primaryEmail of what applyUserResource
 * makes of it), or undefined when it has no valid one: to read the provisioning context ahead.
 */
export function provisioningEmail(body: unknown): string | undefined {
  try {
    const resource = body as Json;
    return canonicalEmail(
      primaryEmail({
        emails: resource.emails === undefined ? [] : toEmails(resource.emails),
        userName: toText(resource.userName, 'userName') ?? '',
      }),
    );
  } catch {
    return undefined;
  }
}

/** `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5); id and schemas are always returned. */
export function project(resource: Json, attributes?: string, excluded?: string): Json {
  const split = (v?: string) =>
    v
      ? v
          .split(',')
          .map((a) => a.trim().toLowerCase())
          .filter(Boolean)
      : [];
  const include = split(attributes);
  const exclude = split(excluded);
  const pick = (key: string) => key === 'id' || key === 'schemas';
  const out: Json = {};
  for (const [key, value] of Object.entries(resource)) {
    const lower = key.toLowerCase();
    if (include.length) {
      const subs = include.filter((a) => a.startsWith(`${lower}.`)).map((a) => a.slice(lower.length + 1));
      if (pick(key) || include.includes(lower)) out[key] = value;
      else if (subs.length && value && typeof value === 'object' && !Array.isArray(value)) {
        out[key] = Object.fromEntries(
          Object.entries(value as Json).filter(([k]) => subs.includes(k.toLowerCase())),
        );
      }
    } else if (pick(key) || !exclude.includes(lower)) {
      out[key] = value;
    }
  }
  return out;
}
