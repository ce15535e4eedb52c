import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { Organization } from '../organizations/organization.entity.js';
import { MemberRole } from '../organizations/roles.js';
import { User } from '../sessions/user.entity.js';

@Entity({ tableName: 'invitations' })
@Index({ properties: ['organization', 'email'] })
export class Invitation {
  [OptionalProps]?: 'acceptedAt' | 'revokedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Organization, { deleteRule: 'cascade' })
  organization: Organization;

  @Property({ length: 254 })
  email: string;

  @Enum({ items: () => MemberRole })
  role: MemberRole;

  /** SHA-256 of the link token; single-use. */
  @Property({ length: 64, unique: true })
  tokenHash: string;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  invitedBy?: User | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  expiresAt: Date;

  @Property({ type: 'timestamptz', nullable: true })
  acceptedAt?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt?: Date | null;

  constructor(
    organization: Organization,
    email: string,
    role: MemberRole,
    tokenHash: string,
    invitedBy: User,
    now: Date,
    expiresAt: Date,
  ) {
    this.organization = organization;
    this.email = email;
    this.role = role;
    this.tokenHash = tokenHash;
    this.invitedBy = invitedBy;
    this.createdAt = now;
    this.expiresAt = expiresAt;
  }
}
