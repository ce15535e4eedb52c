import { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { User } from '../sessions/user.entity.js';
import { SsoConnection } from './sso-connection.entity.js';

/** An account's identity at one IdP: keyed by (connection, subject), never by e-mail alone. */
@Entity({ tableName: 'sso_identities' })
@Unique({ properties: ['connection', 'subject'] })
export class SsoIdentity {
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => SsoConnection, { deleteRule: 'cascade' })
  connection: SsoConnection;

  /** SAML NameID or OIDC `sub`. */
  @Property({ length: 500 })
  subject: string;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user: User;

  /** The e-mail the IdP asserted at the last login. */
  @Property({ length: 254 })
  email: string;

  @Property({ type: 'jsonb', nullable: true })
  profile?: Record<string, unknown> | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  lastLoginAt: Date;

  constructor(connection: SsoConnection, subject: string, user: User, email: string, now: Date) {
    this.connection = connection;
    this.subject = subject;
    this.user = user;
    this.email = email;
    this.createdAt = now;
    this.lastLoginAt = now;
  }
}
