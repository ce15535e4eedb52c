import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ConnectionArgs, toConnection } from '../../graphql/connection.js';
import type { Context } from '../../graphql/context.js';
import { mutate } from '../../graphql/errors.js';
import { ParentOrganizationRequestStatus } from './parent-organization-request.entity.js';
import {
  IdentitySettingsType,
  IdentitySettingsUnavailableReason,
  OrganizationSummaryConnection,
  OrganizationSummaryType,
  ParentOrganizationRequestConnection,
  ParentOrganizationRequestDecisionInput,
  ParentOrganizationRequestInput,
  ParentOrganizationRequestPayload,
  ParentOrganizationRequestType,
  ParentOrganizationType,
} from './parent-organization.types.js';

@Resolver(() => ParentOrganizationType)
export class ParentOrganizationResolver {
  @Query(() => ParentOrganizationType, {
    description: 'A parent organization the caller reaches through one of its organizations.',
  })
  async parentOrganization(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: Context,
  ): Promise<ParentOrganizationType> {
    return ParentOrganizationType.from(await ctx.services.parents.get(ctx.scope, id));
  }

  @FieldResolver(() => OrganizationSummaryConnection, {
    description:
      "The parent's organizations: all for its identity admins, otherwise those the caller belongs to.",
  })
  async organizations(
    @Root() parent: ParentOrganizationType,
    @Args() page: ConnectionArgs,
    @Ctx() ctx: Context,
  ) {
    return toConnection(
      await ctx.services.parents.organizations(ctx.scope, parent.id, page),
      OrganizationSummaryType.from,
    );
  }

  @Query(() => IdentitySettingsType, {
    description: "Whether the organization's identity settings page is available to the caller.",
  })
  async identitySettings(
    @Arg('organizationId', () => ID) organizationId: string,
    @Ctx() ctx: Context,
  ): Promise<IdentitySettingsType> {
    const result = await ctx.services.parents.identitySettings(ctx.scope, organizationId);
    return {
      available: result.available,
      reason: result.reason ? IdentitySettingsUnavailableReason[result.reason] : null,
      routes: result.routes,
      parentOrganization: result.parent ? ParentOrganizationType.from(result.parent) : null,
      pendingRequestStatus: result.pendingRequest?.status ?? null,
    };
  }

  @Mutation(() => ParentOrganizationRequestPayload, {
    description: '"Contact Sales": an admin of an API_CONSOLE organization asks for a parent organization.',
  })
  async parentOrganizationRequest(
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('input', () => ParentOrganizationRequestInput, { nullable: true })
    input: ParentOrganizationRequestInput | null,
    @Ctx() ctx: Context,
  ): Promise<ParentOrganizationRequestPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.parents.request(ctx.scope, organizationId, input?.message ?? null),
    );
    return { request: result ? ParentOrganizationRequestType.from(result) : null, userErrors };
  }

  @Query(() => ParentOrganizationRequestConnection, {
    description: 'Parent organization requests; staff with role SALES only.',
  })
  async parentOrganizationRequests(
    @Arg('status', () => ParentOrganizationRequestStatus, { nullable: true })
    status: ParentOrganizationRequestStatus | null,
    @Args() page: ConnectionArgs,
    @Ctx() ctx: Context,
  ) {
    return toConnection(
      await ctx.services.parents.listRequests(ctx.scope, status, page),
      ParentOrganizationRequestType.from,
    );
  }

  @Mutation(() => ParentOrganizationRequestPayload, {
    description: 'Creates the parent and links the organization; SALES only.',
  })
  async parentOrganizationRequestApprove(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => ParentOrganizationRequestDecisionInput, { nullable: true })
    input: ParentOrganizationRequestDecisionInput | null,
    @Ctx() ctx: Context,
  ): Promise<ParentOrganizationRequestPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.parents.approve(ctx.scope, id, input?.note ?? null),
    );
    return { request: result ? ParentOrganizationRequestType.from(result) : null, userErrors };
  }

  @Mutation(() => ParentOrganizationRequestPayload, { description: 'Declines the request; SALES only.' })
  async parentOrganizationRequestDecline(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => ParentOrganizationRequestDecisionInput, { nullable: true })
    input: ParentOrganizationRequestDecisionInput | null,
    @Ctx() ctx: Context,
  ): Promise<ParentOrganizationRequestPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.parents.decline(ctx.scope, id, input?.note ?? null),
    );
    return { request: result ? ParentOrganizationRequestType.from(result) : null, userErrors };
  }
}
