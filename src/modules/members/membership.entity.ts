import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { Organization } from '../organizations/organization.entity.js';
import { MemberRole } from '../organizations/roles.js';
import { User } from '../sessions/user.entity.js';

export enum RemovalReason {
  CONSOLE = 'CONSOLE',
  DEPROVISIONED = 'DEPROVISIONED',
}

export enum MembershipSource {
  CREATOR = 'CREATOR',
  INVITE = 'INVITE',
  JIT = 'JIT',
  SCIM = 'SCIM',
  GROUP_MAPPING = 'GROUP_MAPPING',
}

/**
 * A user's access to one organization. Removal keeps the row with `removedAt` set, so the removed user is
 * told their access ended (FORBIDDEN) instead of being shown a not-found, and re-adding revives the row.
 */
@Entity({ tableName: 'memberships' })
@Unique({ properties: ['organization', 'user'] })
@Index({ properties: ['user', 'removedAt'] })
export class Membership {
  [OptionalProps]?: 'removedAt' | 'removalReason' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Organization, { deleteRule: 'cascade' })
  organization: Organization;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user: User;

  @Enum({ items: () => MemberRole })
  role: MemberRole;

  @Enum({ items: () => MembershipSource })
  source: MembershipSource;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  updatedAt: Date;

  @Property({ type: 'timestamptz', nullable: true })
  removedAt?: Date | null;

  /**
   * Why the membership ended: an admin's removal in the console sticks until the IdP re-adds the user,
   * while a deprovisioning by the directory is undone when the directory reactivates the user.
   */
  @Enum({ items: () => RemovalReason, nullable: true })
  removalReason?: RemovalReason | null;

  constructor(organization: Organization, user: User, role: MemberRole, source: MembershipSource, now: Date) {
    this.organization = organization;
    this.user = user;
    this.role = role;
    this.source = source;
    this.createdAt = now;
    this.updatedAt = now;
  }
}
