import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ConnectionArgs, toConnection } from '../../graphql/connection.js';
import type { Context } from '../../graphql/context.js';
import { mutate } from '../../graphql/errors.js';
import { OrganizationSummaryType, ParentOrganizationType } from './parent-organization.types.js';
import { CREATOR_ROLE } from './roles.js';
import {
  OrganizationConnection,
  OrganizationCreateInput,
  OrganizationJitUpdateInput,
  OrganizationPayload,
  OrganizationType,
} from './organization.types.js';

@Resolver(() => OrganizationType)
export class OrganizationResolver {
  @FieldResolver(() => ParentOrganizationType, {
    nullable: true,
    description:
      'The parent holding the identity settings; null for an API_CONSOLE organization without one.',
  })
  async parentOrganization(
    @Root() organization: OrganizationType,
    @Ctx() ctx: Context,
  ): Promise<ParentOrganizationType | null> {
    if (!organization.parentOrganizationId) return null;
    return ParentOrganizationType.from(
      await ctx.services.parents.get(ctx.scope, organization.parentOrganizationId),
    );
  }

  @Query(() => OrganizationSummaryType, {
    description: 'Looks an organization up by slug; staff only (account managers and sales need its id).',
  })
  async staffOrganizationLookup(
    @Arg('slug') slug: string,
    @Ctx() ctx: Context,
  ): Promise<OrganizationSummaryType> {
    return OrganizationSummaryType.from(await ctx.services.organizations.findForStaff(ctx.scope, slug));
  }

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

  @Mutation(() => OrganizationPayload, {
    description: 'Creates an organization with the caller as its first administrator.',
  })
  async organizationCreate(
    @Arg('input') input: OrganizationCreateInput,
    @Ctx() ctx: Context,
  ): Promise<OrganizationPayload> {
    const { result, userErrors } = await mutate(() => ctx.services.organizations.create(ctx.scope, input));
    return {
      organization: result ? OrganizationType.from(result, CREATOR_ROLE[result.kind]) : null,
      userErrors,
    };
  }

  @Mutation(() => OrganizationPayload, {
    description: 'JIT provisioning of this organization; its identity admins only.',
  })
  async organizationJitUpdate(
    @Arg('id', () => ID) id: string,
    @Arg('input') input: OrganizationJitUpdateInput,
    @Ctx() ctx: Context,
  ): Promise<OrganizationPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.organizations.updateJit(ctx.scope, id, input.enabled, input.defaultRole ?? null),
    );
    return {
      organization: result ? OrganizationType.from(result.organization, result.viewerRole) : null,
      userErrors,
    };
  }
}
