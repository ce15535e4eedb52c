// Verifies the audit log's hash chains. The database chains every event when its transaction commits
// (trigger audit_events_chain, Migration20261128235000): per chain, seq 1, 2, 3... and hash = SHA-256 of
// the canonical form below, which covers the event's content, its place and the previous event's hash.
// The hash is recomputed here rather than by the database's own function, so a rewritten function
// cannot vouch for rows it was rewritten to accept.
import { createHash } from 'node:crypto';

/** The `prev_hash` of the first event of a chain. */
const GENESIS_HASH = '0'.repeat(64);

/**
 * The hashed fields in their fixed order, each as PostgreSQL writes it as text (timestamps in UTC to
 * the microsecond, jsonb in its normalised form), so this side hashes exactly what the trigger hashed.
 */
const HASHED_FIELDS = `array[chain_key, seq::text, prev_hash, id::text,
  to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  actor_type, actor_user_id::text, actor_email, action, target_type, target_id::text,
  organization_id::text, parent_organization_id::text, before::text, after::text, request_id]`;

/** The form that is hashed: the JSON array of the fields, written as `jsonb_build_array(...)::text` writes it. */
function canonicalAuditEvent(fields: ReadonlyArray<string | null>): string {
  return `[${fields.map((field) => (field === null ? 'null' : JSON.stringify(field))).join(', ')}]`;
}

function auditEventHash(fields: ReadonlyArray<string | null>): string {
  return createHash('sha256').update(canonicalAuditEvent(fields), 'utf8').digest('hex');
}

export enum ChainProblem {
  /** The event's content no longer matches its hash. */
  CONTENT_EDITED = 'CONTENT_EDITED',
  /** Positions are missing before this event: events were deleted. */
  MISSING_EVENTS = 'MISSING_EVENTS',
  /** The event was chained after another event than the one now before it. */
  REORDERED = 'REORDERED',
  /** The event's prev_hash is the hash of no event of the chain: the one before it was rewritten. */
  HASH_MISMATCH = 'HASH_MISMATCH',
  /** A committed event outside every chain: written with the triggers off. */
  UNCHAINED = 'UNCHAINED',
}

export interface BrokenLink {
  chainKey: string | null;
  seq: number | null;
  eventId: string;
  problem: ChainProblem;
  detail: string;
}

export interface ChainReport {
  chainKey: string;
  /** Events checked: the whole chain when it is intact, up to the broken link otherwise. */
  events: number;
  broken: BrokenLink | null;
}

export interface AuditVerification {
  ok: boolean;
  chains: ChainReport[];
  events: number;
  unchained: BrokenLink[];
}

/** What the verifier needs of a connection; a `pg` Client or Pool. */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

interface ChainedRow {
  id: string;
  /** A bigint, which pg hands over as text. */
  seq: string;
  prev_hash: string;
  hash: string;
  fields: Array<string | null>;
}

async function rows<T>(db: SqlClient, text: string, values: unknown[] = []): Promise<T[]> {
  return (await db.query(text, values)).rows as T[];
}

/**
 * Walks every chain, or the one of `chainKey` (a parent organization id, the id of an organization
 * without a parent, or `global`), and reports the first broken link of each. Deleting the newest events
 * of a chain leaves no trace in it; every other edit, deletion or reordering does.
 */
export async function verifyAuditChains(
  db: SqlClient,
  options: { chainKey?: string; batchSize?: number } = {},
): Promise<AuditVerification> {
  const keys = await rows<{ chain_key: string }>(
    db,
    `select distinct chain_key from audit_events where chain_key is not null
       and ($1::text is null or chain_key = $1) order by chain_key`,
    [options.chainKey ?? null],
  );
  const chains: ChainReport[] = [];
  for (const { chain_key } of keys) chains.push(await verifyChain(db, chain_key, options.batchSize ?? 1000));
  const unchained = (
    await rows<{ id: string }>(db, `select id from audit_events where hash is null order by id limit 10`)
  ).map((row): BrokenLink => ({
    chainKey: null,
    seq: null,
    eventId: row.id,
    problem: ChainProblem.UNCHAINED,
    detail: 'the event has no place in any chain',
  }));
  return {
    ok: unchained.length === 0 && chains.every((chain) => !chain.broken),
    chains,
    events: chains.reduce((sum, chain) => sum + chain.events, 0),
    unchained,
  };
}

