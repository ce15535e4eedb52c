// Domain capture. A parent claims a name and publishes a TXT record; checks read it through the resolver
// port and apply the outcome in a transaction that first takes an advisory lock on the registrable domain,
// so every verification on or under one registrable domain is decided one at a time: of two parents
// verifying the same name at once, exactly one wins. A DNS failure is never taken for an absent record.
import { LockMode, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config/config.js';
import { flushAsOneStatement } from '../../db/one-statement-write.js';
import { findBySql, plainRows, preparedRows } from '../../db/plain-reads.js';
import { addSeconds, type Clock } from '../../lib/clock.js';
import { forEachConcurrently, held } from '../../lib/concurrency.js';
import { AccessError, DomainError, notFound } from '../../lib/errors.js';
import type { RateLimits } from '../../lib/rate-limits.js';
import type { EventBus } from '../../lib/events.js';
import { isUuid } from '../../lib/ids.js';
import type { Logger } from '../../lib/logger.js';
import { paginate, type PageRequest } from '../../lib/page.js';
import type { Scope } from '../../lib/scope.js';
import { constantTimeEqual, randomToken } from '../../lib/secrets.js';
import type { MailOutbox } from '../../mail/outbox.js';
import { mailTemplates } from '../../mail/templates.js';
import { ActorType } from '../audit/audit-event.entity.js';
import type { AuditEntry, AuditService } from '../audit/audit.service.js';
import { Membership } from '../members/membership.entity.js';
import type { OrganizationAccess } from '../organizations/organization.access.js';
import { IDENTITY_ADMIN_ROLES, OrganizationKind } from '../organizations/roles.js';
import type { TxtLookup, TxtResolver } from './dns-resolver.js';
import { DnsCheckOutcome, Domain, DomainStatus } from './domain.entity.js';
import { DomainErrorCode } from './domain.errors.js';
import { parseClaimableDomain } from './domain-name.js';

const DAY = 24 * 3600;
/** A pending claim lives 7 days; then it needs a new token. */
export const CLAIM_WINDOW_SECONDS = 7 * DAY;
/** Pending claims are checked every 30 seconds for their first 10 minutes (DNS propagation), then less often. */
const EARLY_PHASE_SECONDS = 600;
const EARLY_INTERVAL_SECONDS = 30;
const MAX_PENDING_INTERVAL_SECONDS = 3600;
/** A verified domain is re-checked daily; it loses verification after this many definite absences... */
const ABSENCES_TO_UNVERIFY = 3;
/** ...spanning at least this long. */
const ABSENCE_SPAN_SECONDS = 72 * 3600;
const MAX_PENDING_PER_PARENT = 50;
/**
 * How long a background check owns the domains it claimed before another instance may take them. A batch
 * is leased when two rounds of queries are left to hand out before it; a claim then waits for its turn
 * (up to CHECK_BATCH / CHECK_CONCURRENCY rounds, 6), its query, and at most as long again for a batch of
 * lookups to fill. Even if every query times out (node's resolver tries twice, doubling the timeout: 6 s
 * a query at the default DNS_TIMEOUT_MS of 2 s and one server), that is 15 rounds, 90 s, and its write
 * ends inside the lease. More servers, a longer timeout or a stalled database can outlast it: a claim is
 * then leased and looked up again, its late lookup dropped (applyOne), never lost.
 */
export const CHECK_LEASE_SECONDS = 120;
/**
 * A background run leases due claims, and writes their lookups, this many at a time: 500 at a time, the
 * checks ran about a tenth slower, a write's cost being mostly its statements and round trips
 * (bench/domain-checks).
 */
export const CHECK_BATCH = 1000;
/** ...and makes this many DNS queries at once, taken across batches. */
export const CHECK_CONCURRENCY = 192;
/**
 * At most this many writes of a run's lookups at once: a write took about as long as its batch's lookups,
 * so one at a time held the queries back; three did no better than two (bench/domain-checks).
 */
const CHECK_WRITES = 2;
/**
 * A run leases no new batch after this long (the job then asks for the next run), so that slow DNS
 * cannot stretch one job towards the queue's expiry, after which it would be retried while running.
 */
const CHECK_RUN_SECONDS = 30;

/**
 * Claims on one registrable domain, given reversed (`rev`): its name and every name under it. Reversed, a
 * subdomain's name starts with the reversed registrable domain and a dot: the range serves the
 * (status, reverse(name)) index, the equality after it keeps exactly the family.
 */
const familyOf = (claim: string, rev: string) =>
  `reverse(${claim}.name) ~>=~ ${rev} and reverse(${claim}.name) ~<~ (${rev} || '/')
   and (reverse(${claim}.name) = ${rev} or left(reverse(${claim}.name), length(${rev}) + 1) = (${rev} || '.'))`;

/**
 * A batch's lookups that need no other claim, written to the rows still as leased and as seen: those
 * that change no status, and verifications of claims (given their registrable domain, reversed) whose
 * family holds no other parent's claim, returned with the organizations whose logs audit them.
 * The rows are found by their ids, given apart: the values' estimate is fixed, and with a few thousand
 * claims the planner read the whole table to join them. The lease is compared per row: compared to a
 * constant, it made the planner expect one leased row and join every value to every leased row.
 * Each value is an array in the order of WriteLookupRow: as objects, building and serialising a batch's
 * values cost seven times as much.
 */
export const WRITE_LOOKUPS = `update domains d
      set status = v.status, check_leased_until = null,
          status_changed_at = case when v.status <> v.seen_status then v.last_checked_at
                                   else d.status_changed_at end,
          verified_at = coalesce(v.verified_at, d.verified_at),
          last_checked_at = v.last_checked_at, last_check_outcome = v.last_check_outcome,
          last_check_detail = v.last_check_detail, next_check_at = v.next_check_at,
          absent_checks = v.absent_checks, absent_since = v.absent_since
     from (select (r->>0)::uuid as id, r->>1 as seen_status, r->>2 as verification_token,
                  (r->>3)::timestamptz as leased_until, r->>4 as status, (r->>5)::timestamptz as verified_at,
                  (r->>6)::timestamptz as last_checked_at, r->>7 as last_check_outcome,
                  r->>8 as last_check_detail, (r->>9)::timestamptz as next_check_at,
                  (r->>10)::int as absent_checks, (r->>11)::timestamptz as absent_since,
                  r->>12 as registrable_rev
             from jsonb_array_elements(?::jsonb) as r) as v
    where d.id = any(?::uuid[]) and d.id = v.id and d.status = v.seen_status
      and d.verification_token = v.verification_token and d.check_leased_until = v.leased_until
      and (v.registrable_rev is null or not exists (
            select 1 from domains o
             where o.parent_id <> d.parent_id and o.status in ('PENDING', 'VERIFIED', 'BLOCKED')
               and ${familyOf('o', 'v.registrable_rev')}))
    returning d.id, d.parent_id,
      case when v.registrable_rev is not null
           then array(select o.id from organizations o where o.parent_id = d.parent_id)
      end as organization_ids`;

export interface TxtInstructions {
  recordName: string;
  recordValue: string;
}

/** The change of status a lookup calls for, made under the registrable domain's lock. */
type Transition = 'verify' | 'unverify';

/**
 * What a check reads and writes of a claim: a Domain, or a leased row read without the ORM, which leaves out
 * the last lookup (the check replaces it). A lookup is written only to the row as leased.
 */
type ClaimState = Pick<
  Domain,
  | 'id'
  | 'checkLeasedUntil'
  | 'name'
  | 'verificationToken'
  | 'status'
  | 'claimStartedAt'
  | 'lastCheckedAt'
  | 'lastCheckOutcome'
  | 'lastCheckDetail'
  | 'nextCheckAt'
  | 'absentChecks'
  | 'absentSince'
>;

/** A leased row as selected (lease); timestamps arrive as text, as the ORM's driver reads them. */
interface LeasedRow {
  id: string;
  name: string;
  verification_token: string;
  status: DomainStatus;
  claim_started_at: string;
  absent_checks: number;
  absent_since: string | null;
}

/**
 * One lookup as WRITE_LOOKUPS reads it: id, status as seen, token, lease, status to write, the instant of
 * a verification, last check's instant, outcome and detail, next check, absences and their start, and a
 * verification's registrable domain reversed. Instants are ISO 8601 text.
 */
export type WriteLookupRow = [
  id: string,
  seenStatus: DomainStatus,
  verificationToken: string,
  leasedUntil: string,
  status: DomainStatus,
  verifiedAt: string | null,
  lastCheckedAt: string | null,
  lastCheckOutcome: DnsCheckOutcome | null,
  lastCheckDetail: string | null,
  nextCheckAt: string | null,
  absentChecks: number,
  absentSince: string | null,
  registrableRev: string | null,
];

/** A claim's fields as a verification sets them. */
type VerifiedFields = Required<
  Pick<Domain, 'status' | 'statusChangedAt' | 'verifiedAt' | 'absentChecks' | 'absentSince' | 'nextCheckAt'>
>;

/** A lookup for writeLookups: its claim with the lookup recorded and, for a verification, what it sets. */
interface LookupWrite {
  claim: ClaimState;
  verified?: VerifiedFields;
  registrable?: string;
}

/** A claim as a change of status leaves it: what its audit event and its live update say. */
type ChangedClaim = Pick<Domain, 'id' | 'name' | 'status' | 'lastCheckOutcome'> & { parent: { id: string } };

interface Check {
  /** The claim as leased or read before its lookup. */
  seen: ClaimState;
  lookup: TxtLookup | null;
}

/** A transaction's changes of status: the claims they can touch (claimsOn) and their audit events. */
interface ChangeContext {
  em: EntityManager;
  scope: Scope;
  claims: Domain[];
  audit: Array<{ parentOrganizationId: string; entry: AuditEntry }>;
  /** A refresh is told of a conflict rather than blocked by it. */
  interactive: boolean;
}

interface CheckResult {
  /** The claim's row as checked; none if it is gone. */
  domain: Domain | null;
  changed: boolean;
  /** Other parents' claims blocked or unblocked by this change, published with it. */
  others: Domain[];
}

export class DomainService {
  constructor(
    private readonly config: Pick<Config, 'brand' | 'domainRefreshMinSeconds'>,
    private readonly clock: Clock,
    private readonly outbox: MailOutbox,
    private readonly audit: AuditService,
    private readonly access: OrganizationAccess,
    private readonly events: EventBus,
    private readonly resolver: TxtResolver,
    private readonly rateLimits: RateLimits,
    private readonly logger: Logger,
  ) {}

  /** The TXT record to publish: on the claimed name itself, so a subdomain's record sits on the subdomain. */
  instructions(domain: Pick<Domain, 'name' | 'verificationToken'>): TxtInstructions {
    return {
      recordName: `_${this.config.brand}-challenge.${domain.name}`,
      recordValue: `${this.config.brand}-domain-verification=${domain.verificationToken}`,
    };
  }

  claimExpiresAt(domain: Pick<Domain, 'claimStartedAt'>): Date {
    return addSeconds(domain.claimStartedAt, CLAIM_WINDOW_SECONDS);
  }

  async list(scope: Scope, parentId: string, page: PageRequest) {
    await this.access.requireParentAdmin(scope, parentId);
    return paginate(scope.em, Domain, { parent: parentId }, page);
  }

  async get(scope: Scope, domainId: string): Promise<Domain> {
    return this.requireDomain(scope, domainId, scope.em);
  }

  async add(scope: Scope, parentId: string, rawName: string): Promise<Domain> {
    const { name, registrable } = parseClaimableDomain(rawName);
    const domain = await scope.em.transactional(async (em) => {
      const parent = await this.access.requireParentAdmin(scope, parentId, { em });
      const pending = await em.count(Domain, { parent, status: DomainStatus.PENDING });
      if (pending >= MAX_PENDING_PER_PARENT) {
        throw new DomainError(
          DomainErrorCode.TOO_MANY_PENDING,
          `A parent can have at most ${MAX_PENDING_PER_PARENT} pending claims.`,
        );
      }
      if (conflictingVerified(await this.claimsOn(em, [registrable]), parent.id, name)) throw conflict(name);
      const domain = new Domain(parent, name, randomToken(32), this.clock.now());
      em.persist(domain);
      await this.audit.recordForParent(em, scope, parent.id, {
        action: 'domain.added',
        targetType: 'Domain',
        targetId: domain.id,
        after: { name, status: domain.status },
      });
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) {
          throw new DomainError(
            DomainErrorCode.DOMAIN_ALREADY_ADDED,
            `${name} is already added to this parent.`,
            ['name'],
          );
        }
        throw error;
      }
      return domain;
    });
    this.publish(domain);
    return domain;
  }

  /** The guide's button next to "Pending": checks the record now. */
  async refresh(scope: Scope, domainId: string): Promise<Domain> {
    const domain = await this.requireDomain(scope, domainId, scope.em);
    if (domain.status === DomainStatus.FAILED || domain.status === DomainStatus.UNVERIFIED) {
      throw new DomainError(DomainErrorCode.CLAIM_EXPIRED, 'This claim needs a new token: restart it.');
    }
    // Each refresh is a DNS query the attacker chooses the name of; requireDomain has signed the caller in.
    await this.rateLimits.consume('domainChecksPerUser', scope.viewer!.userId);
    const now = this.clock.now();
    if (
      domain.lastCheckedAt &&
      domain.lastCheckedAt > addSeconds(now, -this.config.domainRefreshMinSeconds)
    ) {
      throw new AccessError('RATE_LIMITED', 'This domain was checked a moment ago; try again shortly.', {
        retryAfterSeconds: this.config.domainRefreshMinSeconds,
      });
    }
    const [checked] = await this.applyAll(scope, [{ seen: domain, lookup: await this.lookUp(domain) }], {
      interactive: true,
    });
    return checked!.domain ?? domain;
  }

  /** A new token and a new 7-day window for a FAILED, UNVERIFIED or BLOCKED claim; the old token is dead. */
  async restart(scope: Scope, domainId: string): Promise<Domain> {
    const domain = await scope.em.transactional(async (em) => {
      const domain = await this.requireDomain(scope, domainId, em, true);
      if (domain.status === DomainStatus.PENDING || domain.status === DomainStatus.VERIFIED) {
        throw new DomainError(
          DomainErrorCode.CLAIM_ACTIVE,
          `The claim is ${domain.status.toLowerCase()}: nothing to restart.`,
        );
      }
      const claims = await this.claimsOn(em, registrablesOf([domain.name]));
      if (conflictingVerified(claims, domain.parent.id, domain.name)) throw conflict(domain.name);
      const before = { status: domain.status };
      const now = this.clock.now();
      domain.verificationToken = randomToken(32);
      domain.claimStartedAt = now;
      domain.nextCheckAt = now;
      domain.absentChecks = 0;
      domain.absentSince = null;
      this.setStatus(domain, DomainStatus.PENDING, now);
      await this.audit.recordForParent(em, scope, domain.parent.id, {
        action: 'domain.restarted',
        targetType: 'Domain',
        targetId: domain.id,
        before,
        after: { status: DomainStatus.PENDING },
      });
      return domain;
    });
    this.publish(domain);
    return domain;
  }

  async remove(scope: Scope, domainId: string): Promise<Domain> {
    const { domain, others } = await scope.em.transactional(async (em) => {
      const domain = await this.requireDomain(scope, domainId, em, true);
      await this.audit.recordForParent(em, scope, domain.parent.id, {
        action: 'domain.removed',
        targetType: 'Domain',
        targetId: domain.id,
        before: { name: domain.name, status: domain.status },
      });
      if (domain.status !== DomainStatus.VERIFIED) {
        em.remove(domain);
        return { domain, others: [] };
      }
      const context = await this.changeContext(em, scope, registrablesOf([domain.name]), true);
      em.remove(domain);
      const others = this.unblockOthers(context, domain);
      await this.audit.recordForParents(em, scope, context.audit);
      return { domain, others };
    });
    this.publish(domain, 'REMOVED');
    for (const other of others) this.publish(other);
    return domain;
  }

  /**
   * Background work: checks due pending and verified domains (claimed with SKIP LOCKED and a lease, so
   * two instances never check one domain at once) and fails pending claims past their window. Returns the
   * earliest next check, to schedule the next run.
   */
  async checkDue(em: EntityManager, limit = CHECK_BATCH): Promise<Date | null> {
    await this.checkBatches(em, limit);
    // A due claim another run has leased is checked by it, or again when its lease ends.
    const now = this.clock.now();
    const [next] = await preparedRows<{ at: string | null }>(
      em.fork(),
      `select least(
         (select next_check_at from domains
           where status in (?, ?) and (check_leased_until is null or check_leased_until <= ?)
           order by next_check_at limit 1),
         (select min(check_leased_until) from domains
           where status in (?, ?) and next_check_at <= ? and check_leased_until > ?)) as at`,
      [
        DomainStatus.PENDING,
        DomainStatus.VERIFIED,
        now,
        DomainStatus.PENDING,
        DomainStatus.VERIFIED,
        now,
        now,
      ],
    );
    return timestamp(next!.at);
  }

  /**
   * Due claims, leased `limit` at a time and looked up CHECK_CONCURRENCY at a time across batches, the next
   * batch leased while one is looked up; lookups are written `limit` at a time, while the next are looked
   * up. The DNS queries never wait on the database: in lanes that each leased, looked up and wrote a batch
   * in turn, the event loop sat idle a fifth of the time, and each batch's last queries ran at ever lower
   * concurrency. Stops leasing once a lease finds no claim, a write has failed, or the run has lasted
   * CHECK_RUN_SECONDS; ends once every lookup made is written.
   */
  private async checkBatches(em: EntityManager, limit: number): Promise<void> {
    const started = performance.now();
    let looked: Check[] = [];
    let failure: unknown = null;
    const writes = new Set<Promise<void>>();
    // Once nothing is left to lease, lookups are written whenever a write slot is free, however few: the
    // last ones wait on no batch of their own (the time after the last lookup fell from 55-63 ms to 31-47 ms
    // of a 0.7-0.8 s run of 10,000).
    let draining = false;
    /** Writes the lookups in if there are a batch's worth (any, when draining) and a write slot is free. */
    const writeIfDue = () => {
      if (looked.length >= (draining ? 1 : limit) && writes.size < CHECK_WRITES) write();
    };
    const write = () => {
      const writing: Promise<void> = this.writeBatch(em, looked)
        .catch((error: unknown) => {
          failure ??= error;
        })
        .finally(() => {
          writes.delete(writing);
          // Lookups that came in while both writes ran go now, not with the next lookup to end.
          writeIfDue();
        });
      writes.add(writing);
      looked = [];
    };
    // Leased ahead only with a write slot free: a stalled database stops the leases, not only the lookups.
    const lease = async () => {
      while (writes.size >= CHECK_WRITES) await Promise.race(writes);
      return this.lease(em.fork(), limit);
    };
    const claims = async function* () {
      let leasing: Promise<ClaimState[]> | null = held(lease());
      while (leasing) {
        const leased: ClaimState[] = await leasing;
        // A lease can come back short of due claims (a row another transaction changed meanwhile is
        // skipped), so the run goes on until one finds none.
        const more = leased.length > 0 && !failure && performance.now() - started <= CHECK_RUN_SECONDS * 1000;
        leasing = null;
        for (const [index, claim] of leased.entries()) {
          if (more && !leasing && leased.length - index <= 2 * CHECK_CONCURRENCY) leasing = held(lease());
          yield claim;
        }
      }
      draining = true;
    };
    try {
      // One promise a lookup: a chain of async functions per lookup cost a fifth as much as the query itself.
      await forEachConcurrently(claims(), CHECK_CONCURRENCY, (seen) =>
        this.lookUp(seen).then(
          (lookup) => {
            looked.push({ seen, lookup });
            writeIfDue();
            // Lookups waiting on writes hold the queries back: a slow database slows the checks rather than
            // piling up lookups whose leases run out.
            return looked.length >= limit && writes.size > 0 ? Promise.race(writes) : null;
          },
          (error: unknown) => this.checkFailed(seen, error),
        ),
      );
    } finally {
      // The last lookups, and those made before a lease failed, are written before the run ends.
      draining = true;
      while (looked.length > 0 || writes.size > 0) {
        writeIfDue();
        if (writes.size > 0) await Promise.race(writes);
      }
    }
    if (failure) throw failure;
  }

  /**
   * A batch's lookups written: those that need no other claim (most of them) in one statement
   * (writeLookups); the others applied together in one transaction under the registrable domains' locks,
   * or each alone if that transaction fails.
   */
  private async writeBatch(em: EntityManager, checks: Check[]): Promise<void> {
    const now = this.clock.now();
    const writes: LookupWrite[] = [];
    for (const { seen, lookup } of checks) {
      if (!lookup || this.expired(seen)) continue;
      const transition = this.recordLookup(seen, lookup, now);
      if (transition === null) writes.push({ claim: seen });
      else if (transition === 'verify') {
        let registrable: string;
        try {
          registrable = registrableOf(seen.name);
        } catch {
          // A name the Public Suffix List has since refused has no lock: applied below, and logged there.
          continue;
        }
        writes.push({ claim: seen, verified: verifiedFields(now), registrable });
      }
    }
    const scope = (): Scope => ({ em: em.fork(), viewer: null, requestId: 'job:domains.check' });
    let written = new Set<string>();
    try {
      written = await this.writeLookups(scope(), writes);
    } catch (error) {
      // A deadlock with another batch's changes of status, say: nothing was written, all is applied below.
      this.logger.warn({ err: error }, 'domain lookups failed to write together; applying them in full');
    }
    const changing = checks.filter(({ seen }) => !written.has(seen.id));
    if (changing.length > 0) {
      try {
        await this.applyAll(scope(), changing, { interactive: false });
      } catch (error) {
        this.logger.warn(
          { err: error, domainIds: changing.map(({ seen }) => seen.id) },
          'domain checks failed together; applying each alone',
        );
        for (const check of changing)
          await this.attempt(check.seen, () => this.applyAll(scope(), [check], { interactive: false }));
      }
    }
  }

  /**
   * Takes up to `limit` domains due now for CHECK_LEASE_SECONDS, skipping those another run is taking.
   * Plain rows: most lookups change no status and are written in one statement (writeLookups). The rows
   * locked are updated by their tuple ids: found again by primary key, they cost twice as much.
   */
  private async lease(em: EntityManager, limit: number): Promise<ClaimState[]> {
    const now = this.clock.now();
    const leasedUntil = addSeconds(now, CHECK_LEASE_SECONDS);
    const rows = await preparedRows<LeasedRow>(
      em,
      `update domains set check_leased_until = ?
        where ctid = any(array(select ctid from domains
                                where status in (?, ?) and next_check_at <= ?
                                  and (check_leased_until is null or check_leased_until <= ?)
                                order by next_check_at limit ? for update skip locked))
        returning id, name, verification_token, status, claim_started_at, absent_checks, absent_since`,
      [leasedUntil, DomainStatus.PENDING, DomainStatus.VERIFIED, now, now, limit],
    );
    return rows.map((row) => ({
      id: row.id,
      checkLeasedUntil: leasedUntil,
      name: row.name,
      verificationToken: row.verification_token,
      status: row.status,
      claimStartedAt: new Date(row.claim_started_at),
      absentChecks: row.absent_checks,
      absentSince: timestamp(row.absent_since),
    }));
  }

  /**
   * Writes `writes` in one statement (WRITE_LOOKUPS) to the rows still as leased and as seen: a row whose
   * lease another run or a refresh has replaced keeps its state. Verifications are written under their
   * registrable domains' locks, audited and published. Returns the ids written.
   */
  private async writeLookups(scope: Scope, writes: LookupWrite[]): Promise<Set<string>> {
    if (writes.length === 0) return new Set();
    const ids = writes.map(({ claim }) => claim.id);
    // A batch's rows share a few instants: each is written out once (Date's toJSON was most of this).
    const instants = new Map<number, string>();
    const iso = (date: Date | null | undefined) => {
      if (!date) return null;
      let text = instants.get(date.getTime());
      if (text === undefined) instants.set(date.getTime(), (text = date.toISOString()));
      return text;
    };
    const values = JSON.stringify(
      writes.map(({ claim, verified, registrable }): WriteLookupRow => {
        const written = verified ?? claim;
        return [
          claim.id,
          claim.status,
          claim.verificationToken,
          iso(claim.checkLeasedUntil)!,
          written.status,
          iso(verified?.verifiedAt),
          iso(claim.lastCheckedAt),
          claim.lastCheckOutcome ?? null,
          claim.lastCheckDetail ?? null,
          iso(written.nextCheckAt),
          written.absentChecks,
          iso(written.absentSince),
          registrable ? reverse(registrable) : null,
        ];
      }),
    );
    const verifications = writes.filter(({ verified }) => verified);
    if (verifications.length === 0)
      return new Set(
        (await preparedRows<{ id: string }>(scope.em, WRITE_LOOKUPS, [values, ids])).map(({ id }) => id),
      );
    const { written, verified } = await scope.em.transactional(async (em) => {
      await this.lockRegistrables(em, [...new Set(verifications.map(({ registrable }) => registrable!))]);
      const rows = await preparedRows<{ id: string; parent_id: string; organization_ids: string[] | null }>(
        em,
        WRITE_LOOKUPS,
        [values, ids],
      );
      const written = new Map(rows.map((row) => [row.id, row]));
      const verified: ChangedClaim[] = [];
      for (const { claim } of verifications) {
        const row = written.get(claim.id);
        if (!row) continue;
        const domain = { ...claim, status: DomainStatus.VERIFIED, parent: { id: row.parent_id } };
        const { entry } = changeEntry(scope, domain, DomainStatus.PENDING);
        this.audit.recordForOrganizations(em, scope, row.parent_id, row.organization_ids!, entry);
        verified.push(domain);
      }
      await flushAsOneStatement(em);
      return { written: new Set(written.keys()), verified };
    });
    for (const claim of verified) this.publish(claim);
    return written;
  }

  /** One domain's failure is logged and leaves the rest of its batch alone; its lease ends in two minutes. */
  private async attempt(domain: ClaimState, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.checkFailed(domain, error);
    }
  }

  private checkFailed(domain: ClaimState, error: unknown): void {
    this.logger.warn({ err: error, domainId: domain.id }, 'domain check failed; retried after its lease');
  }

  /** The claim's TXT record; none for a claim past its window, which fails without asking DNS. */
  private lookUp(seen: ClaimState): Promise<TxtLookup | null> {
    if (this.expired(seen)) return Promise.resolve(null);
    return this.resolver.resolveTxt(this.instructions(seen).recordName);
  }

  /**
   * Lookups made outside any transaction, applied in one transaction that first takes the locks of their
   * registrable domains and then sees every claim on them: each lookup applies to its row as it is then
   * (a restart or removal in between wins), in order, each seeing the changes of those before it.
   */
  private async applyAll(
    scope: Scope,
    checks: Check[],
    options: { interactive: boolean },
  ): Promise<CheckResult[]> {
    const results = await scope.em.transactional(async (em) => {
      const registrables = registrablesOf(checks.map(({ seen }) => seen.name));
      await this.lockRegistrables(em, registrables);
      const current = new Map(
        (
          await em.find(
            Domain,
            { id: { $in: checks.map(({ seen }) => seen.id) } },
            { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
          )
        ).map((domain) => [domain.id, domain]),
      );
      const context = await this.changeContext(em, scope, registrables, options.interactive);
      const results: CheckResult[] = [];
      for (const check of checks)
        results.push(await this.applyOne(context, check, current.get(check.seen.id)));
      await this.audit.recordForParents(em, scope, context.audit);
      // A batch's changes of status, blocks, audit events and mail in one statement: as a flush they were
      // one statement per table, each built by the ORM, the costliest part of a background batch.
      await flushAsOneStatement(em);
      return results;
    });
    const changed = results.filter((result) => result.changed);
    for (const result of changed)
      for (const domain of [result.domain, ...result.others]) if (domain) this.publish(domain);
    if (changed.length > 0) await this.outbox.wake();
    return results;
  }

  /** One lookup applied to `domain`, the claim's row as locked (none if it was removed since). */
  private async applyOne(
    context: ChangeContext,
    { seen, lookup }: Check,
    domain?: Domain,
  ): Promise<CheckResult> {
    if (!domain || domain.verificationToken !== seen.verificationToken) return unchanged(domain ?? null);
    // A background lookup that outlasted its lease: another run leased the claim since, and checks it.
    if (
      !context.interactive &&
      domain.checkLeasedUntil &&
      domain.checkLeasedUntil.getTime() !== seen.checkLeasedUntil?.getTime()
    )
      return unchanged(domain);
    // Applied here, the lookup ends any background lease: that check's write would overwrite this one.
    domain.checkLeasedUntil = null;
    const now = this.clock.now();
    if (this.expired(domain)) {
      this.setStatus(domain, DomainStatus.FAILED, now);
      domain.nextCheckAt = null;
      this.recordChange(context, domain, DomainStatus.PENDING, { reason: 'no record within 7 days' });
      return { domain, changed: true, others: [] };
    }
    if (!lookup) return unchanged(domain);
    const transition = this.recordLookup(domain, lookup, now);
    if (transition === 'verify') return this.verify(context, domain);
    if (transition === 'unverify') return this.unverify(context, domain);
    return unchanged(domain);
  }

  /** Takes the advisory locks of `registrables` in one order whatever the caller, so two batches never deadlock. */
  private async lockRegistrables(em: EntityManager, registrables: string[]): Promise<void> {
    const keys = registrables.map((registrable) => `domain:${registrable}`).sort();
    // unnest yields the keys in array order and each row's lock is taken as the row is produced.
    await plainRows(em, 'select pg_advisory_xact_lock(hashtext(k)) from unnest(?::text[]) as k', [keys]);
  }

  /** A transaction's changes of status on claims under `registrables`, with every claim they can touch. */
  private async changeContext(
    em: EntityManager,
    scope: Scope,
    registrables: string[],
    interactive: boolean,
  ): Promise<ChangeContext> {
    return { em, scope, claims: await this.claimsOn(em, registrables), audit: [], interactive };
  }

  /**
   * Every pending, verified or blocked claim on `registrables`, any parent's: all the claims a change of
   * status under them can conflict with, block or unblock.
   */
  private async claimsOn(em: EntityManager, registrables: string[]): Promise<Domain[]> {
    return findBySql(
      em,
      Domain,
      `select d.* from unnest(?::text[]) as r(rev)
         join domains d on d.status = any(?) and ${familyOf('d', 'r.rev')}`,
      [registrables.map(reverse), [DomainStatus.PENDING, DomainStatus.VERIFIED, DomainStatus.BLOCKED]],
    );
  }

  /**
   * Records a lookup on the claim and what follows from it short of a change of status: the outcome, the
   * next check, a verified domain's run of absences. Returns the change of status it calls for, if any.
   */
  private recordLookup(domain: ClaimState, lookup: TxtLookup, now: Date): Transition | null {
    const outcome = this.outcomeOf(domain, lookup);
    domain.lastCheckedAt = now;
    domain.lastCheckOutcome = outcome;
    domain.lastCheckDetail = lookup.kind === 'error' ? lookup.code.slice(0, 64) : null;
    if (domain.status === DomainStatus.PENDING) {
      if (outcome === DnsCheckOutcome.FOUND) return 'verify';
      domain.nextCheckAt = addSeconds(now, this.pendingInterval(domain));
      return null;
    }
    if (domain.status !== DomainStatus.VERIFIED) return null;
    domain.nextCheckAt = addSeconds(now, DAY);
    if (outcome === DnsCheckOutcome.FOUND) {
      domain.absentChecks = 0;
      domain.absentSince = null;
      return null;
    }
    if (outcome === DnsCheckOutcome.DNS_ERROR) return null;
    domain.absentChecks += 1;
    domain.absentSince ??= now;
    const span = (now.getTime() - domain.absentSince.getTime()) / 1000;
    return domain.absentChecks >= ABSENCES_TO_UNVERIFY && span >= ABSENCE_SPAN_SECONDS ? 'unverify' : null;
  }

  /** A pending claim's record was found: verified, unless another parent got there first. */
  private verify(context: ChangeContext, domain: Domain): CheckResult {
    const now = this.clock.now();
    if (conflictingVerified(context.claims, domain.parent.id, domain.name)) {
      // Only a race reaches this: a refresh is told, the background marks the claim blocked.
      if (context.interactive) throw conflict(domain.name);
      this.setStatus(domain, DomainStatus.BLOCKED, now);
      domain.nextCheckAt = null;
      this.recordChange(context, domain, DomainStatus.PENDING, { reason: 'claimed by another parent' });
      return { domain, changed: true, others: [] };
    }
    Object.assign(domain, verifiedFields(now));
    this.recordChange(context, domain, DomainStatus.PENDING);
    return { domain, changed: true, others: this.blockOthers(context, domain) };
  }

  /** A verified domain's record has been absent long enough: it loses verification, and its admins are told. */
  private async unverify(context: ChangeContext, domain: Domain): Promise<CheckResult> {
    const now = this.clock.now();
    this.setStatus(domain, DomainStatus.UNVERIFIED, now);
    domain.nextCheckAt = null;
    this.recordChange(context, domain, DomainStatus.VERIFIED, {
      reason: `record absent on ${domain.absentChecks} checks since ${domain.absentSince!.toISOString()}`,
    });
    for (const email of await this.parentAdminEmails(context.em, domain.parent.id)) {
      this.outbox.enqueue(
        context.em,
        email,
        mailTemplates.domainUnverified(domain.name, this.instructions(domain).recordName),
      );
    }
    return { domain, changed: true, others: this.unblockOthers(context, domain) };
  }

  /** The whole TXT value must equal this claim's value (compared in constant time); a substring is not enough. */
  private outcomeOf(domain: ClaimState, lookup: TxtLookup): DnsCheckOutcome {
    if (lookup.kind === 'error') return DnsCheckOutcome.DNS_ERROR;
    if (lookup.kind === 'absent') return DnsCheckOutcome.ABSENT;
    const expected = this.instructions(domain).recordValue;
    let found = false;
    for (const value of lookup.values) found = constantTimeEqual(value, expected) || found;
    return found ? DnsCheckOutcome.FOUND : DnsCheckOutcome.MISMATCH;
  }

  /** After a verification: other parents' pending claims on the name, its ancestors or subdomains are blocked. */
  private blockOthers(context: ChangeContext, verified: Domain): Domain[] {
    const now = this.clock.now();
    const blocked = context.claims.filter(
      (other) =>
        other.status === DomainStatus.PENDING &&
        other.parent.id !== verified.parent.id &&
        overlaps(other.name, verified.name),
    );
    for (const other of blocked) {
      this.setStatus(other, DomainStatus.BLOCKED, now);
      other.nextCheckAt = null;
      this.recordChange(context, other, DomainStatus.PENDING, { reason: 'claimed by another parent' });
    }
    return blocked;
  }

  /** When a verified claim ends, the claims it blocked may be pursued again, with a fresh window. */
  private unblockOthers(context: ChangeContext, ended: Domain): Domain[] {
    const now = this.clock.now();
    const claims = context.claims.filter((claim) => claim !== ended);
    const unblocked = claims.filter(
      (other) =>
        other.status === DomainStatus.BLOCKED &&
        overlaps(other.name, ended.name) &&
        !conflictingVerified(claims, other.parent.id, other.name),
    );
    for (const other of unblocked) {
      this.setStatus(other, DomainStatus.PENDING, now);
      other.claimStartedAt = now;
      other.nextCheckAt = now;
      this.recordChange(context, other, DomainStatus.BLOCKED, { reason: 'the conflicting claim ended' });
    }
    return unblocked;
  }

  /** The change's audit event, recorded with the others of its transaction (recordForParents). */
  private recordChange(
    context: ChangeContext,
    domain: ChangedClaim,
    before: DomainStatus,
    details: Record<string, unknown> = {},
  ): void {
    context.audit.push(changeEntry(context.scope, domain, before, details));
  }

  /** A change of status also ends any background lease: a restarted or unblocked claim is due at once. */
  private setStatus(domain: Domain, status: DomainStatus, now: Date): void {
    domain.status = status;
    domain.statusChangedAt = now;
    domain.checkLeasedUntil = null;
  }

  /** A pending claim past its 7-day window. */
  private expired(domain: ClaimState): boolean {
    return domain.status === DomainStatus.PENDING && this.claimExpiresAt(domain) <= this.clock.now();
  }

  /** Every 30 s for the first 10 minutes, then a tenth of the claim's age, at most hourly. */
  private pendingInterval(domain: ClaimState): number {
    const age = (this.clock.now().getTime() - domain.claimStartedAt.getTime()) / 1000;
    if (age < EARLY_PHASE_SECONDS) return EARLY_INTERVAL_SECONDS;
    return Math.min(Math.max(60, Math.round(age / 10)), MAX_PENDING_INTERVAL_SECONDS);
  }

  private async parentAdminEmails(em: EntityManager, parentId: string): Promise<string[]> {
    const memberships = await em.find(
      Membership,
      {
        removedAt: null,
        organization: { parent: parentId },
        $or: Object.values(OrganizationKind).map((kind) => ({
          organization: { kind },
          role: { $in: [...IDENTITY_ADMIN_ROLES[kind]] },
        })),
      },
      { populate: ['user'] },
    );
    return [...new Set(memberships.map((m) => m.user.email))];
  }

  /** A domain of a parent the caller administers; other ids read as not found. */
  private async requireDomain(
    scope: Scope,
    domainId: string,
    em: EntityManager,
    lock = false,
  ): Promise<Domain> {
    // Signed in first: otherwise an anonymous caller tells existing ids (UNAUTHENTICATED) from missing ones.
    this.access.requireViewer(scope);
    if (!isUuid(domainId)) throw notFound('Domain');
    const domain = await em.findOne(Domain, domainId, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
    if (!domain) throw notFound('Domain');
    try {
      await this.access.requireParentAdmin(scope, domain.parent.id, { em });
    } catch (error) {
      if (error instanceof AccessError && error.code === 'NOT_FOUND') throw notFound('Domain');
      throw error;
    }
    return domain;
  }

  private publish(domain: ChangedClaim, status?: 'REMOVED'): void {
    this.events.publish('DOMAIN_STATUS_CHANGED', domain.parent.id, {
      parentOrganizationId: domain.parent.id,
      domainId: domain.id,
      name: domain.name,
      status: status ?? domain.status,
      lastCheckOutcome: domain.lastCheckOutcome ?? null,
      occurredAt: this.clock.now(),
    });
  }
}

/** The audit event of a change of status, for the parent's organizations. */
function changeEntry(
  scope: Scope,
  domain: ChangedClaim,
  before: DomainStatus,
  details: Record<string, unknown> = {},
): { parentOrganizationId: string; entry: AuditEntry } {
  return {
    parentOrganizationId: domain.parent.id,
    entry: {
      action: `domain.${domain.status.toLowerCase()}`,
      targetType: 'Domain',
      targetId: domain.id,
      before: { status: before },
      after: { name: domain.name, status: domain.status, ...details },
      actorType: scope.viewer ? ActorType.USER : ActorType.SYSTEM,
    },
  };
}

/** The registrable domain of a claim's name: the unit of locking and of claimsOn. */
function registrableOf(name: string): string {
  return parseClaimableDomain(name).registrable;
}

function registrablesOf(names: string[]): string[] {
  return [...new Set(names.map(registrableOf))];
}

/** A pending claim whose record was found and whose family no other parent holds, as verified. */
function verifiedFields(now: Date): VerifiedFields {
  return {
    status: DomainStatus.VERIFIED,
    statusChangedAt: now,
    verifiedAt: now,
    absentChecks: 0,
    absentSince: null,
    nextCheckAt: addSeconds(now, DAY),
  };
}

/** Whether two names are one, or one is a subdomain of the other. */
function overlaps(a: string, b: string): boolean {
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);
}

/** Whether, among `claims`, another parent holds a verified claim on `name`, an ancestor or a subdomain of it. */
function conflictingVerified(claims: Domain[], parentId: string, name: string): boolean {
  return claims.some(
    (claim) =>
      claim.status === DomainStatus.VERIFIED && claim.parent.id !== parentId && overlaps(claim.name, name),
  );
}

/** Names are ASCII (A-labels), so reversing code units matches PostgreSQL's reverse(). */
function reverse(name: string): string {
  return name.split('').reverse().join('');
}

function timestamp(text: string | null): Date | null {
  return text === null ? null : new Date(text);
}

function unchanged(domain: Domain | null): CheckResult {
  return { domain, changed: false, others: [] };
}

function conflict(name: string): DomainError<DomainErrorCode> {
  return new DomainError(
    DomainErrorCode.DOMAIN_CONFLICT,
    `${name} (or a domain above or below it) is claimed by another organization.`,
    ['name'],
  );
}
