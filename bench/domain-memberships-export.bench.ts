// The domain-memberships CSV export of a parent with 100,000 accounts on one verified domain (one
// membership each), streamed over HTTP from a real app, against a baseline in the same run: the same
// rows read raw through pg from a cursor, in batches, and written to a null stream. Reports time, rows
// per second and peak RSS growth of both; the target is on the export's peak RSS growth. The app, the
// HTTP client and the baseline share this process, so RSS counts server and client together; each phase
// starts after a full GC. Peak RSS includes the slack V8 lets the heap grow into at this allocation rate
// (it shrinks under --max-old-space-size), so the heap still used after a GC at the end of each phase is
// reported too: that is what the phase kept.
import { once } from 'node:events';
import { Writable } from 'node:stream';
import pg from 'pg';
import { uuidv7 } from '../src/lib/ids.js';
import { OrganizationKind } from '../src/modules/organizations/roles.js';
import { report } from './report.js';
import type { BenchResult } from './run.js';
import { benchApp, benchDatabase, fullGc, scaled, signedInUser, v7 } from './support.js';

const ROWS = scaled(100_000);
const DOMAIN = 'bench-acme.example';
const DATABASE = 'bench_domain_memberships';
const BASELINE_BATCH = 2_000;
const MB = 1024 * 1024;

// One pass of a server-side cursor: the floor for reading these rows, whatever the plan of a keyset query.
const BASELINE_SQL = `
select u.id as user_id, u.email, m.id as membership_id, m.role, m.source, m.created_at,
       o.id as organization_id, o.name, o.slug, o.kind, o.parent_id
  from users u
  join memberships m on m.user_id = u.id and m.removed_at is null
  join organizations o on o.id = m.organization_id
 where split_part(u.email, '@', 2) = $1
 order by u.id, m.id`;

interface Measured {
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSecond: number;
  rssStartMB: number;
  rssPeakMB: number;
  rssGrowthMB: number;
  /** Heap in use after a full GC at the end, minus before: what the phase kept, unlike GC slack. */
  heapRetainedMB: number;
}

async function measure(work: (sample: () => void) => Promise<{ rows: number; bytes: number }>) {
  fullGc();
  await new Promise((resolve) => setTimeout(resolve, 100));
  fullGc();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.memoryUsage.rss();
  let peak = start;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  // The work samples too: a busy event loop delays this timer.
  const timer = setInterval(sample, 5);
  const started = performance.now();
  try {
    const { rows, bytes } = await work(sample);
    const seconds = (performance.now() - started) / 1000;
    sample();
    fullGc();
    const heapRetained = process.memoryUsage().heapUsed - heapBefore;
    return {
      rows,
      bytes,
      seconds: round(seconds, 3),
      rowsPerSecond: Math.round(rows / seconds),
      rssStartMB: round(start / MB),
      rssPeakMB: round(peak / MB),
      rssGrowthMB: round((peak - start) / MB),
      heapRetainedMB: round(heapRetained / MB),
    } satisfies Measured;
  } finally {
    clearInterval(timer);
  }
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

async function seed(databaseUrl: string, organizationId: string, parentId: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const firstMs = Date.now() - ROWS;
    await client.query('begin');
    await client.query(
      `insert into domains (id, parent_id, name, status, verification_token, created_at, claim_started_at,
                            status_changed_at, verified_at, absent_checks)
       values ($1, $2, $3, 'VERIFIED', md5(random()::text), now(), now(), now(), now(), 0)`,
      [uuidv7(), parentId, DOMAIN],
    );
    await client.query(
      `insert into users (id, email, created_at, updated_at)
       select ${v7('u')}, 'user' || g || '@' || $2, now(), now() from generate_series(1, $3::int) g`,
      [firstMs, DOMAIN, ROWS],
    );
    await client.query(
      `insert into memberships (id, organization_id, user_id, role, source, created_at, updated_at)
       select ${v7('m')}, $2, ${v7('u')}, 'MEMBER', 'SCIM', now(), now() from generate_series(1, $3::int) g`,
      [firstMs, organizationId, ROWS],
    );
    await client.query('commit');
    await client.query('analyze users, memberships, organizations, domains');
  } finally {
    await client.end();
  }
}

