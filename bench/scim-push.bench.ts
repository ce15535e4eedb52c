// 10,000 users and 200 groups pushed through our SCIM API by several concurrent clients (as an IdP's
// first sync does), against baselines in the same run: single-row insert transactions on as many raw pg
// connections (what one provisioned user costs PostgreSQL at least), and the same rows inserted raw in
// batches (the floor for group memberships, which a group POST writes many at a time). The clients run
// in a worker thread (bench/load.ts), as the GraphQL bench's do. Also reports the server's peak heap
// growth during the push, and the process's peak RSS growth (server and clients).
import pg from 'pg';
import { uuidv7 } from '../src/lib/ids.js';
import { Domain, DomainStatus } from '../src/modules/domains/domain.entity.js';
import { OrganizationKind } from '../src/modules/organizations/roles.js';
import { User } from '../src/modules/sessions/user.entity.js';
import { push } from './load.js';
import { report } from './report.js';
import type { BenchResult } from './run.js';
import { benchApp, benchDatabase, scaled, secondsSince } from './support.js';

const USERS = scaled(10_000);
const GROUPS = Math.min(200, USERS);
const CLIENTS = 8;
const RAW_TRANSACTIONS_SECONDS = 5;
const DOMAIN = 'bench-scim.example';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const MB = 1024 * 1024;

/** BEGIN; INSERT one row; COMMIT on each of CLIENTS connections, for a fixed time: transactions per second. */
async function rawTransactionsPerSecond(databaseUrl: string, directoryId: string): Promise<number> {
  const clients = Array.from({ length: CLIENTS }, () => new pg.Client({ connectionString: databaseUrl }));
  await Promise.all(clients.map((client) => client.connect()));
  try {
    await clients[0]!.query(
      `create table bench_raw_users (id uuid primary key, directory_id uuid, user_name text, emails jsonb,
                                     created_at timestamptz)`,
    );
    let transactions = 0;
    const start = performance.now();
    const end = start + RAW_TRANSACTIONS_SECONDS * 1000;
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = 0; performance.now() < end; i++) {
          const email = `raw${c}-${i}@${DOMAIN}`;
          await client.query('begin');
          await client.query('insert into bench_raw_users values ($1, $2, $3, $4, $5)', [
            uuidv7(),
            directoryId,
            email,
            JSON.stringify([{ value: email }]),
            new Date(),
          ]);
          await client.query('commit');
          transactions++;
        }
      }),
    );
    const perSecond = transactions / secondsSince(start);
    await clients[0]!.query('drop table bench_raw_users');
    return perSecond;
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
}

/** The same user rows (and a membership each) inserted raw, 1,000 per statement: rows per second. */
async function rawBatchedRowsPerSecond(databaseUrl: string, directoryId: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const start = performance.now();
  try {
    await client.query('begin');
    await client.query(
      `create temp table raw_users (id uuid, directory_id uuid, user_name text, emails jsonb, created_at timestamptz)`,
    );
    await client.query(`create temp table raw_accounts (id uuid, email text)`);
    for (let offset = 0; offset < USERS; offset += 1000) {
      const values: unknown[] = [];
      const rows: string[] = [];
      for (let i = offset; i < Math.min(USERS, offset + 1000); i++) {
        const n = values.length;
        values.push(
          uuidv7(),
          directoryId,
          `raw${i}@${DOMAIN}`,
          JSON.stringify([{ value: `raw${i}@${DOMAIN}` }]),
          new Date(),
        );
        rows.push(`($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5})`);
      }
      await client.query(`insert into raw_users values ${rows.join(',')}`, values);
      await client.query(
        `insert into raw_accounts select gen_random_uuid(), user_name from raw_users order by id desc limit ${rows.length}`,
      );
    }
    await client.query('commit');
  } finally {
    await client.end();
  }
  return USERS / secondsSince(start);
}

