// Members of an organization before SSO: invitations by e-mail, role changes and removal. Every change
// locks the organization row, so "the last administrator stays" holds under concurrent requests.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config/config.js';
import { addSeconds, type Clock } from '../../lib/clock.js';
import { DomainError, notFound } from '../../lib/errors.js';
import { isUuid } from '../../lib/ids.js';
import { parseEmail } from '../../lib/names.js';
import { paginate, type PageRequest } from '../../lib/page.js';
import type { Scope } from '../../lib/scope.js';
import { randomToken, sha256 } from '../../lib/secrets.js';
import type { MailOutbox } from '../../mail/outbox.js';
import { mailTemplates } from '../../mail/templates.js';
import type { AuditService } from '../audit/audit.service.js';
import type { OrganizationAccess } from '../organizations/organization.access.js';
import type { Organization } from '../organizations/organization.entity.js';
import { ADMIN_ROLES, compareRoles, isAdminRole, isRoleOfKind, MemberRole } from '../organizations/roles.js';
import type { IssuedSession, SessionService } from '../sessions/session.service.js';
import { AuthMethod } from '../sessions/session.entity.js';
import { User } from '../sessions/user.entity.js';
import { refuseIfSsoRequired } from '../sso/sso-routing.js';
import { Invitation } from './invitation.entity.js';
import { MemberErrorCode } from './member.errors.js';
import { Membership, MembershipSource, RemovalReason } from './membership.entity.js';

export interface MemberInviteInput {
  email: string;
  role: MemberRole;
}

export interface AcceptedInvitation extends IssuedSession {
  membership: Membership;
}

export class MemberService {
  constructor(
    private readonly config: Pick<Config, 'publicUrl' | 'invitationTtlSeconds'>,
    private readonly clock: Clock,
    private readonly outbox: MailOutbox,
    private readonly audit: AuditService,
    private readonly access: OrganizationAccess,
    private readonly sessions: SessionService,
  ) {}

  async list(scope: Scope, organizationId: string, page: PageRequest) {
    await this.access.requireMember(scope, organizationId);
    return paginate(scope.em, Membership, { organization: organizationId, removedAt: null }, page, {
      populate: ['user'],
    });
  }

  async invite(scope: Scope, organizationId: string, input: MemberInviteInput): Promise<Invitation> {
    const email = parseEmail(input.email);
    // After SSO, members on captured domains join through the IdP (JIT), not by invitation.
    await refuseIfSsoRequired(scope.em, this.config.publicUrl, email, MemberErrorCode.SSO_REQUIRED);
    const invitation = await scope.em.transactional(async (em) => {
      const { organization, membership: own } = await this.access.requireAdmin(scope, organizationId, {
        em,
        lock: true,
      });
      this.assertGrantable(organization, own.role, input.role);
      const existing = await em.findOne(Membership, { organization, user: { email }, removedAt: null });
      if (existing)
        throw new DomainError(MemberErrorCode.ALREADY_MEMBER, `${email} is already a member.`, ['email']);
      const now = this.clock.now();
      const token = randomToken(32);
      const invitation = new Invitation(
        organization,
        email,
        input.role,
        sha256(token),
        em.getReference(User, own.user.id),
        now,
        addSeconds(now, this.config.invitationTtlSeconds),
      );
      em.persist(invitation);
      const link = `${this.config.publicUrl}/invitations/accept?token=${encodeURIComponent(token)}`;
      this.outbox.enqueue(
        em,
        email,
        mailTemplates.invitation(organization.name, scope.viewer!.email, input.role, link),
      );
      this.audit.record(em, scope, {
        action: 'invitation.created',
        targetType: 'Invitation',
        targetId: invitation.id,
        organizationId: organization.id,
        after: { email, role: input.role },
      });
      return invitation;
    });
    await this.outbox.wake();
    return invitation;
  }

  /**
   * Accepting proves control of the invited address (the token came by mail to it), so it signs that
   * address in, creating the account if needed, and adds (or revives) the membership.
   */
  async acceptInvitation(scope: Scope, token: string): Promise<AcceptedInvitation> {
    const invalid = () =>
      new DomainError(
        MemberErrorCode.INVITATION_INVALID,
        'This invitation link is not valid any more. Ask for a new one.',
        ['token'],
      );
    if (!token || token.length > 200) throw invalid();
    const now = this.clock.now();
    return scope.em.transactional(async (em) => {
      const invitation = await em.findOne(
        Invitation,
        { tokenHash: sha256(token) },
        { populate: ['organization'] },
      );
      if (!invitation || invitation.acceptedAt || invitation.revokedAt || invitation.expiresAt <= now)
        throw invalid();
      const claimed = await em.nativeUpdate(
        Invitation,
        { id: invitation.id, acceptedAt: null },
        { acceptedAt: now },
      );
      if (claimed !== 1) throw invalid();
      let user = await em.findOne(User, { email: invitation.email });
      if (!user) {
        user = new User(invitation.email, now);
        em.persist(user);
        this.audit.record(em, scope, {
          action: 'user.created',
          targetType: 'User',
          targetId: user.id,
          after: { email: user.email },
        });
      }
      const issued = this.sessions.issue(em, scope, user, AuthMethod.INVITATION);
      const actor = {
        ...scope,
        viewer: {
          userId: user.id,
          email: user.email,
          staffRole: user.staffRole ?? null,
          sessionId: issued.session.id,
        },
      };
      let membership = await em.findOne(Membership, { organization: invitation.organization, user });
      const before = membership && !membership.removedAt ? { role: membership.role } : null;
      if (membership) {
        membership.removedAt = null;
        membership.removalReason = null;
        membership.updatedAt = now;
        if (!before) {
          membership.role = invitation.role;
          membership.source = MembershipSource.INVITE;
        }
      } else {
        membership = new Membership(
          invitation.organization,
          user,
          invitation.role,
          MembershipSource.INVITE,
          now,
        );
        em.persist(membership);
      }
      this.audit.record(em, actor, {
        action: 'member.joined',
        targetType: 'Membership',
        targetId: membership.id,
        organizationId: invitation.organization.id,
        before,
        after: { userId: user.id, email: user.email, role: membership.role, invitationId: invitation.id },
      });
      return { ...issued, membership };
    });
  }

