// One reconciled state per user and organization from IdP groups, whichever channel brought them: the
// SAML groups attribute at each login, or the groups a SCIM directory pushed. Also the switch that turns
// mappings on for an organization, with its impact preview and lock-out protection.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config/config.js';
import { findBySql } from '../../db/plain-reads.js';
import type { Clock } from '../../lib/clock.js';
import { DomainError, forbidden } from '../../lib/errors.js';
import type { Logger } from '../../lib/logger.js';
import type { Scope } from '../../lib/scope.js';
import { ActorType } from '../audit/audit-event.entity.js';
import type { AuditService } from '../audit/audit.service.js';
import { Membership, MembershipSource, RemovalReason } from '../members/membership.entity.js';
import type { OrganizationAccess } from '../organizations/organization.access.js';
import { Organization } from '../organizations/organization.entity.js';
import { isAdminRole, isIdentityAdminRole, MemberRole } from '../organizations/roles.js';
import { DirectoryGroupMember } from '../scim/directory-group.entity.js';
import { DirectoryUser } from '../scim/directory-user.entity.js';
import type { Directory } from '../scim/directory.entity.js';
import { User } from '../sessions/user.entity.js';
import { SsoIdentity } from '../sso/sso-identity.entity.js';
import { groupName, mappableRoles, narrowToDirectory, roleFromGroups } from './group-mapping.js';

export enum MappingErrorCode {
  /** Turning mappings on would lock the acting admin out or leave the organization without an admin. */
  LOCKOUT = 'LOCKOUT',
}

export interface MemberImpact {
  userId: string;
  email: string;
  currentRole: MemberRole;
  /** null: loses access. */
  newRole: MemberRole | null;
  /** False when no groups are known for the member yet (no SCIM, no SSO login with groups). */
  groupsKnown: boolean;
}

export interface MappingPreview {
  organization: Organization;
  loseAccess: MemberImpact[];
  roleChanges: MemberImpact[];
  actorLosesAdmin: boolean;
  leavesNoAdmin: boolean;
}

export class GroupMappingService {
  constructor(
    private readonly config: Pick<Config, 'groupPrefix'>,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly access: OrganizationAccess,
    private readonly logger: Logger,
  ) {}

  /** The group names to create in the IdP for an organization, one per role. */
  names(organization: Pick<Organization, 'slug' | 'kind'>): Array<{ role: MemberRole; groupName: string }> {
    return mappableRoles(organization).map((role) => ({
      role,
      groupName: groupName(this.config.groupPrefix, organization, role),
    }));
  }

  /**
   * Applies the user's groups to every organization of the parent that has mappings on. `groups` null
   * means the IdP sent no groups at all (Entra's overage): nothing is granted or removed.
   */
  async applyForUser(
    em: EntityManager,
    scope: Pick<Scope, 'viewer' | 'requestId'>,
    parentId: string,
    user: User,
    groups: string[] | null,
    /** The parent's organizations with group mappings, when the caller has read them already. */
    mapped?: Organization[],
  ): Promise<void> {
    if (groups === null) {
      this.logger.info(
        { userId: user.id, parentId },
        'no groups claim (overage): group mappings left unchanged',
      );
      return;
    }
    const organizations =
      mapped ??
      (await findBySql(
        em,
        Organization,
        'select * from organizations where parent_id = ? and advanced_group_mappings',
        [parentId],
      ));
    for (const organization of organizations) {
      await this.applyRole(
        em,
        scope,
        organization,
        user,
        roleFromGroups(this.config.groupPrefix, organization, groups),
      );
    }
  }

  /** The SAML channel's groups for `user`: narrowToDirectory, reading what it needs. */
  async groupsForLogin(
    em: EntityManager,
    parentId: string,
    user: User,
    claim: string[] | null,
  ): Promise<string[] | null> {
    if (claim === null) return null;
    const [found] = await em.execute<Array<{ directories: boolean }>>(
      'select exists (select 1 from directories where parent_id = ?) as directories',
      [parentId],
    );
    return narrowToDirectory(
      claim,
      found?.directories ? await this.directoryGroupsOfUser(em, parentId, user) : null,
    );
  }

  /** The groups the parent's directories say the user is in. */
  async directoryGroupsOfUser(em: EntityManager, parentId: string, user: User): Promise<string[]> {
    const members = await em.find(
      DirectoryGroupMember,
      { member: { user, active: true, directory: { parent: parentId } } },
      { populate: ['group'] },
    );
    return members.map((m) => m.group.displayName);
  }

