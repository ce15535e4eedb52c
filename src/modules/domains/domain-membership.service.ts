// Domain memberships: for a parent's verified domains, every account whose e-mail is on one of them (the
// domain itself or any subdomain) and every organization that account belongs to across the platform.
// One SQL query serves both the paginated list and the export; both walk the keyset (user id, membership
// id), so pages never shift and the export reads constant-size batches whatever the number of rows.
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput } from '../../lib/errors.js';
import { isUuid, NIL_UUID } from '../../lib/ids.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type Page, type PageRequest } from '../../lib/page.js';
import type { Scope } from '../../lib/scope.js';
import type { MembershipSource } from '../members/membership.entity.js';
import type { OrganizationAccess } from '../organizations/organization.access.js';
import type { MemberRole, OrganizationKind } from '../organizations/roles.js';
import { Domain, DomainStatus } from './domain.entity.js';

/** One account on a verified domain and one organization it belongs to (all null when it has none). */
export interface DomainMembershipRow {
  userId: string;
  email: string;
  /** The parent's verified domain the e-mail is on; the longest one when several match. */
  domain: string;
  membershipId: string | null;
  organizationId: string | null;
  organizationName: string | null;
  organizationSlug: string | null;
  organizationKind: OrganizationKind | null;
  /** Whether the organization is linked to this parent; false for an account without memberships. */
  inParent: boolean;
  role: MemberRole | null;
  source: MembershipSource | null;
  memberSince: Date | null;
}

interface Keyset {
  userId: string;
  /** Null for the single row of an account without memberships. */
  membershipId: string | null;
}

/** Rows per query of the export: large enough to amortise the round trip, small enough to bound memory. */
export const EXPORT_BATCH_SIZE = 1000;

/**
 * Stands in for the missing membership id in the order and the keyset. Sorting before every real id is
 * harmless: an account without memberships has exactly one row.
 */
const START: Keyset = { userId: NIL_UUID, membershipId: null };

interface RawRow {
  user_id: string;
  email: string;
  domain: string;
  membership_id: string | null;
  role: string | null;
  source: string | null;
  member_since: string | null;
  organization_id: string | null;
  organization_name: string | null;
  organization_slug: string | null;
  organization_kind: string | null;
  in_parent: boolean;
}

// The e-mail host is matched against each verified name exactly or as a dot-separated suffix, compared as
// plain strings (no LIKE pattern), so `notacme.com` and `acme.com.evil.com` never match `acme.com`. Names
// arrive as one JSON parameter. Starting from the nil keyset makes the first page the same statement as the
// next ones. The keyset's first column is repeated as `>= ?` on both users and memberships (PostgreSQL
// derives equalities across a join, not ranges), so both index scans start at the cursor instead of at
// the first row, and a batch costs the same at the end of a large export as at its start.
const PAGE_SQL = `
select u.id as user_id,
       u.email,
       matched.name as domain,
       m.id as membership_id,
       m.role,
       m.source,
       to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as member_since,
       o.id as organization_id,
       o.name as organization_name,
       o.slug as organization_slug,
       o.kind as organization_kind,
       coalesce(o.parent_id = ?::uuid, false) as in_parent
  from users u
  cross join lateral (
    select d.name
      from jsonb_array_elements_text(?::jsonb) as d(name)
     where split_part(u.email, '@', 2) = d.name
        or right(split_part(u.email, '@', 2), length(d.name) + 1) = '.' || d.name
     order by length(d.name) desc
     limit 1
  ) as matched
  left join memberships m on m.user_id = u.id and m.removed_at is null and m.user_id >= ?::uuid
  left join organizations o on o.id = m.organization_id
 where u.id >= ?::uuid
   and (u.id, coalesce(m.id, '${NIL_UUID}'::uuid)) > (?::uuid, ?::uuid)
 order by u.id, coalesce(m.id, '${NIL_UUID}'::uuid)
 limit ?`;

export class DomainMembershipService {
  constructor(
    private readonly access: OrganizationAccess,
    private readonly exportBatchSize = EXPORT_BATCH_SIZE,
  ) {}