export default async function scimPush(): Promise<BenchResult> {
  const database = await benchDatabase('bench_scim_push');
  const app = await benchApp(database.url);
  try {
    const url = await app.listen();
    const em = app.orm.em.fork();
    const owner = new User(`owner@${DOMAIN}`, new Date());
    await em.persistAndFlush(owner);
    const viewer = { userId: owner.id, email: owner.email, staffRole: null, sessionId: uuidv7() };
    const organization = await app.services.organizations.create(
      { em, viewer, requestId: 'bench' },
      { name: 'Bench SCIM', kind: OrganizationKind.ENTERPRISE },
    );
    const domain = new Domain(organization.parent!, DOMAIN, uuidv7(), new Date());
    domain.status = DomainStatus.VERIFIED;
    await em.persistAndFlush(domain);
    const { directory, token } = await app.services.directories.create(
      { em: app.orm.em.fork(), viewer, requestId: 'bench' },
      organization.parent!.id,
      { name: 'bench' },
    );
    const base = `${url}/scim/v2/${directory.id}`;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' };

    let peakRss = process.memoryUsage().rss;
    let peakHeap = process.memoryUsage().heapUsed;
    const sampler = setInterval(() => {
      const { rss, heapUsed } = process.memoryUsage();
      peakRss = Math.max(peakRss, rss);
      peakHeap = Math.max(peakHeap, heapUsed);
    }, 50);
    const rssBefore = process.memoryUsage().rss;
    const heapBefore = process.memoryUsage().heapUsed;
    const users = await push({
      connections: CLIENTS,
      requests: Array.from({ length: USERS }, (_, i) => {
        const email = `user${i}@${DOMAIN}`;
        return {
          url: `${base}/Users`,
          method: 'POST',
          headers,
          body: JSON.stringify({
            schemas: [USER_SCHEMA],
            userName: email,
            name: { givenName: 'U', familyName: `${i}` },
            emails: [{ value: email, primary: true, type: 'work' }],
            active: true,
          }),
        };
      }),
    });
    const ids = users.responses.map(({ status, body }, i) => {
      if (status !== 201) throw new Error(`user ${i}: HTTP ${status} ${body}`);
      return (JSON.parse(body) as { id: string }).id;
    });
    const perGroup = Math.floor(USERS / GROUPS);
    const groups = await push({
      connections: CLIENTS,
      requests: Array.from({ length: GROUPS }, (_, g) => ({
        url: `${base}/Groups`,
        method: 'POST',
        headers,
        body: JSON.stringify({
          schemas: [GROUP_SCHEMA],
          displayName: `anthropic-group-${g}`,
          members: ids.slice(g * perGroup, (g + 1) * perGroup).map((value) => ({ value })),
        }),
      })),
    });
    groups.responses.forEach(({ status, body }, g) => {
      if (status !== 201) throw new Error(`group ${g}: HTTP ${status} ${body}`);
    });
    clearInterval(sampler);

    const rawTransactions = await rawTransactionsPerSecond(database.url, directory.id);
    const rawBatched = await rawBatchedRowsPerSecond(database.url, directory.id);
    return {
      users: USERS,
      groups: GROUPS,
      clients: CLIENTS,
      serverPeakHeapGrowthMB: Number(((peakHeap - heapBefore) / MB).toFixed(1)),
      peakRssGrowthMB: Number(((peakRss - rssBefore) / MB).toFixed(1)),
      figures: [
        report({
          metric: `SCIM user POSTs (HTTP, JSON, account, membership, audit; ${CLIENTS} clients)`,
          value: USERS / users.seconds,
          unit: 'users/s',
          baseline: rawTransactions,
          baselineUnit: 'tx/s',
          baselineName: `raw BEGIN; INSERT one row; COMMIT on ${CLIENTS} pg connections`,
          target: { of: 'ratio', op: '>=', value: 0.1 },
        }),
        report({
          metric: `SCIM group POSTs, ${GROUPS} groups of ${perGroup} members`,
          value: (GROUPS * perGroup) / groups.seconds,
          unit: 'memberships/s',
          baseline: rawBatched,
          baselineUnit: 'rows/s',
          baselineName: 'raw multi-row INSERTs, 1,000 rows per statement',
          target: { of: 'ratio', op: '>=', value: 0.25 },
        }),
      ],
    };
  } finally {
    await app.close();
    await database.close();
  }
}
