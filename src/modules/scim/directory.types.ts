import { MaxLength } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType } from '../../graphql/connection.js';
import { type UserErrorShape, userErrorType } from '../../graphql/errors.js';
import type { DirectoryStatusChangedEvent } from '../../lib/events.js';
import { type Directory, DirectoryProvider } from './directory.entity.js';
import { DirectoryErrorCode } from './directory.errors.js';

registerEnumType(DirectoryProvider, { name: 'DirectoryProvider' });

export const DirectoryUserError = userErrorType('Directory', DirectoryErrorCode);

@ObjectType('DirectorySyncReport')
export class DirectorySyncReportType {
  @Field(() => Int)
  users!: number;

  @Field(() => Int)
  groups!: number;

  @Field(() => Int, { description: 'Users who got an account or memberships.' })
  provisioned!: number;

  @Field(() => Int, { description: 'Users whose directory memberships and sessions ended.' })
  deprovisioned!: number;

  @Field({ description: 'Whether the IdP accepted the request to push.' })
  pushRequested!: boolean;

  @Field(() => [String])
  errors!: string[];
}

@ObjectType('Directory', { description: 'A SCIM directory: the IdP provisions users and groups into it.' })
export class DirectoryType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  parentOrganizationId!: string;

  @Field()
  name!: string;

  @Field(() => DirectoryProvider)
  provider!: DirectoryProvider;

  @Field({ description: 'The SCIM base URL to configure in the IdP.' })
  scimBaseUrl!: string;

  @Field(() => String, { nullable: true })
  pushUrl!: string | null;

  @Field(() => Int)
  userCount!: number;

  @Field(() => Int)
  activeUserCount!: number;

  @Field(() => Int)
  groupCount!: number;

  @Field(() => Date, { nullable: true, description: 'When the IdP last called the SCIM API.' })
  lastRequestAt!: Date | null;

  @Field(() => Date, { nullable: true })
  lastSyncAt!: Date | null;

  @Field(() => DirectorySyncReportType, { nullable: true })
  lastSync!: DirectorySyncReportType | null;

  @Field()
  createdAt!: Date;

  static from(
    directory: Directory,
    baseUrl: string,
    counts: { users: number; activeUsers: number; groups: number },
  ): DirectoryType {
    return {
      id: directory.id,
      parentOrganizationId: directory.parent.id,
      name: directory.name,
      provider: directory.provider,
      scimBaseUrl: baseUrl,
      pushUrl: directory.pushUrl ?? null,
      userCount: counts.users,
      activeUserCount: counts.activeUsers,
      groupCount: counts.groups,
      lastRequestAt: directory.lastRequestAt ?? null,
      lastSyncAt: directory.lastSyncAt ?? null,
      lastSync: directory.lastSync ?? null,
      createdAt: directory.createdAt,
    };
  }
}

export const DirectoryConnection = connectionType('Directory', DirectoryType);

@InputType()
export class DirectoryCreateInput {
  @Field()
  @MaxLength(200)
  name!: string;

  @Field(() => DirectoryProvider, { nullable: true })
  provider?: DirectoryProvider | null;

  @Field(() => String, {
    nullable: true,
    description: 'Where "Sync now" asks the IdP to push, when the IdP offers one.',
  })
  @MaxLength(2048)
  pushUrl?: string | null;
}

@ObjectType()
export class DirectoryTokenPayload {
  @Field(() => DirectoryType, { nullable: true })
  directory!: DirectoryType | null;

  @Field(() => String, { nullable: true, description: 'The bearer token: shown only now.' })
  token!: string | null;

  @Field(() => [DirectoryUserError])
  userErrors!: UserErrorShape[];
}

@ObjectType()
export class DirectoryPayload {
  @Field(() => DirectoryType, { nullable: true })
  directory!: DirectoryType | null;

  @Field(() => [DirectoryUserError])
  userErrors!: UserErrorShape[];
}

@ObjectType('DirectoryStatusChangedEvent')
export class DirectoryStatusChangedEventType {
  @Field(() => ID)
  directoryId!: string;

  @Field(() => Date, { nullable: true })
  lastSyncAt!: Date | null;

  @Field(() => Int)
  users!: number;

  @Field(() => Int)
  groups!: number;

  @Field(() => [String])
  errors!: string[];

  static from(event: DirectoryStatusChangedEvent): DirectoryStatusChangedEventType {
    return {
      directoryId: event.directoryId,
      lastSyncAt: event.lastSyncAt,
      users: event.users,
      groups: event.groups,
      errors: event.errors,
    };
  }
}
