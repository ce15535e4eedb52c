// Staff accounts: grants an account manager or sales role to the account of an e-mail address, creating
// the account when there is none yet. Used by the admin CLI (`npm run admin -- create-staff`); the grant
// and its audit event commit together.
import type { Clock } from '../../lib/clock.js';
import { DomainError } from '../../lib/errors.js';
import { parseEmail } from '../../lib/names.js';
import type { Scope } from '../../lib/scope.js';
import { ActorType } from '../audit/audit-event.entity.js';
import type { AuditService } from '../audit/audit.service.js';
import { StaffRole, User } from './user.entity.js';

export enum StaffErrorCode {
  INVALID_EMAIL = 'INVALID_EMAIL',
  INVALID_ROLE = 'INVALID_ROLE',
}

export const STAFF_ROLES: readonly StaffRole[] = Object.values(StaffRole);

export interface StaffGrant {
  user: User;
  /** The account did not exist before this grant. */
  created: boolean;
  previousRole: StaffRole | null;
  /** False when the account already had this role: nothing was written, nothing audited. */
  changed: boolean;
}

/** Exactly one of the StaffRole names (case-sensitive, as the schema spells them), or INVALID_ROLE. */
export function parseStaffRole(raw: string): StaffRole {
  const role = STAFF_ROLES.find((r) => r === raw);
  if (!role) {
    throw new DomainError(
      StaffErrorCode.INVALID_ROLE,
      `Invalid staff role "${raw}": expected one of ${STAFF_ROLES.join(', ')}.`,
      ['role'],
    );
  }
  return role;
}

export class StaffService {
  constructor(
    private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {}

  /**
   * Finds or creates the account of `rawEmail` and sets its staff role, recording `staff.role_granted`
   * in the same transaction. Granting the role an account already has changes and records nothing.
   */
  async grantRole(
    scope: Pick<Scope, 'em' | 'viewer' | 'requestId'>,
    rawEmail: string,
    rawRole: string,
  ): Promise<StaffGrant> {
    const email = parseEmail(rawEmail);
    const role = parseStaffRole(rawRole);
    return scope.em.transactional(async (em) => {
      // Two grants for one new address would otherwise both try to insert it.
      await em.execute('select pg_advisory_xact_lock(hashtext(?))', [`staff-grant:${email}`]);
      const now = this.clock.now();
      let user = await em.findOne(User, { email });
      const created = !user;
      const previousRole = user?.staffRole ?? null;
      if (user && previousRole === role) return { user, created: false, previousRole, changed: false };
      if (!user) {
        user = new User(email, now);
        em.persist(user);
      }
      user.staffRole = role;
      user.updatedAt = now;
      this.audit.record(em, scope, {
        action: 'staff.role_granted',
        targetType: 'User',
        targetId: user.id,
        before: created ? null : { staffRole: previousRole },
        after: { email, staffRole: role },
        actorType: ActorType.SYSTEM,
      });
      return { user, created, previousRole, changed: true };
    });
  }
}
