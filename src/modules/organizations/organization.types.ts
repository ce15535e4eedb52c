import { Length, Matches, MaxLength } from 'class-validator';
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType } from '../../graphql/connection.js';
import { type UserErrorShape, userErrorType } from '../../graphql/errors.js';
import type { Organization } from './organization.entity.js';
import { OrganizationErrorCode } from './organization.errors.js';
import { MemberRole, OrganizationKind } from './roles.js';

/** What OrganizationType shows of an organization: an entity, or the plain values of a list query. */
export type OrganizationFields = Pick<
  Organization,
  'id' | 'name' | 'slug' | 'kind' | 'createdAt' | 'advancedGroupMappings' | 'jitEnabled' | 'jitDefaultRole'
> & { parent?: { id: string } | null };

registerEnumType(OrganizationKind, {
  name: 'OrganizationKind',
  description:
    'ENTERPRISE organizations are created with a parent organization; API_CONSOLE organizations are not.',
});
registerEnumType(MemberRole, {
  name: 'MemberRole',
  description:
    'API_CONSOLE: ADMIN, DEVELOPER, BILLING, USER. ENTERPRISE: PRIMARY_OWNER, OWNER, ADMIN, MEMBER.',
});

export const OrganizationUserError = userErrorType('Organization', OrganizationErrorCode);

@ObjectType('Organization')
export class OrganizationType {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field()
  slug!: string;

  @Field(() => OrganizationKind)
  kind!: OrganizationKind;

  @Field(() => MemberRole, { description: "The caller's role in this organization." })
  viewerRole!: MemberRole;

  @Field()
  createdAt!: Date;

  @Field({ description: 'Whether IdP groups decide access to this organization (Advanced Group Mappings).' })
  advancedGroupMappings!: boolean;

  @Field({
    description:
      "Whether first SSO sign-ins of the parent's users join this organization (when group mappings are off).",
  })
  jitEnabled!: boolean;

  @Field(() => MemberRole, { description: 'The role JIT provisioning gives.' })
  jitDefaultRole!: MemberRole;

  /** Resolved by OrganizationResolver.parentOrganization. */
  parentOrganizationId!: string | null;

  static from(organization: OrganizationFields, viewerRole: MemberRole): OrganizationType {
    return {
      id: organization.id,
      name: organization.name,
      slug: organization.slug,
      kind: organization.kind,
      viewerRole,
      createdAt: organization.createdAt,
      advancedGroupMappings: organization.advancedGroupMappings,
      jitEnabled: organization.jitEnabled,
      jitDefaultRole: organization.jitDefaultRole,
      parentOrganizationId: organization.parent?.id ?? null,
    };
  }
}

export const OrganizationConnection = connectionType('Organization', OrganizationType);

@InputType()
export class OrganizationCreateInput {
  @Field()
  @Length(1, 200)
  name!: string;

  @Field(() => OrganizationKind)
  kind!: OrganizationKind;

  @Field(() => String, { nullable: true, description: 'Made from the name when omitted.' })
  @MaxLength(48)
  @Matches(/^[A-Za-z0-9-]*$/, { message: 'slug may contain letters, digits and dashes only' })
  slug?: string | null;
}

@ObjectType()
export class OrganizationPayload {
  @Field(() => OrganizationType, { nullable: true })
  organization!: OrganizationType | null;

  @Field(() => [OrganizationUserError])
  userErrors!: UserErrorShape[];
}

@InputType()
export class OrganizationJitUpdateInput {
  @Field()
  enabled!: boolean;

  @Field(() => MemberRole, { nullable: true, description: 'Default: unchanged.' })
  defaultRole?: MemberRole | null;
}
