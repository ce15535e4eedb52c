import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context.js';
import { mutate } from '../../graphql/errors.js';
import { OrganizationType } from '../organizations/organization.types.js';
import { OrganizationSummaryType } from '../organizations/parent-organization.types.js';
import {
  AdvancedGroupMappingsInput,
  AdvancedGroupMappingsPayload,
  GroupMappingDryRunInput,
  GroupMappingDryRunType,
  GroupMappingNameType,
  GroupMappingPreviewType,
} from './group-mapping.types.js';

@Resolver(() => OrganizationType)
export class GroupMappingResolver {
  @FieldResolver(() => [GroupMappingNameType], {
    description:
      'The IdP group names that grant each role when Advanced Group Mappings are on, ready to copy.',
  })
  groupMappingNames(@Root() organization: OrganizationType, @Ctx() ctx: Context): GroupMappingNameType[] {
    return ctx.services.mappings.names(organization);
  }

  @Query(() => GroupMappingPreviewType, {
    description: 'Who would lose access or change role if mappings were turned on now.',
  })
  async advancedGroupMappingsPreview(
    @Arg('organizationId', () => ID) organizationId: string,
    @Ctx() ctx: Context,
  ) {
    return GroupMappingPreviewType.from(await ctx.services.mappings.preview(ctx.scope, organizationId));
  }

  @Mutation(() => AdvancedGroupMappingsPayload, {
    description:
      "Turns mappings on (applied at once; refused if it locks admins out unless forced) or off; the organization's admins only.",
  })
  async advancedGroupMappingsUpdate(
    @Arg('organizationId', () => ID) organizationId: string,
    @Arg('input') input: AdvancedGroupMappingsInput,
    @Ctx() ctx: Context,
  ): Promise<AdvancedGroupMappingsPayload> {
    const { result, userErrors } = await mutate(() =>
      ctx.services.mappings.setEnabled(ctx.scope, organizationId, input.enabled, input.force),
    );
    return { preview: result ? GroupMappingPreviewType.from(result) : null, userErrors };
  }

  @Query(() => [GroupMappingDryRunType], {
    description: 'What organizations and roles these groups would give a user of the parent.',
  })
  async groupMappingsDryRun(
    @Arg('parentId', () => ID) parentId: string,
    @Arg('input') input: GroupMappingDryRunInput,
    @Ctx() ctx: Context,
  ): Promise<GroupMappingDryRunType[]> {
    const results = await ctx.services.mappings.dryRun(ctx.scope, parentId, input.groups);
    return results.map((r) => ({
      organization: OrganizationSummaryType.from(r.organization),
      mapped: r.organization.advancedGroupMappings,
      role: r.role,
    }));
  }
}
