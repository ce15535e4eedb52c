import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { ConnectionArgs, toConnection } from '../../graphql/connection.js';
import type { Context } from '../../graphql/context.js';
import { mutate } from '../../graphql/errors.js';
import { clearSessionCookie, setSessionCookie } from '../../http/session-cookie.js';
import {
  LoginCodeRequestInput,
  LoginCodeRequestPayload,
  LoginCodeVerifyInput,
  LogoutPayload,
  SessionConnection,
  SessionRevokePayload,
  SessionType,
  SignInPayload,
  UserType,
} from './session.types.js';
import type { IssuedSession } from './session.service.js';

/** The payload of every sign-in; also sets the HttpOnly session cookie for browsers. */
export function signInPayload(
  ctx: Context,
  outcome: { result: IssuedSession | null; userErrors: SignInPayload['userErrors'] },
): SignInPayload {
  const issued = outcome.result;
  if (issued && ctx.reply)
    setSessionCookie(ctx.reply, ctx.services.config.session, issued.token, issued.session.expiresAt);
  return {
    token: issued?.token ?? null,
    user: issued ? UserType.from(issued.user) : null,
    session: issued ? SessionType.from(issued.session, issued.session.id) : null,
    userErrors: outcome.userErrors,
  };
}

@Resolver()
export class SessionResolver {
  @Query(() => UserType, { nullable: true, description: 'The signed-in user, or null.' })
  async me(@Ctx() ctx: Context): Promise<UserType | null> {
    if (!ctx.scope.viewer) return null;
    return UserType.from(await ctx.services.sessions.me(ctx.scope));
  }

  @Query(() => SessionConnection, { description: "The caller's active sessions, newest first." })
  async sessions(@Args() page: ConnectionArgs, @Ctx() ctx: Context) {
    const result = await ctx.services.sessions.listSessions(ctx.scope, page);
    return toConnection(result, (s) => SessionType.from(s, ctx.scope.viewer?.sessionId));
  }

  @Mutation(() => LoginCodeRequestPayload, { description: 'Mails a one-time sign-in code to the address.' })
  async loginCodeRequest(
    @Arg('input') input: LoginCodeRequestInput,
    @Ctx() ctx: Context,
  ): Promise<LoginCodeRequestPayload> {
    const { userErrors } = await mutate(() => ctx.services.sessions.requestLoginCode(ctx.scope, input.email));
    return { sent: userErrors.length === 0, userErrors };
  }

  @Mutation(() => SignInPayload, {
    description: 'Signs in with the code from the mail; creates the account on first sign-in.',
  })
  async loginCodeVerify(
    @Arg('input') input: LoginCodeVerifyInput,
    @Ctx() ctx: Context,
  ): Promise<SignInPayload> {
    return signInPayload(
      ctx,
      await mutate(() => ctx.services.sessions.verifyLoginCode(ctx.scope, input.email, input.code)),
    );
  }

  @Mutation(() => LogoutPayload, { description: 'Ends the current session.' })
  async logout(@Ctx() ctx: Context): Promise<LogoutPayload> {
    await ctx.services.sessions.logout(ctx.scope);
    if (ctx.reply) clearSessionCookie(ctx.reply, ctx.services.config.session);
    return { revoked: true };
  }

  @Mutation(() => SessionRevokePayload, { description: "Ends one of the caller's own sessions." })
  async sessionRevoke(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<SessionRevokePayload> {
    const session = await ctx.services.sessions.revoke(ctx.scope, id);
    return { session: SessionType.from(session, ctx.scope.viewer?.sessionId) };
  }
}
