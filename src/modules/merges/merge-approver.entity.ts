import { Entity, Enum, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { User } from '../sessions/user.entity.js';
import { MergeProposal, MergeSide } from './merge-proposal.entity.js';

/** One e-mailed approval link: a single-use token bound to one approver of one side. */
@Entity({ tableName: 'merge_approvers' })
@Unique({ properties: ['proposal', 'user', 'side'] })
export class MergeApprover {
  [OptionalProps]?: 'usedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => MergeProposal, { deleteRule: 'cascade' })
  proposal: MergeProposal;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user: User;

  @Enum({ items: () => MergeSide })
  side: MergeSide;

  /** SHA-256 of the link token. */
  @Property({ length: 64, unique: true })
  tokenHash: string;

  @Property({ type: 'timestamptz', nullable: true })
  usedAt?: Date | null;

  constructor(proposal: MergeProposal, user: User, side: MergeSide, tokenHash: string) {
    this.proposal = proposal;
    this.user = user;
    this.side = side;
    this.tokenHash = tokenHash;
  }
}
