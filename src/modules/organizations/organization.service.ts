import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { preparedRows } from '../../db/plain-reads.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError, forbidden, notFound } from '../../lib/errors.js';
import { NIL_UUID } from '../../lib/ids.js';
import { type Page, pageById, type PageRequest } from '../../lib/page.js';
import { turnBatch } from '../../lib/turn-batch.js';
import type { Scope } from '../../lib/scope.js';
import type { AuditService } from '../audit/audit.service.js';
import { Membership, MembershipSource } from '../members/membership.entity.js';
import { User } from '../sessions/user.entity.js';
import type { OrganizationAccess } from './organization.access.js';
import { Organization } from './organization.entity.js';
import { OrganizationErrorCode } from './organization.errors.js';
import type { OrganizationFields } from './organization.types.js';
import { ParentOrganization } from './parent-organization.entity.js';
import {
  CREATOR_ROLE,
  isAdminRole,
  isIdentityAdminRole,
  isRoleOfKind,
  type MemberRole,
  OrganizationKind,
} from './roles.js';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{1,46})[a-z0-9]$/;

/** A slug from a display name: ASCII letters and digits joined by single dashes. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
}

export interface OrganizationCreateInput {
  name: string;
  kind: OrganizationKind;
  slug?: string | null;
}

/** A membership of the caller with what OrganizationType shows of its organization. */
export interface MyOrganization {
  id: string;
  role: MemberRole;
  organization: OrganizationFields;
}

interface MineRow {
  id: string;
  role: MemberRole;
  organization_id: string;
  name: string;
  slug: string;
  kind: OrganizationKind;
  parent_id: string | null;
  /** As the driver returns it: text, parsed as the ORM parses it. */
  created_at: string;
  advanced_group_mappings: boolean;
  jit_enabled: boolean;
  jit_default_role: MemberRole;
}

/** A page of one user's memberships: those after `afterId`, at most `limit`. */
interface MinePage {
  em: EntityManager;
  userId: string;
  afterId: string;
  limit: number;
}

/**
 * The pages of memberships `pages` ask for, each in id order, in one statement: the row's `page` is the
 * page's place among them, from 1.
 */
async function readMine(pages: MinePage[]): Promise<MineRow[][]> {
  const rows = await preparedRows<MineRow & { page: number }>(
    pages[0]!.em,
    `select q.page::int as page, m.id, m.role, o.id as organization_id, o.name, o.slug, o.kind, o.parent_id,
            o.created_at, o.advanced_group_mappings, o.jit_enabled, o.jit_default_role
       from unnest(?::uuid[], ?::uuid[], ?::int[]) with ordinality as q(user_id, after_id, size, page)
       cross join lateral (
         select m.id, m.role, m.organization_id from memberships m
          where m.user_id = q.user_id and m.removed_at is null and m.id > q.after_id
          order by m.id limit q.size) m
       join organizations o on o.id = m.organization_id
      order by q.page, m.id`,
    [pages.map((page) => page.userId), pages.map((page) => page.afterId), pages.map((page) => page.limit)],
  );
  const read = pages.map((): MineRow[] => []);
  for (const row of rows) read[row.page - 1]!.push(row);
  return read;
}

export class OrganizationService {
  /** The pages of memberships asked for in one turn of the event loop, read together (listMine). */
  private readonly minePages = turnBatch(readMine);

  constructor(
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly access: OrganizationAccess,
  ) {}

  /**
   * Creates an organization with the caller as its first administrator. An ENTERPRISE organization is
   * created with its own parent organization; an API_CONSOLE organization has none.
   */
  async create(scope: Scope, input: OrganizationCreateInput): Promise<Organization> {
    const viewer = this.access.requireViewer(scope);
    const name = input.name.trim();
    if (name.length < 2 || name.length > 200) {
      throw new DomainError(OrganizationErrorCode.INVALID_NAME, 'The name must be 2 to 200 characters.', [
        'name',
      ]);
    }
    const explicitSlug = input.slug?.trim().toLowerCase();
    if (explicitSlug !== undefined && !SLUG.test(explicitSlug)) {
      throw new DomainError(
        OrganizationErrorCode.INVALID_SLUG,
        'A slug is 3 to 48 lower-case letters, digits and inner dashes.',
        ['slug'],
      );
    }
    const base = explicitSlug ?? (slugify(name).padEnd(3, '0') || 'org');
    for (let attempt = 0; attempt < 20; attempt++) {
      const slug = explicitSlug ?? (attempt === 0 ? base : `${base}-${attempt + 1}`);
      try {
        return await scope.em.transactional((em) =>
          this.insert(em, scope, name, slug, input.kind, viewer.userId),
        );
      } catch (error) {
        if (!(error instanceof UniqueConstraintViolationException)) throw error;
        if (explicitSlug !== undefined) {
          throw new DomainError(OrganizationErrorCode.SLUG_TAKEN, `The slug "${slug}" is taken.`, ['slug']);
        }
      }
    }
    throw new DomainError(
      OrganizationErrorCode.SLUG_TAKEN,
      'Choose a slug: the one made from the name is taken.',
      ['slug'],
    );
  }