  /** The SCIM channel: re-evaluates a directory user after their groups or status changed. */
  async applyForDirectoryUser(em: EntityManager, directory: Directory, entry: DirectoryUser): Promise<void> {
    if (!entry.user || !entry.active) return;
    const scope = { viewer: null, requestId: `scim:${directory.id}` };
    await this.applyForUser(
      em,
      scope,
      directory.parent.id,
      entry.user,
      await this.directoryGroupsOfUser(em, directory.parent.id, entry.user),
    );
  }

  async preview(scope: Scope, organizationId: string): Promise<MappingPreview> {
    const { organization, viewer } = await this.requireMappingAdmin(scope, organizationId, scope.em);
    return this.computePreview(scope.em, organization, viewer.userId);
  }

  /**
   * Turns mappings on or off. Turning them on applies them at once; it is refused when the acting admin
   * would lose admin or the organization would be left without one, unless `force` is set.
   */
  async setEnabled(
    scope: Scope,
    organizationId: string,
    enabled: boolean,
    force: boolean,
  ): Promise<MappingPreview> {
    return scope.em.transactional(async (em) => {
      const { organization, viewer } = await this.requireMappingAdmin(scope, organizationId, em, true);
      const preview = await this.computePreview(em, organization, viewer.userId);
      if (organization.advancedGroupMappings === enabled) return preview;
      if (enabled && (preview.actorLosesAdmin || preview.leavesNoAdmin) && !force) {
        const admins = this.names(organization)
          .filter((n) => isAdminRole(organization.kind, n.role))
          .map((n) => n.groupName);
        throw new DomainError(
          MappingErrorCode.LOCKOUT,
          `Turning mappings on now would ${preview.actorLosesAdmin ? 'take your admin role' : 'leave the organization without an admin'}. ` +
            `Add the admins to ${admins.join(' or ')} in the IdP first (${preview.loseAccess.map((m) => m.email).join(', ') || 'no one loses access'}).`,
        );
      }
      organization.advancedGroupMappings = enabled;
      organization.updatedAt = this.clock.now();
      this.audit.record(em, scope, {
        action: enabled ? 'organization.group_mappings_enabled' : 'organization.group_mappings_disabled',
        targetType: 'Organization',
        targetId: organization.id,
        organizationId: organization.id,
        parentOrganizationId: organization.parent?.id ?? null,
        after: {
          advancedGroupMappings: enabled,
          forced: enabled && force,
          loseAccess: preview.loseAccess.length,
          roleChanges: preview.roleChanges.length,
        },
      });
      if (enabled) {
        for (const impact of [...preview.loseAccess, ...preview.roleChanges]) {
          await this.applyRole(em, scope, organization, em.getReference(User, impact.userId), impact.newRole);
        }
      }
      return preview;
    });
  }

  /** What organizations and roles these groups would give a user of the parent. */
  async dryRun(
    scope: Scope,
    parentId: string,
    groups: string[],
  ): Promise<Array<{ organization: Organization; role: MemberRole | null }>> {
    await this.access.requireParentAdmin(scope, parentId);
    const organizations = await scope.em.find(Organization, { parent: parentId }, { orderBy: { id: 'asc' } });
    return organizations.map((organization) => ({
      organization,
      role: organization.advancedGroupMappings
        ? roleFromGroups(this.config.groupPrefix, organization, groups)
        : organization.jitEnabled
          ? organization.jitDefaultRole
          : null,
    }));
  }

