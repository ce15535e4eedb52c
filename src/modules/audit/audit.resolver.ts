import { Arg, Args, Ctx, ID, Query, Resolver } from 'type-graphql';
import { ConnectionArgs, toConnection } from '../../graphql/connection.js';
import type { Context } from '../../graphql/context.js';
import { AuditEventConnection, AuditEventType } from './audit.types.js';

@Resolver()
export class AuditResolver {
  @Query(() => AuditEventConnection, {
    description: "An organization's audit log, newest first; administrators only.",
  })
  async auditEvents(
    @Arg('organizationId', () => ID) organizationId: string,
    @Args() page: ConnectionArgs,
    @Ctx() ctx: Context,
  ) {
    const result = await ctx.services.audit.listForOrganization(ctx.scope, organizationId, page);
    return toConnection(result, AuditEventType.from);
  }
}
