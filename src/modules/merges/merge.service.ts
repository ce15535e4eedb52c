// Merge proposals: an account manager proposes linking an organization to a parent; the server picks
// the approvers of both sides and mails each a single-use link. The link only shows the proposal; an
// authenticated approval by that approver counts. One approval per side completes the merge in the
// same transaction, under a row lock on the proposal, so concurrent approvals complete it once.
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config/config.js';
import { addSeconds, type Clock } from '../../lib/clock.js';
import { DomainError, notFound } from '../../lib/errors.js';
import type { RateLimits } from '../../lib/rate-limits.js';
import type { EventBus } from '../../lib/events.js';
import { isUuid } from '../../lib/ids.js';
import { paginate, type PageRequest } from '../../lib/page.js';
import type { Scope } from '../../lib/scope.js';
import { randomToken, sha256 } from '../../lib/secrets.js';
import type { MailOutbox } from '../../mail/outbox.js';
import { mailTemplates } from '../../mail/templates.js';
import { ActorType } from '../audit/audit-event.entity.js';
import type { AuditEntry, AuditService } from '../audit/audit.service.js';
import { Domain, DomainStatus } from '../domains/domain.entity.js';
import { Membership } from '../members/membership.entity.js';
import { Session } from '../sessions/session.entity.js';
import { SsoConnection, SsoConnectionState } from '../sso/sso-connection.entity.js';
import { isOnVerifiedDomain } from '../sso/sso-routing.js';
import type { OrganizationAccess } from '../organizations/organization.access.js';
import { Organization } from '../organizations/organization.entity.js';
import { ParentOrganization } from '../organizations/parent-organization.entity.js';
import { IDENTITY_ADMIN_ROLES, OrganizationKind } from '../organizations/roles.js';
import { StaffRole, User } from '../sessions/user.entity.js';
import { MergeApprover } from './merge-approver.entity.js';
import { MergeErrorCode } from './merge.errors.js';
import { MergeProposal, MergeProposalStatus, MergeSide } from './merge-proposal.entity.js';

export const MERGE_PROPOSAL_TTL_SECONDS = 72 * 3600;

export interface MergeReview {
  proposal: MergeProposal;
  side: MergeSide;
  approverEmail: string;
}

export class MergeService {
  constructor(
    private readonly config: Pick<Config, 'publicUrl'>,
    private readonly clock: Clock,
    private readonly outbox: MailOutbox,
    private readonly audit: AuditService,
    private readonly access: OrganizationAccess,
    private readonly events: EventBus,
    private readonly rateLimits: RateLimits,
  ) {}