  /** One page of the parent's domain memberships; identity admins of the parent only. */
  async list(scope: Scope, parentId: string, request: PageRequest): Promise<Page<DomainMembershipRow>> {
    await this.access.requireParentAdmin(scope, parentId);
    const first = request.first ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
      throw badInput(`first must be between 1 and ${MAX_PAGE_SIZE}.`, 'first');
    }
    const after = request.after ? decodeCursor(request.after) : null;
    const domains = await this.verifiedDomains(scope.em, parentId);
    // One row more than asked tells whether another page follows.
    const rows = await this.read(scope.em, parentId, domains, after ?? START, first + 1);
    const items = rows.slice(0, first);
    return {
      items,
      hasNextPage: rows.length > first,
      hasPreviousPage: after !== null,
      startCursor: items.length ? cursorOf(items[0]!) : null,
      endCursor: items.length ? cursorOf(items.at(-1)!) : null,
      cursorOf,
    };
  }

  /**
   * Checks access now, so a refusal can still become an HTTP status, then returns the rows to stream. The
   * verified domains are read once: the whole file describes one set of domains even if one changes
   * status during a long download.
   */
  async openExport(scope: Scope, parentId: string): Promise<AsyncGenerator<DomainMembershipRow>> {
    await this.access.requireParentAdmin(scope, parentId);
    const domains = await this.verifiedDomains(scope.em, parentId);
    return this.readAll(scope.em, parentId, domains);
  }

  private async *readAll(
    em: EntityManager,
    parentId: string,
    domains: string[],
  ): AsyncGenerator<DomainMembershipRow> {
    let after = START;
    for (;;) {
      const rows = await this.read(em, parentId, domains, after, this.exportBatchSize);
      yield* rows;
      if (rows.length < this.exportBatchSize) return;
      after = keysetOf(rows.at(-1)!);
    }
  }

  private async verifiedDomains(em: EntityManager, parentId: string): Promise<string[]> {
    const domains = await em.find(
      Domain,
      { parent: parentId, status: DomainStatus.VERIFIED },
      { fields: ['name'], orderBy: { name: 'asc' } },
    );
    return domains.map((d) => d.name);
  }

  private async read(
    em: EntityManager,
    parentId: string,
    domains: string[],
    after: Keyset,
    limit: number,
  ): Promise<DomainMembershipRow[]> {
    // Without a verified domain nothing can match: skip the scan of every account.
    if (domains.length === 0) return [];
    const result: { rows: RawRow[] } = await em
      .getKnex()
      .raw(PAGE_SQL, [
        parentId,
        JSON.stringify(domains),
        after.userId,
        after.userId,
        after.userId,
        after.membershipId ?? NIL_UUID,
        limit,
      ]);
    return result.rows.map(toRow);
  }
}

function toRow(raw: RawRow): DomainMembershipRow {
  return {
    userId: raw.user_id,
    email: raw.email,
    domain: raw.domain,
    membershipId: raw.membership_id,
    organizationId: raw.organization_id,
    organizationName: raw.organization_name,
    organizationSlug: raw.organization_slug,
    organizationKind: raw.organization_kind as OrganizationKind | null,
    inParent: raw.in_parent,
    role: raw.role as MemberRole | null,
    source: raw.source as MembershipSource | null,
    memberSince: raw.member_since ? new Date(raw.member_since) : null,
  };
}

function keysetOf(row: DomainMembershipRow): Keyset {
  return { userId: row.userId, membershipId: row.membershipId };
}

/** Opaque to clients: base64url of the keyset as JSON. */
function cursorOf(row: DomainMembershipRow): string {
  const { userId, membershipId } = keysetOf(row);
  return Buffer.from(JSON.stringify({ u: userId, m: membershipId })).toString('base64url');
}

function decodeCursor(cursor: string): Keyset {
  const invalid = () => badInput('The cursor is not valid.', 'after');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) throw invalid();
  const { u, m } = decoded as Record<string, unknown>;
  if (typeof u !== 'string' || !isUuid(u)) throw invalid();
  if (m !== null && (typeof m !== 'string' || !isUuid(m))) throw invalid();
  return { userId: u, membershipId: m };
}
