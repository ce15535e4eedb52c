import { ArrayMaxSize, MaxLength } from 'class-validator';
import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { type UserErrorShape, userErrorType } from '../../graphql/errors.js';
import { OrganizationSummaryType } from '../organizations/parent-organization.types.js';
import { MemberRole } from '../organizations/roles.js';
import { MappingErrorCode, type MappingPreview, type MemberImpact } from './group-mapping.service.js';

export const MappingUserError = userErrorType('Mapping', MappingErrorCode);

@ObjectType('GroupMappingName', { description: 'A group to create in the IdP: its members get this role.' })
export class GroupMappingNameType {
  @Field(() => MemberRole)
  role!: MemberRole;

  @Field()
  groupName!: string;
}

@ObjectType('GroupMappingImpact')
export class GroupMappingImpactType {
  @Field(() => ID)
  userId!: string;

  @Field()
  email!: string;

  @Field(() => MemberRole)
  currentRole!: MemberRole;

  @Field(() => MemberRole, { nullable: true, description: 'null: loses access.' })
  newRole!: MemberRole | null;

  @Field({
    description: 'False when no groups are known yet for this member (no SCIM, no SSO login with groups).',
  })
  groupsKnown!: boolean;

  static from(impact: MemberImpact): GroupMappingImpactType {
    return { ...impact };
  }
}

@ObjectType('GroupMappingPreview', {
  description: 'Who would lose access or change role if mappings were turned on now.',
})
export class GroupMappingPreviewType {
  @Field(() => [GroupMappingImpactType])
  loseAccess!: GroupMappingImpactType[];

  @Field(() => [GroupMappingImpactType])
  roleChanges!: GroupMappingImpactType[];

  @Field()
  actorLosesAdmin!: boolean;

  @Field()
  leavesNoAdmin!: boolean;

  static from(preview: MappingPreview): GroupMappingPreviewType {
    return {
      loseAccess: preview.loseAccess.map(GroupMappingImpactType.from),
      roleChanges: preview.roleChanges.map(GroupMappingImpactType.from),
      actorLosesAdmin: preview.actorLosesAdmin,
      leavesNoAdmin: preview.leavesNoAdmin,
    };
  }
}

@InputType()
export class AdvancedGroupMappingsInput {
  @Field()
  enabled!: boolean;

  @Field({ defaultValue: false, description: 'Turn mappings on even if that locks admins out.' })
  force!: boolean;
}

@ObjectType()
export class AdvancedGroupMappingsPayload {
  @Field(() => GroupMappingPreviewType, {
    nullable: true,
    description: 'The impact, as computed when the change was made.',
  })
  preview!: GroupMappingPreviewType | null;

  @Field(() => [MappingUserError])
  userErrors!: UserErrorShape[];
}

@ObjectType('GroupMappingDryRunResult')
export class GroupMappingDryRunType {
  @Field(() => OrganizationSummaryType)
  organization!: OrganizationSummaryType;

  @Field()
  mapped!: boolean;

  @Field(() => MemberRole, { nullable: true, description: 'The role the groups give; null: no access.' })
  role!: MemberRole | null;
}

@InputType()
export class GroupMappingDryRunInput {
  @Field(() => [String])
  @ArrayMaxSize(500)
  @MaxLength(256, { each: true })
  groups!: string[];
}
