import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../lib/clock.js';
import { paginate, type PageRequest } from '../../lib/page.js';
import type { Scope } from '../../lib/scope.js';
import type { OrganizationAccess } from '../organizations/organization.access.js';
import { Organization } from '../organizations/organization.entity.js';
import { ActorType, AuditEvent } from './audit-event.entity.js';

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string;
  organizationId?: string | null;
  parentOrganizationId?: string | null;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  actorType?: ActorType;
}

export class AuditService {
  constructor(
    private readonly clock: Clock,
    private readonly access: OrganizationAccess,
  ) {}

  /** Adds the event to the unit of work of `em`, so it commits or rolls back with the change it records. */
  record(em: EntityManager, scope: Pick<Scope, 'viewer' | 'requestId'>, entry: AuditEntry): AuditEvent {
    const event = em.create(AuditEvent, {
      occurredAt: this.clock.now(),
      actorType: entry.actorType ?? (scope.viewer ? ActorType.USER : ActorType.SYSTEM),
      actorUserId: scope.viewer?.userId ?? null,
      actorEmail: scope.viewer?.email ?? null,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      organizationId: entry.organizationId ?? null,
      parentOrganizationId: entry.parentOrganizationId ?? null,
      before: entry.before ?? null,
      after: entry.after ?? null,
      requestId: scope.requestId,
    });
    em.persist(event);
    return event;
  }

  /**
   * A parent-level change (domains, SSO, merges) in the log of every organization of the parent, plus
   * `alsoOrganizationIds` (for example a merge's incoming organization), one event each.
   */
  async recordForParent(
    em: EntityManager,
    scope: Pick<Scope, 'viewer' | 'requestId'>,
    parentOrganizationId: string,
    entry: AuditEntry,
    alsoOrganizationIds: string[] = [],
  ): Promise<void> {
    await this.recordForParents(em, scope, [{ parentOrganizationId, entry, alsoOrganizationIds }]);
  }

  /** Several parent-level changes, as recordForParent records each, reading the organizations once. */
  async recordForParents(
    em: EntityManager,
    scope: Pick<Scope, 'viewer' | 'requestId'>,
    changes: Array<{ parentOrganizationId: string; entry: AuditEntry; alsoOrganizationIds?: string[] }>,
  ): Promise<void> {
    if (changes.length === 0) return;
    const parentIds = [...new Set(changes.map((change) => change.parentOrganizationId))];
    const organizations = await em.find(
      Organization,
      { parent: { $in: parentIds } },
      { fields: ['id', 'parent'] },
    );
    for (const { parentOrganizationId, entry, alsoOrganizationIds = [] } of changes) {
      const ids = new Set([
        ...alsoOrganizationIds,
        ...organizations.filter((o) => o.parent?.id === parentOrganizationId).map((o) => o.id),
      ]);
      this.recordForOrganizations(em, scope, parentOrganizationId, ids, entry);
    }
  }

  /**
   * A parent-level change in the log of each of `organizationIds`, which the caller has read (with the
   * change it records, say), one event each.
   */
  recordForOrganizations(
    em: EntityManager,
    scope: Pick<Scope, 'viewer' | 'requestId'>,
    parentOrganizationId: string,
    organizationIds: Iterable<string>,
    entry: AuditEntry,
  ): void {
    for (const organizationId of organizationIds)
      this.record(em, scope, { ...entry, organizationId, parentOrganizationId });
  }

  /** An organization's audit log, newest first; its admins only. */
  async listForOrganization(scope: Scope, organizationId: string, page: PageRequest) {
    await this.access.requireAdmin(scope, organizationId);
    return paginate(scope.em, AuditEvent, { organizationId }, page, { orderBy: { id: 'desc' } });
  }
}
