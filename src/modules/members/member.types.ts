import { Length, MaxLength } from 'class-validator';
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType } from '../../graphql/connection.js';
import { type UserErrorShape, userErrorType } from '../../graphql/errors.js';
import { MembershipChange, type MembershipChangedEvent } from '../../lib/events.js';
import { MemberRole } from '../organizations/roles.js';
import { SessionType, UserType } from '../sessions/session.types.js';
import type { Invitation } from './invitation.entity.js';
import { MemberErrorCode } from './member.errors.js';
import { type Membership, MembershipSource } from './membership.entity.js';

registerEnumType(MembershipSource, { name: 'MembershipSource', description: 'How the member got access.' });
registerEnumType(MembershipChange, { name: 'MembershipChange' });

export const MemberUserError = userErrorType('Member', MemberErrorCode);

@ObjectType('Member', { description: "A user's access to one organization." })
export class MemberType {
  @Field(() => ID)
  id!: string;

  @Field(() => UserType)
  user!: UserType;

  @Field(() => MemberRole)
  role!: MemberRole;

  @Field(() => MembershipSource)
  source!: MembershipSource;

  @Field()
  createdAt!: Date;

  static from(membership: Membership): MemberType {
    return {
      id: membership.id,
      user: UserType.from(membership.user),
      role: membership.role,
      source: membership.source,
      createdAt: membership.createdAt,
    };
  }
}

export const MemberConnection = connectionType('Member', MemberType);

@ObjectType('Invitation')
export class InvitationType {
  @Field(() => ID)
  id!: string;

  @Field()
  email!: string;

  @Field(() => MemberRole)
  role!: MemberRole;

  @Field()
  expiresAt!: Date;

  static from(invitation: Invitation): InvitationType {
    return {
      id: invitation.id,
      email: invitation.email,
      role: invitation.role,
      expiresAt: invitation.expiresAt,
    };
  }
}

@InputType()
export class MemberInviteInput {
  @Field()
  @MaxLength(320)
  email!: string;

  @Field(() => MemberRole)
  role!: MemberRole;
}

@ObjectType()
export class MemberInvitePayload {
  @Field(() => InvitationType, { nullable: true })
  invitation!: InvitationType | null;

  @Field(() => [MemberUserError])
  userErrors!: UserErrorShape[];
}

@ObjectType()
export class MemberPayload {
  @Field(() => MemberType, { nullable: true })
  member!: MemberType | null;

  @Field(() => [MemberUserError])
  userErrors!: UserErrorShape[];
}

@InputType()
export class InvitationAcceptInput {
  @Field({ description: 'The token from the invitation link.' })
  @Length(1, 200)
  token!: string;
}

@ObjectType({ description: 'Accepting an invitation signs the invited address in and adds the membership.' })
export class InvitationAcceptPayload {
  @Field(() => String, { nullable: true })
  token!: string | null;

  @Field(() => SessionType, { nullable: true })
  session!: SessionType | null;

  @Field(() => MemberType, { nullable: true })
  member!: MemberType | null;

  @Field(() => ID, { nullable: true })
  organizationId!: string | null;

  @Field(() => [MemberUserError])
  userErrors!: UserErrorShape[];
}

@ObjectType('MembershipChangedEvent')
export class MembershipChangedEventType {
  @Field(() => ID)
  organizationId!: string;

  @Field(() => ID)
  memberId!: string;

  @Field(() => ID)
  userId!: string;

  @Field()
  email!: string;

  @Field(() => MembershipChange)
  change!: MembershipChange;

  @Field(() => MemberRole)
  role!: MemberRole;

  @Field()
  occurredAt!: Date;

  static from(event: MembershipChangedEvent): MembershipChangedEventType {
    return {
      organizationId: event.organizationId,
      memberId: event.membershipId,
      userId: event.userId,
      email: event.email,
      change: event.change,
      role: event.role,
      occurredAt: event.occurredAt,
    };
  }
}
