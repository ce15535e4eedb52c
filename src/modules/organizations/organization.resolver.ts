import { Arg, Args, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import { ConnectionArgs, toConnection } from '../../graphql/connection.js';
import type { Context } from '../../graphql/context.js';
import { mutate } from '../../graphql/errors.js';
import { CREATOR_ROLE } from './roles.js';
import {
  OrganizationConnection,
  OrganizationCreateInput,
  OrganizationCreatePayload,
  OrganizationType,
} from './organization.types.js';

@Resolver()
export class OrganizationResolver {
  @Query(() => OrganizationType, { description: 'An organization the caller belongs to.' })
  async organization(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<OrganizationType> {
    const { organization, membership } = await ctx.services.organizations.get(ctx.scope, id);
    return OrganizationType.from(organization, membership.role);
  }

  @Query(() => OrganizationConnection, { description: 'The organizations the caller belongs to.' })
  async organizations(@Args() page: ConnectionArgs, @Ctx() ctx: Context) {
    const result = await ctx.services.organizations.listMine(ctx.scope, page);
    return toConnection(result, (m) => OrganizationType.from(m.organization, m.role));
  }

  @Mutation(() => OrganizationCreatePayload, {
    description: 'Creates an organization with the caller as its first administrator.',
  })
  async organizationCreate(
    @Arg('input') input: OrganizationCreateInput,
    @Ctx() ctx: Context,
  ): Promise<OrganizationCreatePayload> {
    const { result, userErrors } = await mutate(() => ctx.services.organizations.create(ctx.scope, input));
    return {
      organization: result ? OrganizationType.from(result, CREATOR_ROLE[result.kind]) : null,
      userErrors,
    };
  }
}