/** The baseline: the same rows, raw, fetched from a cursor in batches, written as lines to nowhere. */
async function rawRead(databaseUrl: string, sample: () => void) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  let rows = 0;
  let bytes = 0;
  try {
    await client.query('begin read only');
    await client.query(`declare baseline no scroll cursor for ${BASELINE_SQL}`, [DOMAIN]);
    for (;;) {
      const batch = (await client.query(`fetch ${BASELINE_BATCH} from baseline`)).rows;
      for (const row of batch) {
        const line = `${Object.values(row).join(',')}\r\n`;
        bytes += Buffer.byteLength(line);
        if (!sink.write(line)) await once(sink, 'drain');
      }
      rows += batch.length;
      sample();
      if (batch.length < BASELINE_BATCH) break;
    }
    await client.query('commit');
  } finally {
    await client.end();
  }
  return { rows, bytes };
}

/** The figure: the CSV download over HTTP, read chunk by chunk and counted, never held. */
async function download(url: string, token: string, sample: () => void) {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200 || !response.body) {
    throw new Error(`The export answered ${response.status}: ${await response.text()}`);
  }
  let bytes = 0;
  let lines = 0;
  // Node 20 web streams are async iterables; its type declarations do not say so.
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    const buffer = Buffer.from(chunk);
    bytes += buffer.byteLength;
    for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) lines++;
    sample();
  }
  return { rows: lines - 1, bytes };
}

export default async function domainMembershipsExport(): Promise<BenchResult> {
  const database = await benchDatabase(DATABASE);
  const startedAt = performance.now();
  try {
    const app = await benchApp(database.url);
    try {
      const baseUrl = await app.listen();
      const { token, viewer } = await signedInUser(app, 'admin@bench-admin.example');
      const organization = await app.services.organizations.create(
        { em: app.orm.em.fork(), viewer, requestId: 'bench' },
        { name: 'Bench Corp', kind: OrganizationKind.ENTERPRISE },
      );
      const parentId = organization.parent!.id;
      const seedStarted = performance.now();
      await seed(database.url, organization.id, parentId);
      const seedSeconds = round((performance.now() - seedStarted) / 1000, 2);
      console.log(`seeded ${ROWS.toLocaleString('en')} accounts and memberships in ${seedSeconds} s`);

      const baseline = await measure((sample) => rawRead(database.url, sample));
      const exported = await measure((sample) =>
        download(`${baseUrl}/parents/${parentId}/domain-memberships.csv`, token, sample),
      );
      for (const [what, result] of [
        ['baseline', baseline],
        ['export', exported],
      ] as const) {
        if (result.rows !== ROWS) throw new Error(`The ${what} read ${result.rows} rows, not ${ROWS}.`);
      }
      const what = `${ROWS.toLocaleString('en')} rows`;
      return {
        rows: ROWS,
        seedSeconds,
        export: exported,
        baseline,
        totalSeconds: round((performance.now() - startedAt) / 1000, 1),
        figures: [
          report({
            metric: `domain-memberships CSV export over HTTP, peak RSS growth (${what})`,
            value: exported.rssGrowthMB,
            unit: 'MB',
            baseline: baseline.rssGrowthMB,
            baselineName: 'raw pg cursor read of the same rows to a null sink',
            target: { of: 'value', op: '<', value: 50 },
          }),
          report({
            metric: `domain-memberships CSV export over HTTP, heap retained after GC (${what})`,
            value: exported.heapRetainedMB,
            unit: 'MB',
            baseline: baseline.heapRetainedMB,
            baselineName: 'raw pg cursor read of the same rows to a null sink',
          }),
          report({
            metric: `domain-memberships CSV export over HTTP, throughput (${what})`,
            value: exported.rowsPerSecond,
            unit: 'rows/s',
            baseline: baseline.rowsPerSecond,
            baselineName: 'raw pg cursor read of the same rows to a null sink',
          }),
        ],
      };
    } finally {
      await app.close();
    }
  } finally {
    await database.close();
  }
}
