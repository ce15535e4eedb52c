// Parent organizations: which organizations share identity settings, whether an organization's identity
// settings page is available (and if not, the route that opens it), and the "contact sales" request
// that staff with role SALES turn into a new parent.
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Clock } from '../../lib/clock.js';
import { DomainError, notFound } from '../../lib/errors.js';
import { isUuid } from '../../lib/ids.js';
import { paginate, type PageRequest } from '../../lib/page.js';
import type { Scope } from '../../lib/scope.js';
import type { MailOutbox } from '../../mail/outbox.js';
import { mailTemplates } from '../../mail/templates.js';
import type { AuditService } from '../audit/audit.service.js';
import { ActorType } from '../audit/audit-event.entity.js';
import { Membership } from '../members/membership.entity.js';
import { StaffRole, User } from '../sessions/user.entity.js';
import type { OrganizationAccess } from './organization.access.js';
import { Organization } from './organization.entity.js';
import { ParentOrganizationErrorCode } from './parent-organization.errors.js';
import { ParentOrganization } from './parent-organization.entity.js';
import {
  ParentOrganizationRequest,
  ParentOrganizationRequestStatus,
} from './parent-organization-request.entity.js';
import { isIdentityAdminRole, OrganizationKind } from './roles.js';

export enum IdentitySettingsRoute {
  /** Ask Sales for a parent organization (parentOrganizationRequest). */
  CONTACT_SALES = 'CONTACT_SALES',
  /** Ask the account manager to merge this organization into an existing (Enterprise) parent. */
  MERGE_PROPOSAL = 'MERGE_PROPOSAL',
  /** The page exists but needs an admin (owner on Enterprise): ask one. */
  ASK_AN_ADMIN = 'ASK_AN_ADMIN',
}

export interface IdentitySettingsAvailability {
  available: boolean;
  reason: 'NO_PARENT_ORGANIZATION' | 'FORBIDDEN' | null;
  routes: IdentitySettingsRoute[];
  parent: ParentOrganization | null;
  pendingRequest: ParentOrganizationRequest | null;
}

export class ParentOrganizationService {
  constructor(
    private readonly clock: Clock,
    private readonly outbox: MailOutbox,
    private readonly audit: AuditService,
    private readonly access: OrganizationAccess,
  ) {}

  /** Whether the caller can open the identity settings of the organization, and if not, what opens them. */
  async identitySettings(scope: Scope, organizationId: string): Promise<IdentitySettingsAvailability> {
    const { organization, membership, viewer } = await this.access.requireMember(scope, organizationId);
    const parent = organization.parent
      ? await scope.em.findOneOrFail(ParentOrganization, organization.parent.id)
      : null;
    if (!isIdentityAdminRole(organization.kind, membership.role)) {
      return {
        available: false,
        reason: 'FORBIDDEN',
        routes: [IdentitySettingsRoute.ASK_AN_ADMIN],
        parent,
        pendingRequest: null,
      };
    }
    if (parent) return { available: true, reason: null, routes: [], parent, pendingRequest: null };
    const pendingRequest = await scope.em.findOne(ParentOrganizationRequest, {
      organization,
      status: ParentOrganizationRequestStatus.PENDING,
    });
    // A caller who is also in an Enterprise organization most likely wants the merge route.
    const enterprise = await scope.em.count(Membership, {
      user: viewer.userId,
      removedAt: null,
      organization: { kind: OrganizationKind.ENTERPRISE },
    });
    const routes = [IdentitySettingsRoute.CONTACT_SALES];
    if (enterprise > 0) routes.unshift(IdentitySettingsRoute.MERGE_PROPOSAL);
    return { available: false, reason: 'NO_PARENT_ORGANIZATION', routes, parent: null, pendingRequest };
  }

  /** A parent the caller reaches through one of its organizations. */
  async get(scope: Scope, parentId: string): Promise<ParentOrganization> {
    const viewer = this.access.requireViewer(scope);
    if (!isUuid(parentId)) throw notFound('Parent organization');
    const reachable = await scope.em.count(Membership, {
      user: viewer.userId,
      removedAt: null,
      organization: { parent: parentId },
    });
    if (reachable === 0) throw notFound('Parent organization');
    return scope.em.findOneOrFail(ParentOrganization, parentId);
  }

  /**
   * The parent's organizations the caller may see: all of them for its identity administrators (they
   * map groups to each), otherwise those the caller belongs to.
   */
  async organizations(scope: Scope, parentId: string, page: PageRequest) {
    const viewer = this.access.requireViewer(scope);
    await this.get(scope, parentId);
    const own = await scope.em.find(
      Membership,
      { user: viewer.userId, removedAt: null, organization: { parent: parentId } },
      { populate: ['organization'] },
    );
    const seesAll = own.some((m) => isIdentityAdminRole(m.organization.kind, m.role));
    const where = seesAll
      ? { parent: parentId }
      : { parent: parentId, id: { $in: own.map((m) => m.organization.id) } };
    return paginate(scope.em, Organization, where, page);
  }

