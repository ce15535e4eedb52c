import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { User } from '../sessions/user.entity.js';
import { Directory } from './directory.entity.js';

export interface ScimEmail {
  value: string;
  type?: string;
  primary?: boolean;
}

/**
 * The one canonical form of a userName, by which it is unique in its directory (RFC 7643: caseExact false)
 * and by which filters find it.
 */
export const userNameKey = (userName: string): string => userName.toLowerCase();

/** A SCIM User resource of one directory, and the account it provisions. */
@Entity({ tableName: 'directory_users' })
@Unique({ properties: ['directory', 'userNameKey'] })
@Index({ properties: ['directory', 'id'] })
// The unique index serves `userName eq` and ranges; prefix matches (`sw`) need an operator class that
// compares characters, not the database collation.
@Index({
  name: 'directory_users_directory_id_user_name_key_pattern_index',
  expression: `create index "directory_users_directory_id_user_name_key_pattern_index" on "directory_users" ("directory_id", "user_name_key" text_pattern_ops)`,
})
export class DirectoryUser {
  [OptionalProps]?:
    | 'externalId'
    | 'givenName'
    | 'familyName'
    | 'displayName'
    | 'user'
    | 'version'
    | 'active'
    | 'emails'
    | 'extra';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Directory, { deleteRule: 'cascade' })
  directory: Directory;

  @Property({ length: 500 })
  userName: string;

  /** userNameKey(userName): unique in the directory, and what userName filters compare. */
  @Property({ length: 500 })
  userNameKey: string;

  @Property({ length: 500, nullable: true })
  externalId?: string | null;

  @Property({ type: 'boolean', default: true })
  active = true;

  @Property({ length: 200, nullable: true })
  givenName?: string | null;

  @Property({ length: 200, nullable: true })
  familyName?: string | null;

  @Property({ length: 400, nullable: true })
  displayName?: string | null;

  @Property({ type: 'jsonb', default: '[]' })
  emails: ScimEmail[] = [];

  /** Attributes we keep for round-trips but do not interpret (locale, title, enterprise extension...). */
  @Property({ type: 'jsonb', nullable: true })
  extra?: Record<string, unknown> | null;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  user?: User | null;

  @Property({ type: 'integer', default: 1 })
  version = 1;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  updatedAt: Date;

  constructor(directory: Directory, userName: string, now: Date) {
    this.directory = directory;
    this.userName = userName;
    this.userNameKey = userNameKey(userName);
    this.createdAt = now;
    this.updatedAt = now;
  }
}
