import { MaxLength } from 'class-validator';
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType } from '../../graphql/connection.js';
import { type UserErrorShape, userErrorType } from '../../graphql/errors.js';
import { UserType } from '../sessions/session.types.js';
import { ParentOrganizationErrorCode } from './parent-organization.errors.js';
import type { ParentOrganization } from './parent-organization.entity.js';
import {
  type ParentOrganizationRequest,
  ParentOrganizationRequestStatus,
} from './parent-organization-request.entity.js';
import { IdentitySettingsRoute } from './parent-organization.service.js';
import { OrganizationKind } from './roles.js';

registerEnumType(ParentOrganizationRequestStatus, { name: 'ParentOrganizationRequestStatus' });
registerEnumType(IdentitySettingsRoute, {
  name: 'IdentitySettingsRoute',
  description: 'What opens the identity settings page when it is not available.',
});

export enum IdentitySettingsUnavailableReason {
  NO_PARENT_ORGANIZATION = 'NO_PARENT_ORGANIZATION',
  FORBIDDEN = 'FORBIDDEN',
}
registerEnumType(IdentitySettingsUnavailableReason, { name: 'IdentitySettingsUnavailableReason' });

export const ParentOrganizationUserError = userErrorType('ParentOrganization', ParentOrganizationErrorCode);

@ObjectType('ParentOrganization', {
  description:
    'Holds the identity settings (domains, SSO, SCIM, group mappings) shared by its organizations.',
})
export class ParentOrganizationType {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field()
  createdAt!: Date;

  static from(parent: ParentOrganization): ParentOrganizationType {
    return { id: parent.id, name: parent.name, createdAt: parent.createdAt };
  }
}

@ObjectType('OrganizationSummary', { description: 'An organization as seen from its parent or by staff.' })
export class OrganizationSummaryType {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field()
  slug!: string;

  @Field(() => OrganizationKind)
  kind!: OrganizationKind;

  @Field(() => ID, { nullable: true })
  parentOrganizationId!: string | null;

  static from(organization: {
    id: string;
    name: string;
    slug: string;
    kind: OrganizationKind;
    parent?: { id: string } | null;
  }): OrganizationSummaryType {
    return {
      id: organization.id,
      name: organization.name,
      slug: organization.slug,
      kind: organization.kind,
      parentOrganizationId: organization.parent?.id ?? null,
    };
  }
}

export const OrganizationSummaryConnection = connectionType('OrganizationSummary', OrganizationSummaryType);

@ObjectType('ParentOrganizationRequest', {
  description: 'A "contact sales" request for a parent organization.',
})
export class ParentOrganizationRequestType {
  @Field(() => ID)
  id!: string;

  @Field(() => ParentOrganizationRequestStatus)
  status!: ParentOrganizationRequestStatus;

  @Field(() => OrganizationSummaryType)
  organization!: OrganizationSummaryType;

  @Field(() => UserType)
  requestedBy!: UserType;

  @Field(() => String, { nullable: true })
  message!: string | null;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  decidedAt!: Date | null;

  @Field(() => String, { nullable: true })
  decisionNote!: string | null;

  @Field(() => ID, { nullable: true, description: 'The parent created on approval.' })
  parentOrganizationId!: string | null;

  static from(request: ParentOrganizationRequest): ParentOrganizationRequestType {
    return {
      id: request.id,
      status: request.status,
      organization: OrganizationSummaryType.from(request.organization),
      requestedBy: UserType.from(request.requestedBy),
      message: request.message ?? null,
      createdAt: request.createdAt,
      decidedAt: request.decidedAt ?? null,
      decisionNote: request.decisionNote ?? null,
      parentOrganizationId: request.parent?.id ?? null,
    };
  }
}

export const ParentOrganizationRequestConnection = connectionType(
  'ParentOrganizationRequest',
  ParentOrganizationRequestType,
);

@ObjectType('IdentitySettings', {
  description:
    "Whether the caller can open the organization's identity settings page, and if not, why and what opens it.",
})
export class IdentitySettingsType {
  @Field()
  available!: boolean;

  @Field(() => IdentitySettingsUnavailableReason, { nullable: true })
  reason!: IdentitySettingsUnavailableReason | null;

  @Field(() => [IdentitySettingsRoute])
  routes!: IdentitySettingsRoute[];

  @Field(() => ParentOrganizationType, { nullable: true })
  parentOrganization!: ParentOrganizationType | null;

  @Field(() => ParentOrganizationRequestStatus, {
    nullable: true,
    description: 'Status of an open "contact sales" request.',
  })
  pendingRequestStatus!: ParentOrganizationRequestStatus | null;
}

@InputType()
export class ParentOrganizationRequestInput {
  @Field(() => String, { nullable: true, description: 'A note for the Sales team.' })
  @MaxLength(2000)
  message?: string | null;
}

@InputType()
export class ParentOrganizationRequestDecisionInput {
  @Field(() => String, { nullable: true })
  @MaxLength(2000)
  note?: string | null;
}

@ObjectType()
export class ParentOrganizationRequestPayload {
  @Field(() => ParentOrganizationRequestType, { nullable: true })
  request!: ParentOrganizationRequestType | null;

  @Field(() => [ParentOrganizationUserError])
  userErrors!: UserErrorShape[];
}