  async updateRole(
    scope: Scope,
    organizationId: string,
    userId: string,
    role: MemberRole,
  ): Promise<Membership> {
    return scope.em.transactional(async (em) => {
      const { organization, membership: own } = await this.access.requireAdmin(scope, organizationId, {
        em,
        lock: true,
      });
      const target = await this.findActive(em, organization, userId);
      if (target.role === role) return target;
      if (target.role === MemberRole.PRIMARY_OWNER) {
        throw new DomainError(MemberErrorCode.PRIMARY_OWNER_IMMUTABLE, 'The primary owner keeps that role.', [
          'userId',
        ]);
      }
      this.assertGrantable(organization, own.role, role);
      if (compareRoles(organization.kind, target.role, own.role) < 0) {
        throw new DomainError(
          MemberErrorCode.ROLE_ABOVE_OWN,
          'You cannot change the role of a member above your own.',
          ['userId'],
        );
      }
      await this.assertAdminRemains(em, organization, target, isAdminRole(organization.kind, role));
      const before = { role: target.role };
      target.role = role;
      target.updatedAt = this.clock.now();
      this.audit.record(em, scope, {
        action: 'member.role_changed',
        targetType: 'Membership',
        targetId: target.id,
        organizationId: organization.id,
        before,
        after: { role, userId: target.user.id },
      });
      return target;
    });
  }

  /** Ends the member's access at once: their next request to the organization is refused. */
  async remove(scope: Scope, organizationId: string, userId: string): Promise<Membership> {
    return scope.em.transactional(async (em) => {
      const { organization, membership: own } = await this.access.requireAdmin(scope, organizationId, {
        em,
        lock: true,
      });
      const target = await this.findActive(em, organization, userId);
      if (target.role === MemberRole.PRIMARY_OWNER) {
        throw new DomainError(
          MemberErrorCode.PRIMARY_OWNER_IMMUTABLE,
          'The primary owner cannot be removed.',
          ['userId'],
        );
      }
      if (target.id !== own.id && compareRoles(organization.kind, target.role, own.role) < 0) {
        throw new DomainError(
          MemberErrorCode.ROLE_ABOVE_OWN,
          'You cannot remove a member above your own role.',
          ['userId'],
        );
      }
      await this.assertAdminRemains(em, organization, target, false);
      const now = this.clock.now();
      target.removedAt = now;
      target.removalReason = RemovalReason.CONSOLE;
      target.updatedAt = now;
      this.audit.record(em, scope, {
        action: 'member.removed',
        targetType: 'Membership',
        targetId: target.id,
        organizationId: organization.id,
        before: { role: target.role, userId: target.user.id, email: target.user.email },
      });
      return target;
    });
  }

  private async findActive(
    em: EntityManager,
    organization: Organization,
    userId: string,
  ): Promise<Membership> {
    if (!isUuid(userId)) throw notFound('Member');
    const target = await em.findOne(
      Membership,
      { organization, user: userId, removedAt: null },
      { populate: ['user'] },
    );
    if (!target) throw notFound('Member');
    return target;
  }

  private assertGrantable(organization: Organization, ownRole: MemberRole, role: MemberRole): void {
    if (!isRoleOfKind(organization.kind, role)) {
      throw new DomainError(
        MemberErrorCode.INVALID_ROLE,
        `${role} is not a role of ${organization.kind} organizations.`,
        ['role'],
      );
    }
    if (role === MemberRole.PRIMARY_OWNER) {
      throw new DomainError(
        MemberErrorCode.PRIMARY_OWNER_IMMUTABLE,
        'The primary owner role cannot be granted.',
        ['role'],
      );
    }
    if (compareRoles(organization.kind, role, ownRole) < 0) {
      throw new DomainError(MemberErrorCode.ROLE_ABOVE_OWN, 'You cannot grant a role above your own.', [
        'role',
      ]);
    }
  }

  /** Refuses a change that would leave the organization without any administrator. */
  private async assertAdminRemains(
    em: EntityManager,
    organization: Organization,
    target: Membership,
    staysAdmin: boolean,
  ) {
    if (staysAdmin || !isAdminRole(organization.kind, target.role)) return;
    const admins = await em.count(Membership, {
      organization,
      removedAt: null,
      role: { $in: [...ADMIN_ROLES[organization.kind]] },
    });
    if (admins <= 1) {
      throw new DomainError(
        MemberErrorCode.LAST_ADMIN,
        'The organization needs at least one administrator.',
        ['userId'],
      );
    }
  }
}
