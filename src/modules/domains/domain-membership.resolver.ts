import { Arg, Args, Ctx, ID, Query, Resolver } from 'type-graphql';
import { ConnectionArgs, toConnection } from '../../graphql/connection.js';
import type { Context } from '../../graphql/context.js';
import { DomainMembershipConnection, DomainMembershipType } from './domain-membership.types.js';

@Resolver()
export class DomainMembershipResolver {
  @Query(() => DomainMembershipConnection, {
    description:
      "Accounts on the parent's verified domains and every organization they belong to across the platform; identity admins of the parent only. Also downloadable as CSV or JSON at /parents/:id/domain-memberships.csv and .json.",
  })
  async domainMemberships(
    @Arg('parentId', () => ID, { description: 'The parent organization.' }) parentId: string,
    @Args() page: ConnectionArgs,
    @Ctx() ctx: Context,
  ) {
    const result = await ctx.services.domainMemberships.list(ctx.scope, parentId, page);
    return toConnection(result, DomainMembershipType.from);
  }
}
