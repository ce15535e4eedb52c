import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { ConnectionArgs, toConnection } from '../../graphql/connection.js';
import type { Context } from '../../graphql/context.js';
import { mutate } from '../../graphql/errors.js';
import { badInput } from '../../lib/errors.js';
import type { SsoConnection } from './sso-connection.entity.js';
import { ssoLoginUrl } from './sso-routing.js';
import {
  LoginStartType,
  SsoConnectionActivatePayload,
  SsoConnectionConnection,
  SsoConnectionCreateInput,
  SsoConnectionPayload,
  SsoConnectionTestPayload,
  SsoConnectionType,
  SsoConnectionUpdateInput,
  toSsoConnectionType,
} from './sso.types.js';

function toType(ctx: Context) {
  const service = ctx.services.ssoConnections;
  return (connection: SsoConnection): SsoConnectionType =>
    toSsoConnectionType(connection, {
      loginUrl: ssoLoginUrl(ctx.services.config.publicUrl, connection),
      spEntityId: service.spEntityId(connection),
      acsUrl: service.acsUrl(connection),
      redirectUri: service.oidcRedirectUri(connection),
      warning: service.certificateWarning(connection),
    });
}

@Resolver()
export class SsoResolver {
  @Query(() => LoginStartType, {
    description: 'Which route an address signs in by: SSO for captured domains with active SSO.',
  })
  async loginStart(@Arg('email') email: string, @Ctx() ctx: Context): Promise<LoginStartType> {
    const { result, userErrors } = await mutate(() => ctx.services.ssoLogin.loginStart(ctx.scope.em, email));
    if (!result) throw badInput(userErrors[0]?.message ?? 'Not a valid e-mail address.', 'email');
    return result;
  }

  @Query(() => SsoConnectionConnection, {
    description: "A parent's SSO connections; its identity admins only.",
  })
  async ssoConnections(
    @Arg('parentId', () => ID) parentId: string,
    @Args() page: ConnectionArgs,
    @Ctx() ctx: Context,
  ) {
    return toConnection(await ctx.services.ssoConnections.list(ctx.scope, parentId, page), toType(ctx));
  }

  @Query(() => SsoConnectionType)
  async ssoConnection(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<SsoConnectionType> {
    return toType(ctx)(await ctx.services.ssoConnections.get(ctx.scope, id));
  }

  @Mutation(() => SsoConnectionPayload, {
    description: '"Add SSO": a DRAFT connection; test it, then activate it.',
  })
  async ssoConnectionCreate(
    @Arg('parentId', () => ID) parentId: string,
    @Arg('input') input: SsoConnectionCreateInput,
    @Ctx() ctx: Context,
  ): Promise<SsoConnectionPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.ssoConnections.create(ctx.scope, parentId, input.protocol, input),
    );
    return { connection: result ? toType(ctx)(result) : null, userErrors };
  }

  @Mutation(() => SsoConnectionPayload, {
    description: 'Any change needs a new successful test before activation.',
  })
  async ssoConnectionUpdate(
    @Arg('id', () => ID) id: string,
    @Arg('input') input: SsoConnectionUpdateInput,
    @Ctx() ctx: Context,
  ): Promise<SsoConnectionPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.ssoConnections.update(ctx.scope, id, input),
    );
    return { connection: result ? toType(ctx)(result) : null, userErrors };
  }

  @Mutation(() => SsoConnectionPayload)
  async ssoConnectionDelete(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: Context,
  ): Promise<SsoConnectionPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.ssoConnections.delete(ctx.scope, id));
    return { connection: result ? toType(ctx)(result) : null, userErrors };
  }

  @Mutation(() => SsoConnectionPayload, {
    description: 'Re-reads the metadata URL; on failure the last good metadata stays.',
  })
  async ssoConnectionRefreshMetadata(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: Context,
  ): Promise<SsoConnectionPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.ssoConnections.refreshMetadata(ctx.scope, id),
    );
    return { connection: result ? toType(ctx)(result) : null, userErrors };
  }

  @Mutation(() => SsoConnectionTestPayload, {
    description: 'A test login for an admin; it changes no session.',
  })
  async ssoConnectionTest(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: Context,
  ): Promise<SsoConnectionTestPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.ssoConnections.testUrl(ctx.scope, id));
    return { testUrl: result, userErrors };
  }

  @Mutation(() => SsoConnectionActivatePayload, {
    description:
      "Turns SSO on for the parent's captured domains: ends all current sessions of its users, the caller's included.",
  })
  async ssoConnectionActivate(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: Context,
  ): Promise<SsoConnectionActivatePayload> {
    const { result, userErrors } = await mutate(() => ctx.services.ssoConnections.activate(ctx.scope, id));
    return {
      connection: result ? toType(ctx)(result.connection) : null,
      revokedSessions: result?.revokedSessions ?? 0,
      userErrors,
    };
  }

  @Mutation(() => SsoConnectionPayload, {
    description: 'Turns SSO off: e-mail codes and Google work again for captured domains.',
  })
  async ssoConnectionDeactivate(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: Context,
  ): Promise<SsoConnectionPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.ssoConnections.deactivate(ctx.scope, id));
    return { connection: result ? toType(ctx)(result) : null, userErrors };
  }
}
