// Who may touch an organization, decided from the database at every call (rule 16: a role change or a
// removal reaches the very next request). Organizations the caller never belonged to read as not found;
// a caller whose membership was removed is told their access ended.
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { preparedRows } from '../../db/plain-reads.js';
import { forbidden, notFound, unauthenticated } from '../../lib/errors.js';
import { isUuid } from '../../lib/ids.js';
import type { Scope, Viewer } from '../../lib/scope.js';
import { Membership } from '../members/membership.entity.js';
import { StaffRole } from '../sessions/user.entity.js';
import { Organization } from './organization.entity.js';
import { ParentOrganization } from './parent-organization.entity.js';
import { IDENTITY_ADMIN_ROLES, isAdminRole, type MemberRole, type OrganizationKind } from './roles.js';

export interface OrganizationGrant {
  organization: Organization;
  membership: Membership;
  viewer: Viewer;
}

export class OrganizationAccess {
  requireViewer(scope: Pick<Scope, 'viewer'>): Viewer {
    if (!scope.viewer) throw unauthenticated();
    return scope.viewer;
  }

  /** Any current member. `lock` takes the organization row FOR UPDATE (inside a transaction) to serialise membership changes. */
  async requireMember(
    scope: Scope,
    organizationId: string,
    options: { em?: EntityManager; lock?: boolean } = {},
  ): Promise<OrganizationGrant> {
    const viewer = this.requireViewer(scope);
    if (!isUuid(organizationId)) throw notFound('Organization');
    const em = options.em ?? scope.em;
    const membership = await em.findOne(Membership, { organization: organizationId, user: viewer.userId });
    if (!membership) throw notFound('Organization');
    if (membership.removedAt) throw forbidden('Your access to this organization was removed.');
    const organization = await em.findOneOrFail(
      Organization,
      { id: organizationId },
      options.lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {},
    );
    return { organization, membership, viewer };
  }

  /** A current member whose role administers the organization (ADMIN; PRIMARY_OWNER, OWNER or ADMIN on ENTERPRISE). */
  async requireAdmin(
    scope: Scope,
    organizationId: string,
    options: { em?: EntityManager; lock?: boolean } = {},
  ): Promise<OrganizationGrant> {
    const grant = await this.requireMember(scope, organizationId, options);
    if (!isAdminRole(grant.organization.kind, grant.membership.role)) {
      throw forbidden('Only administrators of this organization can do this.');
    }
    return grant;
  }

  /**
   * An identity administrator of any organization linked to the parent. Callers with no membership under
   * the parent read it as not found; members without the role are FORBIDDEN.
   */
  async requireParentAdmin(
    scope: Scope,
    parentId: string,
    options: { em?: EntityManager } = {},
  ): Promise<ParentOrganization> {
    const em = options.em ?? scope.em;
    await this.checkParentAdmin({ ...scope, em }, parentId);
    return em.findOneOrFail(ParentOrganization, parentId);
  }

  /**
   * What requireParentAdmin decides, in one prepared read and without loading anything; on its own, for
   * checks made again on every event of a subscription, where they hold up the delivery.
   */
  async checkParentAdmin(scope: Scope, parentId: string): Promise<void> {
    const viewer = this.requireViewer(scope);
    if (!isUuid(parentId)) throw notFound('Parent organization');
    const memberships = await preparedRows<{ role: MemberRole; kind: OrganizationKind }>(
      scope.em,
      `select m.role, o.kind from memberships m join organizations o on o.id = m.organization_id
        where m.user_id = ? and m.removed_at is null and o.parent_id = ?`,
      [viewer.userId, parentId],
    );
    if (memberships.length === 0) throw notFound('Parent organization');
    if (!memberships.some(({ role, kind }) => IDENTITY_ADMIN_ROLES[kind].includes(role))) {
      throw forbidden(
        'Only admins (owners on Enterprise) of an organization of this parent can change its identity settings.',
      );
    }
  }

  /** Employees of the vendor with the given staff role. */
  requireStaff(scope: Pick<Scope, 'viewer'>, role: StaffRole): Viewer {
    const viewer = this.requireViewer(scope);
    if (viewer.staffRole !== role) throw forbidden(`Only staff with the ${role} role can do this.`);
    return viewer;
  }
}
