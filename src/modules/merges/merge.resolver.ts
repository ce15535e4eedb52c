import {
  Arg,
  Args,
  Ctx,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
  type SubscribeResolverData,
} from 'type-graphql';
import { ConnectionArgs, toConnection } from '../../graphql/connection.js';
import type { Context } from '../../graphql/context.js';
import { guardedStream } from '../../graphql/guarded-stream.js';
import { mutate } from '../../graphql/errors.js';
import type { MergeProposalUpdatedEvent } from '../../lib/events.js';
import { MergeProposalStatus } from './merge-proposal.entity.js';
import {
  MergeProposalConnection,
  MergeProposalCreateInput,
  MergeProposalDecisionInput,
  MergeProposalPayload,
  MergeProposalReviewType,
  MergeProposalType,
  MergeProposalUpdatedEventType,
} from './merge.types.js';

@Resolver()
export class MergeResolver {
  @Mutation(() => MergeProposalPayload, {
    description:
      'Proposes linking an organization to a parent and mails every approver; ACCOUNT_MANAGER staff only.',
  })
  async mergeProposalCreate(
    @Arg('input') input: MergeProposalCreateInput,
    @Ctx() ctx: Context,
  ): Promise<MergeProposalPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.merges.create(ctx.scope, input.incomingOrganizationId, input.targetParentId),
    );
    return { proposal: result ? MergeProposalType.from(result) : null, userErrors };
  }

  @Query(() => MergeProposalReviewType, {
    description: 'What an e-mailed approval link shows; reading it approves nothing.',
  })
  async mergeProposalReview(
    @Arg('token') token: string,
    @Ctx() ctx: Context,
  ): Promise<MergeProposalReviewType> {
    return MergeProposalReviewType.from(await ctx.services.merges.review(ctx.scope, token));
  }

  @Mutation(() => MergeProposalPayload, {
    description: "Approves for the link's side; the signed-in user must be that approver.",
  })
  async mergeProposalApprove(
    @Arg('input') input: MergeProposalDecisionInput,
    @Ctx() ctx: Context,
  ): Promise<MergeProposalPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.merges.approve(ctx.scope, input.token));
    return { proposal: result ? MergeProposalType.from(result) : null, userErrors };
  }

  @Mutation(() => MergeProposalPayload, {
    description: 'Rejects the proposal for good; any current approver of either side.',
  })
  async mergeProposalDecline(
    @Arg('input') input: MergeProposalDecisionInput,
    @Ctx() ctx: Context,
  ): Promise<MergeProposalPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.merges.decline(ctx.scope, input.token));
    return { proposal: result ? MergeProposalType.from(result) : null, userErrors };
  }

  @Query(() => MergeProposalType, { description: 'A proposal, for ACCOUNT_MANAGER staff and its approvers.' })
  async mergeProposal(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<MergeProposalType> {
    return MergeProposalType.from(await ctx.services.merges.get(ctx.scope, id));
  }

  @Query(() => MergeProposalConnection, { description: 'Merge proposals; ACCOUNT_MANAGER staff only.' })
  async mergeProposals(
    @Arg('status', () => MergeProposalStatus, { nullable: true }) status: MergeProposalStatus | null,
    @Args() page: ConnectionArgs,
    @Ctx() ctx: Context,
  ) {
    return toConnection(await ctx.services.merges.list(ctx.scope, status, page), MergeProposalType.from);
  }

  @Subscription(() => MergeProposalUpdatedEventType, {
    description: 'Approvals and the outcome of a proposal; for ACCOUNT_MANAGER staff and its approvers.',
    subscribe: ({
      args,
      context,
    }: SubscribeResolverData<MergeProposalUpdatedEvent, { id: string }, Context>) =>
      guardedStream(
        context.scope,
        `mergeProposal:${args.id}`,
        (scope) => context.services.merges.get(scope, args.id),
        () => context.services.events.subscribe('MERGE_PROPOSAL_UPDATED', args.id),
      ),
  })
  mergeProposalUpdated(
    @Arg('id', () => ID) _id: string,
    @Root() event: MergeProposalUpdatedEvent,
  ): MergeProposalUpdatedEventType {
    return MergeProposalUpdatedEventType.from(event);
  }
}
