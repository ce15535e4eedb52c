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
import { ConnectionArgs } from '../../graphql/connection.js';
import type { Context } from '../../graphql/context.js';
import { guardedStream } from '../../graphql/guarded-stream.js';
import { mutate } from '../../graphql/errors.js';
import type { DirectoryStatusChangedEvent } from '../../lib/events.js';
import type { Directory } from './directory.entity.js';
import {
  DirectoryConnection,
  DirectoryCreateInput,
  DirectoryPayload,
  DirectoryStatusChangedEventType,
  DirectoryTokenPayload,
  DirectoryType,
} from './directory.types.js';

async function toType(ctx: Context, directory: Directory): Promise<DirectoryType> {
  const service = ctx.services.directories;
  return DirectoryType.from(
    directory,
    service.baseUrl(directory),
    await service.counts(ctx.scope.em, directory),
  );
}

@Resolver()
export class DirectoryResolver {
  @Query(() => DirectoryConnection, { description: "A parent's SCIM directories; its identity admins only." })
  async directories(
    @Arg('parentId', () => ID) parentId: string,
    @Args() page: ConnectionArgs,
    @Ctx() ctx: Context,
  ) {
    const result = await ctx.services.directories.list(ctx.scope, parentId, page);
    const nodes = await Promise.all(result.items.map((d) => toType(ctx, d)));
    return {
      edges: result.items.map((d, i) => ({ cursor: result.cursorOf(d), node: nodes[i]! })),
      nodes,
      pageInfo: {
        hasNextPage: result.hasNextPage,
        hasPreviousPage: result.hasPreviousPage,
        startCursor: result.startCursor,
        endCursor: result.endCursor,
      },
    };
  }

  @Query(() => DirectoryType)
  async directory(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<DirectoryType> {
    return toType(ctx, await ctx.services.directories.get(ctx.scope, id));
  }

  @Mutation(() => DirectoryTokenPayload, {
    description: 'Creates a SCIM directory; its bearer token is shown once.',
  })
  async directoryCreate(
    @Arg('parentId', () => ID) parentId: string,
    @Arg('input') input: DirectoryCreateInput,
    @Ctx() ctx: Context,
  ): Promise<DirectoryTokenPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.directories.create(ctx.scope, parentId, input),
    );
    return {
      directory: result ? await toType(ctx, result.directory) : null,
      token: result?.token ?? null,
      userErrors,
    };
  }

  @Mutation(() => DirectoryTokenPayload, {
    description: 'A new token, shown once; the old one works for 10 more minutes.',
  })
  async directoryRotateToken(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: Context,
  ): Promise<DirectoryTokenPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.directories.rotateToken(ctx.scope, id));
    return {
      directory: result ? await toType(ctx, result.directory) : null,
      token: result?.token ?? null,
      userErrors,
    };
  }

  @Mutation(() => DirectoryPayload)
  async directoryDelete(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<DirectoryPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.directories.delete(ctx.scope, id));
    return {
      directory: result
        ? DirectoryType.from(result, ctx.services.directories.baseUrl(result), {
            users: 0,
            activeUsers: 0,
            groups: 0,
          })
        : null,
      userErrors,
    };
  }

  @Mutation(() => DirectoryPayload, {
    description: '"Sync now": asks the IdP to push, then reconciles accounts and memberships.',
  })
  async directorySync(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<DirectoryPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.directories.sync(ctx.scope, id));
    return { directory: result ? await toType(ctx, result) : null, userErrors };
  }

  @Subscription(() => DirectoryStatusChangedEventType, {
    description: "Sync results of a parent's directories; identity admins only.",
    subscribe: ({
      args,
      context,
    }: SubscribeResolverData<DirectoryStatusChangedEvent, { parentId: string }, Context>) =>
      guardedStream(
        context.scope,
        `parentAdmin:${args.parentId}`,
        (scope) => context.services.access.checkParentAdmin(scope, args.parentId),
        () => context.services.events.subscribe('DIRECTORY_STATUS_CHANGED', args.parentId),
      ),
  })
  directoryStatusChanged(
    @Arg('parentId', () => ID) _parentId: string,
    @Root() event: DirectoryStatusChangedEvent,
  ): DirectoryStatusChangedEventType {
    return DirectoryStatusChangedEventType.from(event);
  }
}
