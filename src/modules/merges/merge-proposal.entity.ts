import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { Organization } from '../organizations/organization.entity.js';
import { ParentOrganization } from '../organizations/parent-organization.entity.js';
import { User } from '../sessions/user.entity.js';

export enum MergeProposalStatus {
  PENDING = 'PENDING',
  COMPLETED = 'COMPLETED',
  REJECTED = 'REJECTED',
  EXPIRED = 'EXPIRED',
}

export enum MergeSide {
  /** The organization that joins the target parent; its admins approve. */
  INCOMING = 'INCOMING',
  /** The target parent; owners and primary owners of its ENTERPRISE organizations approve. */
  TARGET = 'TARGET',
}

/** A staff-proposed link of an organization to a parent, completed by one approval from each side. */
@Entity({ tableName: 'merge_proposals' })
@Index({ properties: ['status', 'id'] })
@Unique({
  name: 'merge_proposals_one_pending',
  expression: `create unique index "merge_proposals_one_pending" on "merge_proposals" ("incoming_organization_id") where "status" = 'PENDING'`,
})
export class MergeProposal {
  [OptionalProps]?:
    | 'status'
    | 'incomingApprovedBy'
    | 'incomingApprovedAt'
    | 'targetApprovedBy'
    | 'targetApprovedAt'
    | 'decidedAt'
    | 'decidedBy'
    | 'incomingParentAtProposal';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Organization, { deleteRule: 'cascade' })
  incomingOrganization: Organization;

  @ManyToOne(() => ParentOrganization, { deleteRule: 'cascade' })
  targetParent: ParentOrganization;

  /** The incoming organization's parent when proposed: if it changes, the proposal cannot complete. */
  @Property({ type: 'uuid', nullable: true })
  incomingParentAtProposal?: string | null;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  proposedBy: User;

  @Enum({ items: () => MergeProposalStatus })
  status: MergeProposalStatus = MergeProposalStatus.PENDING;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  expiresAt: Date;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  incomingApprovedBy?: User | null;

  @Property({ type: 'timestamptz', nullable: true })
  incomingApprovedAt?: Date | null;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  targetApprovedBy?: User | null;

  @Property({ type: 'timestamptz', nullable: true })
  targetApprovedAt?: Date | null;

  /** When it completed, was rejected or expired. */
  @Property({ type: 'timestamptz', nullable: true })
  decidedAt?: Date | null;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  decidedBy?: User | null;

  constructor(
    incoming: Organization,
    target: ParentOrganization,
    proposedBy: User,
    now: Date,
    expiresAt: Date,
  ) {
    this.incomingOrganization = incoming;
    this.targetParent = target;
    this.incomingParentAtProposal = incoming.parent?.id ?? null;
    this.proposedBy = proposedBy;
    this.createdAt = now;
    this.expiresAt = expiresAt;
  }

  approvalOf(side: MergeSide): Date | null | undefined {
    return side === MergeSide.INCOMING ? this.incomingApprovedAt : this.targetApprovedAt;
  }
}
