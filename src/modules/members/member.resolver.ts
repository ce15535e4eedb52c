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
import { setSessionCookie } from '../../http/session-cookie.js';
import type { MembershipChangedEvent } from '../../lib/events.js';
import { MemberRole } from '../organizations/roles.js';
import { SessionType } from '../sessions/session.types.js';
import {
  InvitationAcceptInput,
  InvitationAcceptPayload,
  InvitationType,
  MemberConnection,
  MemberInviteInput,
  MemberInvitePayload,
  MemberPayload,
  MembershipChangedEventType,
  MemberType,
} from './member.types.js';

@Resolver()
export class MemberResolver {
  @Query(() => MemberConnection, { description: 'Current members of an organization the caller belongs to.' })
  async members(
    @Arg('organizationId', () => ID) organizationId: string,
    @Args() page: ConnectionArgs,
    @Ctx() ctx: Context,
  ) {
    const result = await ctx.services.members.list(ctx.scope, organizationId, page);
    return toConnection(result, MemberType.from);
  }

  @Mutation(() => MemberInvitePayload, { description: 'Mails an invitation link; administrators only.' })
  async memberInvite(
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('input') input: MemberInviteInput,
    @Ctx() ctx: Context,
  ): Promise<MemberInvitePayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.members.invite(ctx.scope, organizationId, input),
    );
    return { invitation: result ? InvitationType.from(result) : null, userErrors };
  }

  @Mutation(() => InvitationAcceptPayload)
  async invitationAccept(
    @Arg('input') input: InvitationAcceptInput,
    @Ctx() ctx: Context,
  ): Promise<InvitationAcceptPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.members.acceptInvitation(ctx.scope, input.token),
    );
    if (result && ctx.reply)
      setSessionCookie(ctx.reply, ctx.services.config.session, result.token, result.session.expiresAt);
    return {
      token: result?.token ?? null,
      session: result ? SessionType.from(result.session, result.session.id) : null,
      member: result ? MemberType.from(result.membership) : null,
      organizationId: result?.membership.organization.id ?? null,
      userErrors,
    };
  }

  @Mutation(() => MemberPayload, { description: "Changes a member's role; administrators only." })
  async memberRoleUpdate(
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('userId', () => ID) userId: string,
    @Arg('role', () => MemberRole) role: MemberRole,
    @Ctx() ctx: Context,
  ): Promise<MemberPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.members.updateRole(ctx.scope, organizationId, userId, role),
    );
    return { member: result ? MemberType.from(result) : null, userErrors };
  }

  @Mutation(() => MemberPayload, {
    description: 'Removes a member; their next request to the organization is refused.',
  })
  async memberRemove(
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('userId', () => ID) userId: string,
    @Ctx() ctx: Context,
  ): Promise<MemberPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.members.remove(ctx.scope, organizationId, userId),
    );
    return { member: result ? MemberType.from(result) : null, userErrors };
  }

  @Subscription(() => MembershipChangedEventType, {
    description: 'Membership changes of an organization; administrators only, re-checked for every event.',
    subscribe: ({
      args,
      context,
    }: SubscribeResolverData<MembershipChangedEvent, { organizationId: string }, Context>) =>
      guardedStream(
        context.scope,
        `organizationAdmin:${args.organizationId}`,
        (scope) => context.services.access.requireAdmin(scope, args.organizationId),
        () => context.services.events.subscribe('MEMBERSHIP_CHANGED', args.organizationId),
      ),
  })
  membershipChanged(
    @Arg('organizationId', () => ID) _organizationId: string,
    @Root() event: MembershipChangedEvent,
  ): MembershipChangedEventType {
    return MembershipChangedEventType.from(event);
  }
}
