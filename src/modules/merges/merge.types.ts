import { Length } from 'class-validator';
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType } from '../../graphql/connection.js';
import { type UserErrorShape, userErrorType } from '../../graphql/errors.js';
import type { MergeProposalUpdatedEvent } from '../../lib/events.js';
import {
  OrganizationSummaryType,
  ParentOrganizationType,
} from '../organizations/parent-organization.types.js';
import { MergeErrorCode } from './merge.errors.js';
import { type MergeProposal, MergeProposalStatus, MergeSide } from './merge-proposal.entity.js';
import type { MergeReview } from './merge.service.js';

registerEnumType(MergeProposalStatus, { name: 'MergeProposalStatus' });
registerEnumType(MergeSide, {
  name: 'MergeSide',
  description:
    "INCOMING: the organization's admins. TARGET: the owners of the parent's Enterprise organizations.",
});

export const MergeUserError = userErrorType('Merge', MergeErrorCode);

@ObjectType('MergeProposal', {
  description: 'A proposal to link an organization to a parent; one approval per side completes it.',
})
export class MergeProposalType {
  @Field(() => ID)
  id!: string;

  @Field(() => MergeProposalStatus)
  status!: MergeProposalStatus;

  @Field(() => OrganizationSummaryType)
  incomingOrganization!: OrganizationSummaryType;

  @Field(() => ParentOrganizationType)
  targetParent!: ParentOrganizationType;

  @Field()
  createdAt!: Date;

  @Field()
  expiresAt!: Date;

  @Field(() => Date, { nullable: true })
  incomingApprovedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  targetApprovedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it completed, was rejected or expired.' })
  decidedAt!: Date | null;

  static from(proposal: MergeProposal): MergeProposalType {
    return {
      id: proposal.id,
      status: proposal.status,
      incomingOrganization: OrganizationSummaryType.from(proposal.incomingOrganization),
      targetParent: ParentOrganizationType.from(proposal.targetParent),
      createdAt: proposal.createdAt,
      expiresAt: proposal.expiresAt,
      incomingApprovedAt: proposal.incomingApprovedAt ?? null,
      targetApprovedAt: proposal.targetApprovedAt ?? null,
      decidedAt: proposal.decidedAt ?? null,
    };
  }
}

export const MergeProposalConnection = connectionType('MergeProposal', MergeProposalType);

@ObjectType('MergeProposalReview', { description: 'What an e-mailed approval link shows.' })
export class MergeProposalReviewType {
  @Field(() => MergeProposalType)
  proposal!: MergeProposalType;

  @Field(() => MergeSide, { description: 'The side the link approves for.' })
  side!: MergeSide;

  @Field({ description: 'The approver the link was sent to; approving needs a session of this address.' })
  approverEmail!: string;

  static from(review: MergeReview): MergeProposalReviewType {
    return {
      proposal: MergeProposalType.from(review.proposal),
      side: review.side,
      approverEmail: review.approverEmail,
    };
  }
}

@ObjectType('MergeProposalUpdatedEvent')
export class MergeProposalUpdatedEventType {
  @Field(() => ID)
  proposalId!: string;

  @Field(() => MergeProposalStatus)
  status!: MergeProposalStatus;

  @Field(() => Date, { nullable: true })
  incomingApprovedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  targetApprovedAt!: Date | null;

  static from(event: MergeProposalUpdatedEvent): MergeProposalUpdatedEventType {
    return {
      proposalId: event.proposalId,
      status: event.status,
      incomingApprovedAt: event.incomingApprovedAt,
      targetApprovedAt: event.targetApprovedAt,
    };
  }
}

@InputType()
export class MergeProposalCreateInput {
  @Field(() => ID)
  incomingOrganizationId!: string;

  @Field(() => ID)
  targetParentId!: string;
}

@InputType()
export class MergeProposalDecisionInput {
  @Field({ description: 'The token of the e-mailed link.' })
  @Length(1, 200)
  token!: string;
}

@ObjectType()
export class MergeProposalPayload {
  @Field(() => MergeProposalType, { nullable: true })
  proposal!: MergeProposalType | null;

  @Field(() => [MergeUserError])
  userErrors!: UserErrorShape[];
}