  private async insert(
    em: EntityManager,
    scope: Scope,
    name: string,
    slug: string,
    kind: OrganizationKind,
    userId: string,
  ) {
    const now = this.clock.now();
    const organization = new Organization(name, slug, kind, now);
    if (kind === OrganizationKind.ENTERPRISE) {
      organization.parent = new ParentOrganization(name, now);
      em.persist(organization.parent);
    }
    em.persist(organization);
    const creator = em.getReference(User, userId);
    const membership = new Membership(
      organization,
      creator,
      CREATOR_ROLE[kind],
      MembershipSource.CREATOR,
      now,
    );
    em.persist(membership);
    this.audit.record(em, scope, {
      action: 'organization.created',
      targetType: 'Organization',
      targetId: organization.id,
      organizationId: organization.id,
      parentOrganizationId: organization.parent?.id ?? null,
      after: { name, slug, kind, parentOrganizationId: organization.parent?.id ?? null },
    });
    await em.flush();
    return organization;
  }

  async get(scope: Scope, organizationId: string) {
    return this.access.requireMember(scope, organizationId);
  }

  /**
   * The caller's organizations with their role: one query read into plain values, neither the ORM's page
   * query nor its entity mapping (each cost several times the database's own time on this hot path).
   */
  async listMine(scope: Scope, page: PageRequest): Promise<Page<MyOrganization>> {
    const viewer = this.access.requireViewer(scope);
    const platform = scope.em.getPlatform();
    return pageById(page, async (afterId, limit) => {
      const mine = { em: scope.em, userId: viewer.userId, afterId: afterId ?? NIL_UUID, limit };
      // Read with other requests' pages only outside a transaction: theirs must not see its writes.
      const rows = scope.em.isInTransaction() ? (await readMine([mine]))[0]! : await this.minePages(mine);
      return rows.map((row) => ({
        id: row.id,
        role: row.role,
        organization: {
          id: row.organization_id,
          name: row.name,
          slug: row.slug,
          kind: row.kind,
          parent: row.parent_id ? { id: row.parent_id } : null,
          createdAt: platform.parseDate(row.created_at),
          advancedGroupMappings: row.advanced_group_mappings,
          jitEnabled: row.jit_enabled,
          jitDefaultRole: row.jit_default_role,
        },
      }));
    });
  }

  /** Staff (account managers, sales) find an organization by slug to act on it. */
  async findForStaff(scope: Scope, slug: string): Promise<Organization> {
    const viewer = this.access.requireViewer(scope);
    if (!viewer.staffRole) throw forbidden('Only staff can look organizations up.');
    const organization = await scope.em.findOne(Organization, { slug: slug.trim().toLowerCase() });
    if (!organization) throw notFound('Organization');
    return organization;
  }

  /**
   * JIT provisioning settings: whether first SSO sign-ins join this organization, and with which role
   * (never PRIMARY_OWNER, never an administrator role: JIT must not hand out administration). Identity
   * admins of the organization only.
   */
  async updateJit(
    scope: Scope,
    organizationId: string,
    enabled: boolean,
    defaultRole: MemberRole | null,
  ): Promise<{ organization: Organization; viewerRole: MemberRole }> {
    return scope.em.transactional(async (em) => {
      const { organization, membership } = await this.access.requireMember(scope, organizationId, {
        em,
        lock: true,
      });
      if (!isIdentityAdminRole(organization.kind, membership.role)) {
        throw forbidden('Only admins (owners on Enterprise) can change JIT provisioning.');
      }
      const role = defaultRole ?? organization.jitDefaultRole;
      if (!isRoleOfKind(organization.kind, role) || isAdminRole(organization.kind, role)) {
        throw new DomainError(
          OrganizationErrorCode.INVALID_ROLE,
          `${role} cannot be the JIT role of this organization.`,
          ['defaultRole'],
        );
      }
      const before = { jitEnabled: organization.jitEnabled, jitDefaultRole: organization.jitDefaultRole };
      organization.jitEnabled = enabled;
      organization.jitDefaultRole = role;
      organization.updatedAt = this.clock.now();
      this.audit.record(em, scope, {
        action: 'organization.jit_updated',
        targetType: 'Organization',
        targetId: organization.id,
        organizationId: organization.id,
        parentOrganizationId: organization.parent?.id ?? null,
        before,
        after: { jitEnabled: enabled, jitDefaultRole: role },
      });
      return { organization, viewerRole: membership.role };
    });
  }
}