  /** "Contact Sales": an admin of an API_CONSOLE organization without a parent asks for one. */
  async request(
    scope: Scope,
    organizationId: string,
    message: string | null,
  ): Promise<ParentOrganizationRequest> {
    const request = await scope.em.transactional(async (em) => {
      const { organization, viewer } = await this.access.requireAdmin(scope, organizationId, {
        em,
        lock: true,
      });
      if (organization.parent) {
        throw new DomainError(
          ParentOrganizationErrorCode.ALREADY_HAS_PARENT,
          'This organization already has a parent organization.',
        );
      }
      // Loaded, not a reference: the answer shows who asked.
      const requester = await em.findOneOrFail(User, viewer.userId);
      const request = new ParentOrganizationRequest(organization, requester, this.clock.now());
      request.message = message?.trim() || null;
      em.persist(request);
      this.audit.record(em, scope, {
        action: 'parent_request.created',
        targetType: 'ParentOrganizationRequest',
        targetId: request.id,
        organizationId: organization.id,
        after: { message: request.message },
      });
      this.outbox.enqueue(em, viewer.email, mailTemplates.parentRequestReceived(organization.name));
      const sales = await em.find(User, { staffRole: StaffRole.SALES });
      for (const staff of sales) {
        this.outbox.enqueue(
          em,
          staff.email,
          mailTemplates.parentRequestForSales(organization.name, viewer.email, request.message),
        );
      }
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) {
          throw new DomainError(
            ParentOrganizationErrorCode.REQUEST_PENDING,
            'A request for this organization is already open.',
          );
        }
        throw error;
      }
      return request;
    });
    await this.outbox.wake();
    return request;
  }

  async listRequests(scope: Scope, status: ParentOrganizationRequestStatus | null, page: PageRequest) {
    this.access.requireStaff(scope, StaffRole.SALES);
    return paginate(scope.em, ParentOrganizationRequest, status ? { status } : {}, page, {
      populate: ['organization', 'requestedBy'],
    });
  }

  /** Approval creates the parent, links the organization to it, and opens its identity settings. */
  async approve(scope: Scope, requestId: string, note: string | null): Promise<ParentOrganizationRequest> {
    return this.decide(scope, requestId, ParentOrganizationRequestStatus.APPROVED, note);
  }

  async decline(scope: Scope, requestId: string, note: string | null): Promise<ParentOrganizationRequest> {
    return this.decide(scope, requestId, ParentOrganizationRequestStatus.DECLINED, note);
  }

  private async decide(
    scope: Scope,
    requestId: string,
    status: ParentOrganizationRequestStatus,
    note: string | null,
  ) {
    const staff = this.access.requireStaff(scope, StaffRole.SALES);
    if (!isUuid(requestId)) throw notFound('Request');
    const request = await scope.em.transactional(async (em) => {
      const request = await em.findOne(ParentOrganizationRequest, requestId, {
        populate: ['organization', 'requestedBy'],
        lockMode: LockMode.PESSIMISTIC_WRITE,
      });
      if (!request) throw notFound('Request');
      if (request.status !== ParentOrganizationRequestStatus.PENDING) {
        throw new DomainError(
          ParentOrganizationErrorCode.REQUEST_DECIDED,
          `This request was already ${request.status.toLowerCase()}.`,
        );
      }
      const now = this.clock.now();
      const organization = request.organization;
      request.status = status;
      request.decidedAt = now;
      request.decidedBy = em.getReference(User, staff.userId);
      request.decisionNote = note?.trim() || null;
      if (status === ParentOrganizationRequestStatus.APPROVED) {
        if (organization.parent) {
          throw new DomainError(
            ParentOrganizationErrorCode.ALREADY_HAS_PARENT,
            'The organization got a parent in the meantime.',
          );
        }
        const parent = new ParentOrganization(organization.name, now);
        em.persist(parent);
        organization.parent = parent;
        organization.updatedAt = now;
        request.parent = parent;
        this.audit.record(em, scope, {
          action: 'organization.parent_linked',
          targetType: 'Organization',
          targetId: organization.id,
          organizationId: organization.id,
          parentOrganizationId: parent.id,
          before: { parentOrganizationId: null },
          after: { parentOrganizationId: parent.id, via: 'parent_request', requestId: request.id },
          actorType: ActorType.STAFF,
        });
      }
      this.audit.record(em, scope, {
        action:
          status === ParentOrganizationRequestStatus.APPROVED
            ? 'parent_request.approved'
            : 'parent_request.declined',
        targetType: 'ParentOrganizationRequest',
        targetId: request.id,
        organizationId: organization.id,
        parentOrganizationId: request.parent?.id ?? null,
        before: { status: ParentOrganizationRequestStatus.PENDING },
        after: { status, note: request.decisionNote },
        actorType: ActorType.STAFF,
      });
      this.outbox.enqueue(
        em,
        request.requestedBy.email,
        mailTemplates.parentRequestDecided(organization.name, status, request.decisionNote),
      );
      return request;
    });
    await this.outbox.wake();
    return request;
  }
}
