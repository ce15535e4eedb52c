// What a directory user means for the platform, applied on every SCIM write and on "Sync now": an
// active user with an e-mail on the parent's verified domains becomes an account with memberships as
// rule 11 says; an inactive or deleted one loses the memberships the directory granted and every session.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { EntityData } from '@mikro-orm/core';
import { entitiesOf, preparedRows, type SqlPart, sqlValue } from '../../db/plain-reads.js';
import type { Clock } from '../../lib/clock.js';
import { canonicalEmail, InvalidEmailError } from '../../lib/names.js';
import type { Scope } from '../../lib/scope.js';
import { ActorType } from '../audit/audit-event.entity.js';
import type { AuditService } from '../audit/audit.service.js';
import type { GroupMappingService } from '../mappings/group-mapping.service.js';
import { Membership, MembershipSource, RemovalReason } from '../members/membership.entity.js';
import { Organization } from '../organizations/organization.entity.js';
import type { SessionService } from '../sessions/session.service.js';
import { User } from '../sessions/user.entity.js';
import { onVerifiedDomainExpression } from '../sso/sso-routing.js';
import type { Directory } from './directory.entity.js';
import { type DirectoryUser } from './directory-user.entity.js';
import { primaryEmail } from './scim-resources.js';

export interface ReconcileOutcome {
  provisioned: boolean;
  deprovisioned: boolean;
  /** Set when sessions were revoked: live connections of this user must close after commit. */
  revokedUserId?: string;
  /**
   * Set when `withoutMappings` was asked and group mappings would apply: nothing was written, and what
   * was persisted is to be dropped, as mappings read the account link (and so need it written) first.
   */
  needsMappings?: boolean;
  error?: string;
}

/** What reconcile reads about an active entry's e-mail (see contextColumns). */
export interface ContextRow {
  captured: boolean;
  account: EntityData<User> | null;
  organizations: Array<EntityData<Organization>>;
}

/** A ContextRow read ahead, with the directory, for the entry with this canonical e-mail (ScimService.authenticate). */
export interface ReadAhead {
  directoryId: string;
  email: string;
  row: ContextRow;
}

/**
 * The columns of a ContextRow for `email`: whether it is on a verified domain of the parent `parent`
 * names (a value, or a column of the statement they are part of), the account with that e-mail, and the
 * parent's organizations of both channels (JIT ones provision in reconcile, mapped ones by group). Null
 * when no domain could cover the e-mail.
 */
export function contextColumns(parent: SqlPart, email: string): SqlPart | null {
  const onVerifiedDomain = onVerifiedDomainExpression(parent, email);
  if (!onVerifiedDomain) return null;
  return {
    sql: `${onVerifiedDomain.sql} as captured,
          (select to_jsonb(u) from users u where u.email = ?) as account,
          (select coalesce(jsonb_agg(o), '[]') from organizations o
            where o.parent_id = ${parent.sql} and (o.jit_enabled or o.advanced_group_mappings)) as organizations`,
    params: [...onVerifiedDomain.params, email, ...parent.params],
  };
}

/** A reconcile's context, from `readAhead` when it was read for this e-mail, else in one statement. */
async function readContext(
  em: EntityManager,
  directory: Directory,
  email: string,
  readAhead?: ReadAhead,
): Promise<{ account: User | null; organizations: Organization[] } | null> {
  let row: ContextRow | undefined;
  if (readAhead?.directoryId === directory.id && readAhead.email === email) row = readAhead.row;
  else {
    const columns = contextColumns(sqlValue(directory.parent.id), email);
    if (!columns) return null;
    // Prepared: it runs on every SCIM write of an active user that was not read ahead.
    [row] = await preparedRows<ContextRow>(em, `select ${columns.sql}`, columns.params);
  }
  if (!row?.captured) return null;
  return {
    account: row.account ? entitiesOf(em, User, [row.account])[0]! : null,
    organizations: entitiesOf(em, Organization, row.organizations),
  };
}

export class DirectoryProvisioning {
  constructor(
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly sessions: SessionService,
    private readonly mappings: GroupMappingService,
  ) {}

