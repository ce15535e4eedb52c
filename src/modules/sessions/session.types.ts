import { Length, MaxLength } from 'class-validator';
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType } from '../../graphql/connection.js';
import { type UserErrorShape, userErrorType } from '../../graphql/errors.js';
import { SessionErrorCode } from './session.errors.js';
import { AuthMethod, type Session } from './session.entity.js';
import { StaffRole, type User } from './user.entity.js';

registerEnumType(StaffRole, { name: 'StaffRole', description: 'Role of an employee of the product vendor.' });
registerEnumType(AuthMethod, { name: 'AuthMethod' });

export const SessionUserError = userErrorType('Session', SessionErrorCode);

@ObjectType('User', { description: 'An account; one per canonical e-mail address.' })
export class UserType {
  @Field(() => ID)
  id!: string;

  @Field()
  email!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;

  @Field(() => StaffRole, { nullable: true })
  staffRole!: StaffRole | null;

  static from(user: User): UserType {
    return { id: user.id, email: user.email, name: user.name ?? null, staffRole: user.staffRole ?? null };
  }
}

@ObjectType('Session')
export class SessionType {
  @Field(() => ID)
  id!: string;

  @Field(() => AuthMethod)
  method!: AuthMethod;

  @Field()
  createdAt!: Date;

  @Field()
  expiresAt!: Date;

  @Field({ description: 'Whether this is the session making the request.' })
  current!: boolean;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  static from(session: Session, currentSessionId?: string): SessionType {
    return {
      id: session.id,
      method: session.method,
      createdAt: session.createdAt,
      expiresAt: session.expiresAt,
      current: session.id === currentSessionId,
      userAgent: session.userAgent ?? null,
    };
  }
}

export const SessionConnection = connectionType('Session', SessionType);

@InputType()
export class LoginCodeRequestInput {
  @Field()
  @MaxLength(320)
  email!: string;
}

@InputType()
export class LoginCodeVerifyInput {
  @Field()
  @MaxLength(320)
  email!: string;

  @Field()
  @Length(1, 12)
  code!: string;
}

@ObjectType()
export class LoginCodeRequestPayload {
  @Field({ description: 'True when a code was mailed (also when the address has no account yet).' })
  sent!: boolean;

  @Field(() => [SessionUserError])
  userErrors!: UserErrorShape[];
}

@ObjectType({
  description: 'A new session. The token is shown once; browsers also get it as an HttpOnly cookie.',
})
export class SignInPayload {
  @Field(() => String, { nullable: true })
  token!: string | null;

  @Field(() => UserType, { nullable: true })
  user!: UserType | null;

  @Field(() => SessionType, { nullable: true })
  session!: SessionType | null;

  @Field(() => [SessionUserError])
  userErrors!: UserErrorShape[];
}

@ObjectType()
export class LogoutPayload {
  @Field()
  revoked!: boolean;
}

@ObjectType()
export class SessionRevokePayload {
  @Field(() => SessionType)
  session!: SessionType;
}
