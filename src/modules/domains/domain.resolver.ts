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
import type { DomainStatusChangedEvent } from '../../lib/events.js';
import type { Domain } from './domain.entity.js';
import {
  DomainAddInput,
  DomainConnection,
  DomainPayload,
  DomainStatusChangedEventType,
  DomainType,
} from './domain.types.js';

function toType(ctx: Context) {
  return (domain: Domain) =>
    DomainType.from(
      domain,
      ctx.services.domains.instructions(domain),
      ctx.services.domains.claimExpiresAt(domain),
    );
}

@Resolver()
export class DomainResolver {
  @Query(() => DomainConnection, { description: "A parent's domains; its identity admins only." })
  async domains(
    @Arg('parentId', () => ID) parentId: string,
    @Args() page: ConnectionArgs,
    @Ctx() ctx: Context,
  ) {
    return toConnection(await ctx.services.domains.list(ctx.scope, parentId, page), toType(ctx));
  }

  @Query(() => DomainType)
  async domain(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<DomainType> {
    return toType(ctx)(await ctx.services.domains.get(ctx.scope, id));
  }

  @Mutation(() => DomainPayload, {
    description: '"Add Domain": claims it and returns the TXT record to publish. Status PENDING.',
  })
  async domainAdd(
    @Arg('parentId', () => ID) parentId: string,
    @Arg('input') input: DomainAddInput,
    @Ctx() ctx: Context,
  ): Promise<DomainPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.domains.add(ctx.scope, parentId, input.name),
    );
    return { domain: result ? toType(ctx)(result) : null, userErrors };
  }

  @Mutation(() => DomainPayload, { description: 'Checks the TXT record now (the button next to "Pending").' })
  async domainRefresh(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<DomainPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.domains.refresh(ctx.scope, id));
    return { domain: result ? toType(ctx)(result) : null, userErrors };
  }

  @Mutation(() => DomainPayload, {
    description: 'A new token and a new 7-day window for a FAILED, UNVERIFIED or BLOCKED claim.',
  })
  async domainRestart(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<DomainPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.domains.restart(ctx.scope, id));
    return { domain: result ? toType(ctx)(result) : null, userErrors };
  }

  @Mutation(() => DomainPayload, {
    description: 'Removes the claim; a verified domain stops being captured.',
  })
  async domainRemove(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<DomainPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.domains.remove(ctx.scope, id));
    return { domain: result ? toType(ctx)(result) : null, userErrors };
  }

  @Subscription(() => DomainStatusChangedEventType, {
    description:
      "Status changes of a parent's domains (the live Pending to Verified badge); identity admins only.",
    subscribe: ({
      args,
      context,
    }: SubscribeResolverData<DomainStatusChangedEvent, { parentId: string }, Context>) =>
      guardedStream(
        context.scope,
        `parentAdmin:${args.parentId}`,
        (scope) => context.services.access.checkParentAdmin(scope, args.parentId),
        () => context.services.events.subscribe('DOMAIN_STATUS_CHANGED', args.parentId),
      ),
  })
  domainStatusChanged(
    @Arg('parentId', () => ID) _parentId: string,
    @Root() event: DomainStatusChangedEvent,
  ): DomainStatusChangedEventType {
    return DomainStatusChangedEventType.from(event);
  }
}