  private async computePreview(
    em: EntityManager,
    organization: Organization,
    actorId: string,
  ): Promise<MappingPreview> {
    const members = await em.find(Membership, { organization, removedAt: null }, { populate: ['user'] });
    const impacts: MemberImpact[] = [];
    for (const membership of members) {
      if (membership.role === MemberRole.PRIMARY_OWNER) continue;
      const groups = await this.knownGroups(em, organization.parent!.id, membership.user);
      const newRole = roleFromGroups(this.config.groupPrefix, organization, groups ?? []);
      if (newRole !== membership.role) {
        impacts.push({
          userId: membership.user.id,
          email: membership.user.email,
          currentRole: membership.role,
          newRole,
          groupsKnown: groups !== null,
        });
      }
    }
    const after = new Map(members.map((m) => [m.user.id, m.role as MemberRole | null]));
    for (const impact of impacts) after.set(impact.userId, impact.newRole);
    const isAdmin = (role: MemberRole | null | undefined) => !!role && isAdminRole(organization.kind, role);
    // The actor must keep the role that manages mappings: an Enterprise owner demoted to ADMIN could not undo this.
    const managesMappings = (role: MemberRole | null | undefined) =>
      !!role && isIdentityAdminRole(organization.kind, role);
    return {
      organization,
      loseAccess: impacts.filter((i) => i.newRole === null),
      roleChanges: impacts.filter((i) => i.newRole !== null),
      actorLosesAdmin:
        managesMappings(members.find((m) => m.user.id === actorId)?.role) &&
        !managesMappings(after.get(actorId)),
      leavesNoAdmin: ![...after.values()].some(isAdmin),
    };
  }

  /**
   * Groups known for a user: the SCIM directory's, else those of their last SSO login (narrowed as at login:
   * a claim the parent's directory does not back counts for nothing), else null.
   */
  private async knownGroups(em: EntityManager, parentId: string, user: User): Promise<string[] | null> {
    if ((await em.count(DirectoryUser, { user, directory: { parent: parentId } })) > 0) {
      return this.directoryGroupsOfUser(em, parentId, user);
    }
    const identity = await em.findOne(
      SsoIdentity,
      { user, connection: { parent: parentId } },
      { orderBy: { lastLoginAt: 'desc' } },
    );
    const groups = identity?.profile?.groups;
    if (!Array.isArray(groups)) return null;
    return this.groupsForLogin(
      em,
      parentId,
      user,
      groups.filter((g): g is string => typeof g === 'string'),
    );
  }

  /** Sets the user's membership of a mapped organization to `role` (null: no access). The primary owner is never touched. */
  private async applyRole(
    em: EntityManager,
    scope: Pick<Scope, 'viewer' | 'requestId'>,
    organization: Organization,
    user: User,
    role: MemberRole | null,
  ) {
    const now = this.clock.now();
    const membership = await em.findOne(Membership, { organization, user }, { populate: ['user'] });
    if (membership?.role === MemberRole.PRIMARY_OWNER) return;
    const active = membership && !membership.removedAt ? membership : null;
    if (role === null) {
      if (!active) return;
      active.removedAt = now;
      active.removalReason = RemovalReason.DEPROVISIONED;
      active.updatedAt = now;
      this.audit.record(em, scope, {
        action: 'member.group_access_removed',
        targetType: 'Membership',
        targetId: active.id,
        organizationId: organization.id,
        parentOrganizationId: organization.parent?.id ?? null,
        before: { role: active.role, userId: user.id },
        actorType: scope.viewer ? ActorType.USER : ActorType.IDP,
      });
      return;
    }
    if (active && active.role === role) return;
    const before = active ? { role: active.role } : null;
    const target =
      membership ?? new Membership(organization, user, role, MembershipSource.GROUP_MAPPING, now);
    if (membership) {
      membership.role = role;
      membership.source = MembershipSource.GROUP_MAPPING;
      membership.removedAt = null;
      membership.removalReason = null;
      membership.updatedAt = now;
    } else {
      em.persist(target);
    }
    this.audit.record(em, scope, {
      action: before ? 'member.group_role_changed' : 'member.group_access_granted',
      targetType: 'Membership',
      targetId: target.id,
      organizationId: organization.id,
      parentOrganizationId: organization.parent?.id ?? null,
      before,
      after: { role, userId: user.id, source: MembershipSource.GROUP_MAPPING },
      actorType: scope.viewer ? ActorType.USER : ActorType.IDP,
    });
  }

  /** Mappings are switched by the organization's admins (Console admins; Enterprise owners), with a parent. */
  private async requireMappingAdmin(scope: Scope, organizationId: string, em: EntityManager, lock = false) {
    const grant = await this.access.requireMember(scope, organizationId, { em, lock });
    if (!isIdentityAdminRole(grant.organization.kind, grant.membership.role)) {
      throw forbidden('Only admins (owners on Enterprise) can change Advanced Group Mappings.');
    }
    if (!grant.organization.parent) throw forbidden('Advanced Group Mappings need a parent organization.');
    return grant;
  }
}
