import { Field, ID, ObjectType } from 'type-graphql';
import { connectionType } from '../../graphql/connection.js';
import { MembershipSource } from '../members/membership.entity.js';
import { MemberRole, OrganizationKind } from '../organizations/roles.js';
import type { DomainMembershipRow } from './domain-membership.service.js';
// The enums are registered with the types of their own modules.
import '../members/member.types.js';
import '../organizations/organization.types.js';

@ObjectType('DomainMembership', {
  description:
    "An account whose e-mail is on one of the parent's verified domains, with one organization it belongs to anywhere on the platform (organization fields null when it belongs to none).",
})
export class DomainMembershipType {
  @Field({ description: 'E-mail address of the account.' })
  email!: string;

  @Field(() => ID, { description: 'Id of the account.' })
  userId!: string;

  @Field({
    description:
      'The verified domain the e-mail is on (itself or a subdomain); the longest when several match.',
  })
  domain!: string;

  @Field(() => ID, { nullable: true, description: 'The organization the account belongs to.' })
  organizationId!: string | null;

  @Field(() => String, { nullable: true, description: 'Name of the organization.' })
  organizationName!: string | null;

  @Field(() => String, { nullable: true, description: 'Slug of the organization.' })
  organizationSlug!: string | null;

  @Field(() => OrganizationKind, { nullable: true, description: 'Kind of the organization.' })
  organizationKind!: OrganizationKind | null;

  @Field({ description: 'Whether the organization is linked to this parent organization.' })
  inParent!: boolean;

  @Field(() => MemberRole, { nullable: true, description: "The account's role in the organization." })
  role!: MemberRole | null;

  @Field(() => MembershipSource, { nullable: true, description: 'How the membership came to be.' })
  source!: MembershipSource | null;

  @Field(() => Date, { nullable: true, description: 'When the membership was created.' })
  memberSince!: Date | null;

  static from(row: DomainMembershipRow): DomainMembershipType {
    return {
      email: row.email,
      userId: row.userId,
      domain: row.domain,
      organizationId: row.organizationId,
      organizationName: row.organizationName,
      organizationSlug: row.organizationSlug,
      organizationKind: row.organizationKind,
      inParent: row.inParent,
      role: row.role,
      source: row.source,
      memberSince: row.memberSince,
    };
  }
}

export const DomainMembershipConnection = connectionType('DomainMembership', DomainMembershipType);
