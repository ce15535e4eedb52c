import { Entity, Enum, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { ParentOrganization } from '../organizations/parent-organization.entity.js';

export enum DirectoryProvider {
  OKTA = 'OKTA',
  ENTRA_ID = 'ENTRA_ID',
  GOOGLE_WORKSPACE = 'GOOGLE_WORKSPACE',
  GENERIC = 'GENERIC',
}

export interface SyncReport {
  users: number;
  groups: number;
  provisioned: number;
  deprovisioned: number;
  pushRequested: boolean;
  errors: string[];
}

/** A SCIM directory of a parent: the IdP pushes users and groups into it with one bearer token. */
@Entity({ tableName: 'directories' })
export class Directory {
  [OptionalProps]?:
    | 'previousTokenHash'
    | 'previousTokenExpiresAt'
    | 'pushUrl'
    | 'lastSyncAt'
    | 'lastSync'
    | 'lastErrors'
    | 'lastRequestAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => ParentOrganization, { deleteRule: 'cascade' })
  parent: ParentOrganization;

  @Property({ length: 200 })
  name: string;

  @Enum({ items: () => DirectoryProvider })
  provider: DirectoryProvider;

  /** SHA-256 of the bearer token (256 random bits); the token is shown once. */
  @Property({ length: 64, unique: true })
  tokenHash: string;

  /** After a rotation the old token keeps working briefly, so the IdP can be updated without a gap. */
  @Property({ length: 64, nullable: true })
  previousTokenHash?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  previousTokenExpiresAt?: Date | null;

  /** Where "Sync now" asks the IdP to push (an IdP that supports it); optional. */
  @Property({ length: 2048, nullable: true })
  pushUrl?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  lastRequestAt?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  lastSyncAt?: Date | null;

  @Property({ type: 'jsonb', nullable: true })
  lastSync?: SyncReport | null;

  @Property({ type: 'jsonb', nullable: true })
  lastErrors?: string[] | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  constructor(
    parent: ParentOrganization,
    name: string,
    provider: DirectoryProvider,
    tokenHash: string,
    now: Date,
  ) {
    this.parent = parent;
    this.name = name;
    this.provider = provider;
    this.tokenHash = tokenHash;
    this.createdAt = now;
  }
}
