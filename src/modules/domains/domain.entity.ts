import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { ParentOrganization } from '../organizations/parent-organization.entity.js';

export enum DomainStatus {
  /** Waiting for the TXT record; checked in the background and on refresh. */
  PENDING = 'PENDING',
  VERIFIED = 'VERIFIED',
  /** Pending for 7 days without the record: needs a new token (domainRestart). */
  FAILED = 'FAILED',
  /** Was verified; the record was definitely absent on 3 checks over 72 hours. Needs a new token. */
  UNVERIFIED = 'UNVERIFIED',
  /** Another parent verified this domain, an ancestor or a subdomain of it. */
  BLOCKED = 'BLOCKED',
}

export enum DnsCheckOutcome {
  /** The record holds this claim's value. */
  FOUND = 'FOUND',
  /** No TXT record at the challenge name (NXDOMAIN or no data). */
  ABSENT = 'ABSENT',
  /** TXT records exist at the challenge name, none with this claim's value. */
  MISMATCH = 'MISMATCH',
  /** SERVFAIL, timeout or another resolver failure: says nothing about the record. */
  DNS_ERROR = 'DNS_ERROR',
}

/** A parent organization's claim on a domain name, proven by a DNS TXT record. */
@Entity({ tableName: 'domains' })
@Unique({ properties: ['parent', 'name'] })
// Background checks lease due claims in next_check_at order (Migration20261129090000).
@Index({
  name: 'domains_due_index',
  expression: `create index "domains_due_index" on "domains" ("next_check_at") where "status" in ('PENDING', 'VERIFIED')`,
})
// One verified owner per name across all parents; subdomain and ancestor conflicts are decided under an
// advisory lock on the registrable domain (domain.service.ts).
@Unique({
  name: 'domains_one_verified',
  expression: `create unique index "domains_one_verified" on "domains" ("name") where "status" = 'VERIFIED'`,
})
// Conflicting claims (the name, its ancestors, its subdomains) are found by prefix on the reversed name.
@Index({
  name: 'domains_status_reverse_name_index',
  expression: `create index "domains_status_reverse_name_index" on "domains" ("status", reverse("name") text_pattern_ops)`,
})
export class Domain {
  [OptionalProps]?:
    | 'status'
    | 'verifiedAt'
    | 'lastCheckedAt'
    | 'lastCheckOutcome'
    | 'lastCheckDetail'
    | 'absentChecks'
    | 'absentSince'
    | 'statusChangedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => ParentOrganization, { deleteRule: 'cascade' })
  parent: ParentOrganization;

  /** Canonical A-label form (lib/names.ts). */
  @Property({ length: 253 })
  name: string;

  @Enum({ items: () => DomainStatus })
  status: DomainStatus = DomainStatus.PENDING;

  /**
   * At least 128 random bits, so unique per claim (not indexed: nothing reads by token); public once
   * published, so not a secret.
   */
  @Property({ length: 64 })
  verificationToken: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  /** Start of the current claim window (creation or the last restart): 7 days to publish the record. */
  @Property({ type: 'timestamptz' })
  claimStartedAt: Date;

  @Property({ type: 'timestamptz' })
  statusChangedAt: Date;

  @Property({ type: 'timestamptz', nullable: true })
  verifiedAt?: Date | null;

  @Property({ type: 'timestamptz', nullable: true })
  lastCheckedAt?: Date | null;

  @Enum({ items: () => DnsCheckOutcome, nullable: true })
  lastCheckOutcome?: DnsCheckOutcome | null;

  /** Resolver error code of a DNS_ERROR (ESERVFAIL, ETIMEOUT...). */
  @Property({ length: 64, nullable: true })
  lastCheckDetail?: string | null;

  @Property({ type: 'timestamptz', nullable: true })
  nextCheckAt?: Date | null;

  /**
   * Until when a background check owns the claim (its lease); its lookup is written only while the lease
   * stands, so a lookup applied in between (a refresh) ends it.
   */
  @Property({ type: 'timestamptz', nullable: true })
  checkLeasedUntil?: Date | null;

  /** Consecutive definite absences of a verified domain's record, and when the first was seen. */
  @Property({ type: 'integer', default: 0 })
  absentChecks = 0;

  @Property({ type: 'timestamptz', nullable: true })
  absentSince?: Date | null;

  constructor(parent: ParentOrganization, name: string, token: string, now: Date) {
    this.parent = parent;
    this.name = name;
    this.verificationToken = token;
    this.createdAt = now;
    this.claimStartedAt = now;
    this.statusChangedAt = now;
    this.nextCheckAt = now;
  }
}
