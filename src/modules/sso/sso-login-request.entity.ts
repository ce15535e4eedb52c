import { Entity, Enum, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { User } from '../sessions/user.entity.js';
import { SsoConnection } from './sso-connection.entity.js';

export enum SsoLoginPurpose {
  LOGIN = 'LOGIN',
  /** An admin's test login: proves the connection works, changes no session. */
  TEST = 'TEST',
}

/**
 * A pending SP-initiated login. Its id is the SAML AuthnRequest ID (or the OIDC state), and it is bound
 * to the browser that started it by the hash of a cookie: a response for another browser, another
 * connection or no pending request at all is unsolicited.
 */
@Entity({ tableName: 'sso_login_requests' })
export class SsoLoginRequest {
  [OptionalProps]?: 'consumedAt' | 'tester' | 'codeVerifier' | 'nonce' | 'loginHint';

  /** SAML AuthnRequest IDs must start with a letter or underscore (xs:ID). */
  @PrimaryKey({ length: 64 })
  id: string;

  @ManyToOne(() => SsoConnection, { deleteRule: 'cascade' })
  connection: SsoConnection;

  /** SHA-256 of the random value in this browser's pending-login cookie. */
  @Property({ length: 64 })
  browserHash: string;

  @Enum({ items: () => SsoLoginPurpose })
  purpose: SsoLoginPurpose;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'cascade' })
  tester?: User | null;

  /** OIDC PKCE verifier and nonce. */
  @Property({ length: 128, nullable: true })
  codeVerifier?: string | null;

  @Property({ length: 128, nullable: true })
  nonce?: string | null;

  @Property({ length: 254, nullable: true })
  loginHint?: string | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  expiresAt: Date;

  @Property({ type: 'timestamptz', nullable: true })
  consumedAt?: Date | null;

  constructor(
    id: string,
    connection: SsoConnection,
    browserHash: string,
    purpose: SsoLoginPurpose,
    now: Date,
    expiresAt: Date,
  ) {
    this.id = id;
    this.connection = connection;
    this.browserHash = browserHash;
    this.purpose = purpose;
    this.createdAt = now;
    this.expiresAt = expiresAt;
  }
}