async function verifyChain(db: SqlClient, chainKey: string, batchSize: number): Promise<ChainReport> {
  let previous = { seq: 0, id: '00000000-0000-0000-0000-000000000000', hash: GENESIS_HASH };
  let events = 0;
  for (;;) {
    // Keyset on (seq, id), not seq alone, so a repeated seq cannot hide a row from the walk.
    const batch = await rows<ChainedRow>(
      db,
      `select id, seq, prev_hash, hash, ${HASHED_FIELDS} as fields from audit_events
        where chain_key = $1 and (seq, id) > ($2, $3::uuid) order by seq, id limit $4`,
      [chainKey, previous.seq, previous.id, batchSize],
    );
    for (const row of batch) {
      const broken = await brokenLink(db, chainKey, previous, row);
      if (broken) return { chainKey, events, broken };
      events++;
      previous = { seq: Number(row.seq), id: row.id, hash: row.hash };
    }
    if (batch.length < batchSize) return { chainKey, events, broken: null };
  }
}

async function brokenLink(
  db: SqlClient,
  chainKey: string,
  previous: { seq: number; id: string; hash: string },
  row: ChainedRow,
): Promise<BrokenLink | null> {
  const seq = Number(row.seq);
  const expected = previous.seq + 1;
  const at = (problem: ChainProblem, detail: string): BrokenLink => ({
    chainKey,
    seq,
    eventId: row.id,
    problem,
    detail,
  });
  if (seq > expected) {
    const missing = seq === expected + 1 ? `seq ${expected} is` : `seq ${expected} to ${seq - 1} are`;
    return at(ChainProblem.MISSING_EVENTS, `${missing} missing before it`);
  }
  const before = previous.seq === 0 ? 'the start of the chain' : `seq ${previous.seq} (event ${previous.id})`;
  if (seq < expected) return at(ChainProblem.REORDERED, `its seq repeats that of ${before}`);
  if (row.prev_hash !== previous.hash) {
    const [origin] = await rows<{ id: string; seq: string }>(
      db,
      `select id, seq from audit_events where chain_key = $1 and hash = $2 limit 1`,
      [chainKey, row.prev_hash],
    );
    if (origin || row.prev_hash === GENESIS_HASH) {
      const chainedAfter = origin ? `seq ${origin.seq} (event ${origin.id})` : 'the start of the chain';
      return at(ChainProblem.REORDERED, `it was chained after ${chainedAfter}, but now follows ${before}`);
    }
    return at(ChainProblem.HASH_MISMATCH, `its prev_hash is not the hash of ${before}`);
  }
  if (auditEventHash(row.fields) !== row.hash)
    return at(ChainProblem.CONTENT_EDITED, 'its content does not match its hash');
  return null;
}

/** One line per finding, for the command and for logs. */
export function describeVerification(result: AuditVerification): string[] {
  const chains = `${result.chains.length} chain${result.chains.length === 1 ? '' : 's'}`;
  if (result.ok) return [`OK: ${result.events} audit events in ${chains} verified.`];
  const lines = result.chains
    .filter((chain) => chain.broken)
    .map((chain) => {
      const { seq, eventId, problem, detail } = chain.broken!;
      return `BROKEN chain ${chain.chainKey} at seq ${seq}, event ${eventId}: ${problem}: ${detail}.`;
    });
  for (const link of result.unchained) lines.push(`UNCHAINED event ${link.eventId}: ${link.detail}.`);
  const intact = result.chains.filter((chain) => !chain.broken).length;
  lines.push(`${intact} of ${chains} intact.`);
  return lines;
}