  async create(scope: Scope, incomingOrganizationId: string, targetParentId: string): Promise<MergeProposal> {
    const staff = this.access.requireStaff(scope, StaffRole.ACCOUNT_MANAGER);
    if (!isUuid(incomingOrganizationId)) throw notFound('Organization');
    if (!isUuid(targetParentId)) throw notFound('Parent organization');
    const proposal = await scope.em.transactional(async (em) => {
      const incoming = await em.findOne(Organization, incomingOrganizationId, {
        lockMode: LockMode.PESSIMISTIC_WRITE,
      });
      if (!incoming) throw notFound('Organization');
      const target = await em.findOne(ParentOrganization, targetParentId);
      if (!target) throw notFound('Parent organization');
      if (incoming.parent?.id === target.id) {
        throw new DomainError(
          MergeErrorCode.ALREADY_LINKED,
          'The organization is already linked to this parent.',
          ['incomingOrganizationId'],
        );
      }
      await this.assertNothingOrphaned(em, incoming);
      const now = this.clock.now();
      const proposal = new MergeProposal(
        incoming,
        target,
        em.getReference(User, staff.userId),
        now,
        addSeconds(now, MERGE_PROPOSAL_TTL_SECONDS),
      );
      em.persist(proposal);
      const sides: Array<[MergeSide, User[]]> = [
        [MergeSide.INCOMING, await this.approvers(em, proposal, MergeSide.INCOMING)],
        [MergeSide.TARGET, await this.approvers(em, proposal, MergeSide.TARGET)],
      ];
      for (const [side, users] of sides) {
        if (users.length === 0) {
          throw new DomainError(
            MergeErrorCode.NO_APPROVERS,
            side === MergeSide.INCOMING
              ? 'The incoming organization has no admin to approve.'
              : 'The target parent has no Enterprise owner or primary owner to approve.',
          );
        }
        for (const user of users) {
          const token = randomToken(32);
          em.persist(new MergeApprover(proposal, user, side, sha256(token)));
          const link = `${this.config.publicUrl}/merge-proposals/review?token=${encodeURIComponent(token)}`;
          this.outbox.enqueue(
            em,
            user.email,
            mailTemplates.mergeProposal(incoming.name, target.name, side, link),
          );
        }
      }
      await this.recordOnBothSides(em, scope, proposal, {
        action: 'merge_proposal.created',
        targetType: 'MergeProposal',
        targetId: proposal.id,
        after: {
          incomingOrganizationId: incoming.id,
          targetParentId: target.id,
          expiresAt: proposal.expiresAt.toISOString(),
        },
        actorType: ActorType.STAFF,
      });
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) {
          throw new DomainError(
            MergeErrorCode.PROPOSAL_PENDING,
            'A proposal for this organization is already pending.',
          );
        }
        throw error;
      }
      return proposal;
    });
    await this.outbox.wake();
    this.publish(proposal);
    return proposal;
  }

  /** What the e-mailed link shows. Reading never approves: mail scanners follow links. */
  async review(scope: Scope, token: string): Promise<MergeReview> {
    const approver = await this.approverByToken(scope, scope.em, token).catch((error: unknown) => {
      throw error instanceof DomainError ? notFound('Approval link') : error;
    });
    return { proposal: approver.proposal, side: approver.side, approverEmail: approver.user.email };
  }

  async approve(scope: Scope, token: string): Promise<MergeProposal> {
    return this.decide(scope, token, 'approve');
  }

  async decline(scope: Scope, token: string): Promise<MergeProposal> {
    return this.decide(scope, token, 'decline');
  }

  async get(scope: Scope, proposalId: string): Promise<MergeProposal> {
    const viewer = this.access.requireViewer(scope);
    if (!isUuid(proposalId)) throw notFound('Merge proposal');
    const proposal = await scope.em.findOne(MergeProposal, proposalId, {
      populate: ['incomingOrganization', 'targetParent'],
    });
    if (!proposal) throw notFound('Merge proposal');
    if (viewer.staffRole !== StaffRole.ACCOUNT_MANAGER) {
      const isApprover = await scope.em.count(MergeApprover, { proposal, user: viewer.userId });
      if (isApprover === 0) throw notFound('Merge proposal');
    }
    return proposal;
  }

  async list(scope: Scope, status: MergeProposalStatus | null, page: PageRequest) {
    this.access.requireStaff(scope, StaffRole.ACCOUNT_MANAGER);
    return paginate(scope.em, MergeProposal, status ? { status } : {}, page, {
      populate: ['incomingOrganization', 'targetParent'],
    });
  }

  /** Marks pending proposals past their 72 hours EXPIRED (background job); returns how many. */
  async expireDue(em: EntityManager): Promise<number> {
    const expired = await em.transactional(async (tx) => {
      const due = await tx.find(
        MergeProposal,
        { status: MergeProposalStatus.PENDING, expiresAt: { $lte: this.clock.now() } },
        { lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE, limit: 100, populate: ['incomingOrganization'] },
      );
      for (const proposal of due) {
        proposal.status = MergeProposalStatus.EXPIRED;
        proposal.decidedAt = this.clock.now();
        await this.recordOnBothSides(tx, { viewer: null, requestId: 'job:merge.expire' }, proposal, {
          action: 'merge_proposal.expired',
          targetType: 'MergeProposal',
          targetId: proposal.id,
          before: { status: MergeProposalStatus.PENDING },
          after: { status: MergeProposalStatus.EXPIRED },
          actorType: ActorType.SYSTEM,
        });
      }
      return due;
    });
    for (const proposal of expired) this.publish(proposal);
    return expired.length;
  }

  private async decide(scope: Scope, token: string, decision: 'approve' | 'decline'): Promise<MergeProposal> {
    const viewer = this.access.requireViewer(scope);
    const revoked: string[] = [];
    const proposal = await scope.em.transactional(async (em) => {
      const approver = await this.approverByToken(scope, em, token);
      // Serialises every decision on this proposal: the second of two concurrent approvals sees the first.
      const proposal = await em.findOneOrFail(MergeProposal, approver.proposal.id, {
        lockMode: LockMode.PESSIMISTIC_WRITE,
        refresh: true,
        populate: ['incomingOrganization', 'targetParent'],
      });
      await em.refresh(approver);
      const now = this.clock.now();
      if (approver.user.id !== viewer.userId) {
        throw new DomainError(
          MergeErrorCode.NOT_THE_APPROVER,
          `This link was sent to ${approver.user.email}; sign in as that address.`,
        );
      }
      if (approver.usedAt) throw new DomainError(MergeErrorCode.TOKEN_USED, 'This link was already used.');
      if (proposal.status !== MergeProposalStatus.PENDING) {
        throw new DomainError(
          MergeErrorCode.PROPOSAL_NOT_PENDING,
          `This proposal is ${proposal.status.toLowerCase()}.`,
        );
      }
      if (proposal.expiresAt <= now)
        throw new DomainError(MergeErrorCode.PROPOSAL_EXPIRED, 'This proposal has expired.');
      const current = await this.approvers(em, proposal, approver.side, viewer.userId);
      if (current.length === 0) {
        throw new DomainError(MergeErrorCode.APPROVER_REMOVED, 'You are no longer an approver of this side.');
      }
      if (decision === 'approve' && proposal.approvalOf(approver.side)) {
        throw new DomainError(
          MergeErrorCode.SIDE_ALREADY_APPROVED,
          'Your side has already approved this proposal.',
        );
      }
      approver.usedAt = now;
      const user = em.getReference(User, viewer.userId);
      if (decision === 'decline') {
        proposal.status = MergeProposalStatus.REJECTED;
        proposal.decidedAt = now;
        proposal.decidedBy = user;
        await this.recordOnBothSides(em, scope, proposal, {
          action: 'merge_proposal.rejected',
          targetType: 'MergeProposal',
          targetId: proposal.id,
          before: { status: MergeProposalStatus.PENDING },
          after: { status: MergeProposalStatus.REJECTED, side: approver.side },
        });
        return proposal;
      }
      if (approver.side === MergeSide.INCOMING) {
        proposal.incomingApprovedAt = now;
        proposal.incomingApprovedBy = user;
      } else {
        proposal.targetApprovedAt = now;
        proposal.targetApprovedBy = user;
      }
      await this.recordOnBothSides(em, scope, proposal, {
        action: 'merge_proposal.approved',
        targetType: 'MergeProposal',
        targetId: proposal.id,
        after: { side: approver.side },
      });
      if (proposal.incomingApprovedAt && proposal.targetApprovedAt)
        revoked.push(...(await this.complete(em, scope, proposal)));
      return proposal;
    });
    if (proposal.status === MergeProposalStatus.COMPLETED) await this.outbox.wake();
    for (const userId of revoked) this.events.publish('USER_SESSIONS_REVOKED', userId);
    this.publish(proposal);
    return proposal;
  }

  /** Links the incoming organization to the target parent, if nothing changed since the proposal was sent. */
  private async complete(em: EntityManager, scope: Scope, proposal: MergeProposal): Promise<string[]> {
    const incoming = await em.findOneOrFail(Organization, proposal.incomingOrganization.id, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      refresh: true,
    });
    const previousParent = incoming.parent?.id ?? null;
    if (
      previousParent !== (proposal.incomingParentAtProposal ?? null) ||
      previousParent === proposal.targetParent.id
    ) {
      throw new DomainError(
        MergeErrorCode.PROPOSAL_STALE,
        'The incoming organization changed parent since this proposal was sent.',
      );
    }
    await this.assertNothingOrphaned(em, incoming);
    const now = this.clock.now();
    incoming.parent = proposal.targetParent;
    incoming.updatedAt = now;
    proposal.status = MergeProposalStatus.COMPLETED;
    proposal.decidedAt = now;
    this.audit.record(em, scope, {
      action: 'organization.parent_linked',
      targetType: 'Organization',
      targetId: incoming.id,
      organizationId: incoming.id,
      parentOrganizationId: proposal.targetParent.id,
      before: { parentOrganizationId: previousParent },
      after: {
        parentOrganizationId: proposal.targetParent.id,
        via: 'merge_proposal',
        proposalId: proposal.id,
      },
    });
    await this.recordOnBothSides(em, scope, proposal, {
      action: 'merge_proposal.completed',
      targetType: 'MergeProposal',
      targetId: proposal.id,
      before: { status: MergeProposalStatus.PENDING },
      after: { status: MergeProposalStatus.COMPLETED },
    });
    const approvers = await em.find(MergeApprover, { proposal }, { populate: ['user'] });
    for (const email of new Set(approvers.map((a) => a.user.email))) {
      this.outbox.enqueue(em, email, mailTemplates.mergeCompleted(incoming.name, proposal.targetParent.name));
    }
    return this.endSessionsCapturedBySso(em, incoming, proposal.targetParent.id, now);
  }

  /**
   * Joining a parent whose SSO is active turns SSO on for the incoming organization's people on its captured
   * domains: as when SSO is activated, their current sessions end and they sign in again through SSO.
   */
  private async endSessionsCapturedBySso(
    em: EntityManager,
    incoming: Organization,
    parentId: string,
    now: Date,
  ): Promise<string[]> {
    const active = await em.count(SsoConnection, { parent: parentId, state: SsoConnectionState.ACTIVE });
    if (active === 0) return [];
    const memberships = await em.find(
      Membership,
      { organization: incoming, removedAt: null },
      { populate: ['user'] },
    );
    const revoked: string[] = [];
    for (const { user } of memberships) {
      if (!(await isOnVerifiedDomain(em, parentId, user.email))) continue;
      await em.nativeUpdate(Session, { user, revokedAt: null, expiresAt: { $gt: now } }, { revokedAt: now });
      revoked.push(user.id);
    }
    return revoked;
  }

  /**
   * Moving an organization away from a parent that holds verified domains or SSO connections would strand that identity setup
   * (its captured addresses would keep routing to a parent the organization left): it must go first.
   */
  private async assertNothingOrphaned(em: EntityManager, incoming: Organization): Promise<void> {
    if (!incoming.parent) return;
    const verified = await em.find(
      Domain,
      { parent: incoming.parent.id, status: DomainStatus.VERIFIED },
      { fields: ['name'] },
    );
    const connections = await em.find(SsoConnection, { parent: incoming.parent.id }, { fields: ['name'] });
    const held = [
      ...verified.map((d) => `verified domain ${d.name}`),
      ...connections.map((c) => `SSO connection "${c.name}"`),
    ];
    if (held.length > 0) {
      throw new DomainError(
        MergeErrorCode.PARENT_HAS_IDENTITY_SETTINGS,
        `The organization's current parent holds identity settings (${held.join(', ')}): remove them first.`,
        ['incomingOrganizationId'],
      );
    }
  }

  /**
   * Current approvers of a side, chosen by the server: the incoming organization's identity admins
   * (Console admins), or the owners and primary owners of the target parent's ENTERPRISE organizations.
   */
  private async approvers(
    em: EntityManager,
    proposal: MergeProposal,
    side: MergeSide,
    onlyUserId?: string,
  ): Promise<User[]> {
    const incoming = proposal.incomingOrganization;
    const where =
      side === MergeSide.INCOMING
        ? { organization: incoming.id, role: { $in: [...IDENTITY_ADMIN_ROLES[incoming.kind]] } }
        : {
            organization: { parent: proposal.targetParent.id, kind: OrganizationKind.ENTERPRISE },
            role: { $in: [...IDENTITY_ADMIN_ROLES[OrganizationKind.ENTERPRISE]] },
          };
    const memberships = await em.find(
      Membership,
      { ...where, removedAt: null, ...(onlyUserId ? { user: onlyUserId } : {}) },
      { populate: ['user'], orderBy: { id: 'asc' } },
    );
    return [...new Map(memberships.map((m) => [m.user.id, m.user])).values()];
  }

  /** Wrong links count against the client address, so links cannot be guessed at volume. */
  private async approverByToken(scope: Scope, em: EntityManager, token: string): Promise<MergeApprover> {
    const ip = scope.client?.ip;
    if (ip) await this.rateLimits.assertOpen('approvalFailuresPerIp', ip);
    const approver =
      token && token.length <= 200
        ? await em.findOne(
            MergeApprover,
            { tokenHash: sha256(token) },
            { populate: ['user', 'proposal', 'proposal.incomingOrganization', 'proposal.targetParent'] },
          )
        : null;
    if (!approver) {
      if (ip) await this.rateLimits.failed('approvalFailuresPerIp', ip);
      throw new DomainError(MergeErrorCode.TOKEN_INVALID, 'This approval link is not valid.', ['token']);
    }
    return approver;
  }

  /** One audit event in the log of every organization involved: the incoming one and those of the target parent. */
  private recordOnBothSides(
    em: EntityManager,
    scope: Pick<Scope, 'viewer' | 'requestId'>,
    proposal: MergeProposal,
    entry: AuditEntry,
  ): Promise<void> {
    return this.audit.recordForParent(em, scope, proposal.targetParent.id, entry, [
      proposal.incomingOrganization.id,
    ]);
  }

  private publish(proposal: MergeProposal): void {
    this.events.publish('MERGE_PROPOSAL_UPDATED', proposal.id, {
      proposalId: proposal.id,
      status: proposal.status,
      incomingApprovedAt: proposal.incomingApprovedAt ?? null,
      targetApprovedAt: proposal.targetApprovedAt ?? null,
    });
  }
}