  /**
   * `readded`: the IdP (re)assigned the user in this request (created or reactivated), which also undoes
   * an admin's console removal; a plain sync does not. `withoutMappings`: stop short of group mappings
   * (see `needsMappings`), for a caller that writes everything at the end. `readAhead`: the context, if
   * read with the directory.
   */
  async reconcile(
    em: EntityManager,
    directory: Directory,
    entry: DirectoryUser,
    options: { deleted?: boolean; readded?: boolean; withoutMappings?: boolean; readAhead?: ReadAhead } = {},
  ): Promise<ReconcileOutcome> {
    const scope: Pick<Scope, 'viewer' | 'requestId'> = { viewer: null, requestId: `scim:${directory.id}` };
    if (options.deleted || !entry.active) return this.deprovision(em, scope, directory, entry);
    let email: string;
    try {
      email = canonicalEmail(primaryEmail(entry));
    } catch (error) {
      if (error instanceof InvalidEmailError)
        return { provisioned: false, deprovisioned: false, error: `${entry.userName}: no valid e-mail` };
      throw error;
    }
    const context = await readContext(em, directory, email, options.readAhead);
    if (!context) {
      return {
        provisioned: false,
        deprovisioned: false,
        error: `${email}: not on a verified domain of the parent`,
      };
    }
    const now = this.clock.now();
    const existing = entry.user ?? context.account;
    const user = existing ?? new User(email, now);
    if (!existing) {
      em.persist(user);
      this.audit.record(em, scope, {
        action: 'user.created',
        targetType: 'User',
        targetId: user.id,
        after: { email, via: 'scim' },
        actorType: ActorType.IDP,
      });
    }
    const linked = entry.user !== user;
    entry.user = user;
    const name = [entry.givenName, entry.familyName].filter(Boolean).join(' ').slice(0, 200);
    if (name && user.name !== name) user.name = name;
    let provisioned = false;
    const { organizations } = context;
    const jit = organizations.filter((o) => o.jitEnabled && !o.advancedGroupMappings);
    // An account made just now has no memberships yet.
    const memberships =
      existing && jit.length > 0 ? await em.find(Membership, { organization: { $in: jit }, user }) : [];
    for (const organization of jit) {
      const membership = memberships.find((m) => m.organization.id === organization.id);
      if (membership && !membership.removedAt) continue;
      if (membership?.removalReason === RemovalReason.CONSOLE && !options.readded) continue;
      const target =
        membership ??
        new Membership(organization, user, organization.jitDefaultRole, MembershipSource.SCIM, now);
      if (membership) {
        membership.removedAt = null;
        membership.removalReason = null;
        membership.updatedAt = now;
      } else {
        em.persist(target);
      }
      provisioned = true;
      this.audit.record(em, scope, {
        action: 'member.provisioned',
        targetType: 'Membership',
        targetId: target.id,
        organizationId: organization.id,
        parentOrganizationId: directory.parent.id,
        after: {
          userId: user.id,
          email,
          role: target.role,
          source: target.source,
          directoryId: directory.id,
        },
        actorType: ActorType.IDP,
      });
    }
    // Without an organization that has mappings on, the user's groups change nothing.
    if (organizations.some((o) => o.advancedGroupMappings)) {
      if (options.withoutMappings) return { provisioned, deprovisioned: false, needsMappings: true };
      // The groups are read through the directory user's account link: a link (or an account) made in
      // this request must be written first, as auto-flush only covers the entity a query selects.
      if (linked) await em.flush();
      await this.mappings.applyForDirectoryUser(em, directory, entry);
    }
    return { provisioned, deprovisioned: false };
  }

  private async deprovision(
    em: EntityManager,
    scope: Pick<Scope, 'viewer' | 'requestId'>,
    directory: Directory,
    entry: DirectoryUser,
  ): Promise<ReconcileOutcome> {
    if (!entry.user) return { provisioned: false, deprovisioned: false };
    const now = this.clock.now();
    const memberships = await em.find(Membership, {
      user: entry.user,
      removedAt: null,
      source: { $in: [MembershipSource.SCIM, MembershipSource.GROUP_MAPPING] },
      organization: { parent: directory.parent.id },
    });
    for (const membership of memberships) {
      membership.removedAt = now;
      membership.removalReason = RemovalReason.DEPROVISIONED;
      membership.updatedAt = now;
      this.audit.record(em, scope, {
        action: 'member.deprovisioned',
        targetType: 'Membership',
        targetId: membership.id,
        organizationId: membership.organization.id,
        parentOrganizationId: directory.parent.id,
        before: { role: membership.role, userId: entry.user.id },
        actorType: ActorType.IDP,
      });
    }
    const revoked = await this.sessions.revokeAllForUser(em, entry.user.id);
    return {
      provisioned: false,
      deprovisioned: memberships.length > 0 || revoked > 0,
      revokedUserId: entry.user.id,
    };
  }
}
