import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { User } from './user.entity.js';

export enum AuthMethod {
  EMAIL_CODE = 'EMAIL_CODE',
  INVITATION = 'INVITATION',
  SSO = 'SSO',
  GOOGLE = 'GOOGLE',
}

@Entity({ tableName: 'sessions' })
@Index({ properties: ['user', 'revokedAt'] })
export class Session {
  [OptionalProps]?: 'revokedAt' | 'lastSeenAt' | 'userAgent' | 'ip';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user: User;

  /** SHA-256 of the bearer token; the token itself is never stored. */
  @Property({ length: 64, unique: true })
  tokenHash: string;

  @Enum({ items: () => AuthMethod })
  method: AuthMethod;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  expiresAt: Date;

  @Property({ type: 'timestamptz', nullable: true })
  revokedAt?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  lastSeenAt?: Date | null;

  @Property({ length: 400, nullable: true })
  userAgent?: string | null;

  @Property({ length: 64, nullable: true })
  ip?: string | null;

  constructor(user: User, tokenHash: string, method: AuthMethod, now: Date, expiresAt: Date) {
    this.user = user;
    this.tokenHash = tokenHash;
    this.method = method;
    this.createdAt = now;
    this.expiresAt = expiresAt;
  }
}
