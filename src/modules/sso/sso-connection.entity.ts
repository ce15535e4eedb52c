import { Entity, Enum, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { ParentOrganization } from '../organizations/parent-organization.entity.js';

export enum SsoProtocol {
  SAML = 'SAML',
  OIDC = 'OIDC',
}

export enum SsoProvider {
  OKTA = 'OKTA',
  GOOGLE_WORKSPACE = 'GOOGLE_WORKSPACE',
  ENTRA_ID = 'ENTRA_ID',
  GENERIC = 'GENERIC',
}

export enum SsoConnectionState {
  /** Configured, not enforced; an admin must test it before activating. */
  DRAFT = 'DRAFT',
  /** Enforced: captured-domain e-mails must sign in through it. */
  ACTIVE = 'ACTIVE',
  INACTIVE = 'INACTIVE',
}

/** One signing certificate of the IdP; several at once during a rotation. */
export interface SigningCertificate {
  pem: string;
  /** SHA-256 fingerprint, upper-case hex with colons. */
  fingerprint: string;
  notAfter: string;
}

/** Where the IdP puts each profile value: attribute names of its SAML assertion or claims of its ID token. */
export interface AttributeMapping {
  email: string;
  firstName: string;
  lastName: string;
  groups: string;
}

@Entity({ tableName: 'sso_connections' })
export class SsoConnection {
  [OptionalProps]?:
    | 'state'
    | 'idpEntityId'
    | 'idpSsoUrl'
    | 'idpCertificates'
    | 'metadataUrl'
    | 'metadataXml'
    | 'metadataFetchedAt'
    | 'metadataError'
    | 'oidcIssuer'
    | 'oidcClientId'
    | 'oidcClientSecretEncrypted'
    | 'lastTestedAt'
    | 'lastTestSucceeded'
    | 'lastTestError'
    | 'activatedAt'
    | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => ParentOrganization, { deleteRule: 'cascade' })
  parent: ParentOrganization;

  @Property({ length: 200 })
  name: string;

  @Enum({ items: () => SsoProtocol })
  protocol: SsoProtocol;

  @Enum({ items: () => SsoProvider })
  provider: SsoProvider;

  @Enum({ items: () => SsoConnectionState })
  state: SsoConnectionState = SsoConnectionState.DRAFT;

  @Property({ type: 'jsonb' })
  attributeMapping: AttributeMapping;

  @Property({ length: 1024, nullable: true })
  idpEntityId?: string | null;

  @Property({ length: 2048, nullable: true })
  idpSsoUrl?: string | null;

  @Property({ type: 'jsonb', nullable: true })
  idpCertificates?: SigningCertificate[] | null;

  @Property({ length: 2048, nullable: true })
  metadataUrl?: string | null;

  /** The last metadata that parsed; kept when a later fetch fails. */
  @Property({ type: 'text', nullable: true })
  metadataXml?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  metadataFetchedAt?: Date | null;

  @Property({ length: 500, nullable: true })
  metadataError?: string | null;

  @Property({ length: 2048, nullable: true })
  oidcIssuer?: string | null;

  @Property({ length: 500, nullable: true })
  oidcClientId?: string | null;

  /** AES-256-GCM under the server's SECRET_KEY; never readable back through the API. */
  @Property({ type: 'text', nullable: true })
  oidcClientSecretEncrypted?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  lastTestedAt?: Date | null;

  @Property({ type: 'boolean', nullable: true })
  lastTestSucceeded?: boolean | null;

  @Property({ length: 200, nullable: true })
  lastTestError?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  activatedAt?: Date | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  updatedAt: Date;

  constructor(
    parent: ParentOrganization,
    name: string,
    protocol: SsoProtocol,
    provider: SsoProvider,
    attributeMapping: AttributeMapping,
    now: Date,
  ) {
    this.parent = parent;
    this.name = name;
    this.protocol = protocol;
    this.provider = provider;
    this.attributeMapping = attributeMapping;
    this.createdAt = now;
    this.updatedAt = now;
  }
}
