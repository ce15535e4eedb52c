// 10,000 users and 200 groups pushed through our SCIM API by several concurrent clients (as an IdP's
// first sync does), against a baseline in the same run: the same rows inserted raw into PostgreSQL in
// batches. Reports users/s for both, the ratio, and the server process's peak RSS during the push.
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { dropDatabase, ensureDatabase } from '../src/db/database.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../src/db/embedded.js';
import { uuidv7 } from '../src/lib/ids.js';
import { Domain, DomainStatus } from '../src/modules/domains/domain.entity.js';
import { OrganizationKind } from '../src/modules/organizations/roles.js';
import { User } from '../src/modules/sessions/user.entity.js';

const USERS = 10_000;
const GROUPS = 200;
const CLIENTS = 8;
const DOMAIN = 'bench-scim.example';
const DATABASE = 'bench_scim_push';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const MB = 1024 * 1024;

async function pool<T>(items: T[], workers: number, run: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

export default async function scimPush(): Promise<Record<string, unknown>> {
  let embedded: EmbeddedDatabase | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    embedded = await startEmbeddedPostgres({
      dir: path.join(os.tmpdir(), `bench-scim-${process.pid}`),
      persistent: false,
    });
    serverUrl = embedded.url;
  }
  await dropDatabase(serverUrl, DATABASE);
  const databaseUrl = await ensureDatabase(serverUrl, DATABASE);
  const app = await createApp({
    config: loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent' }),
    databaseUrl,
  });
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
      {
        name: 'bench',
      },
    );
    const base = `${url}/scim/v2/${directory.id}`;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' };

    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
    const rssBefore = process.memoryUsage().rss;
    const ids: string[] = [];
    const start = process.hrtime.bigint();
    await pool(
      Array.from({ length: USERS }, (_, i) => i),
      CLIENTS,
      async (i) => {
        const email = `user${i}@${DOMAIN}`;
        const response = await fetch(`${base}/Users`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            schemas: [USER_SCHEMA],
            userName: email,
            name: { givenName: 'U', familyName: `${i}` },
            emails: [{ value: email, primary: true, type: 'work' }],
            active: true,
          }),
        });
        if (response.status !== 201)
          throw new Error(`user ${i}: HTTP ${response.status} ${await response.text()}`);
        ids[i] = ((await response.json()) as { id: string }).id;
      },
    );
    const userSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    await pool(
      Array.from({ length: GROUPS }, (_, g) => g),
      CLIENTS,
      async (g) => {
        const members = ids
          .slice(g * (USERS / GROUPS), (g + 1) * (USERS / GROUPS))
          .map((value) => ({ value }));
        const response = await fetch(`${base}/Groups`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ schemas: [GROUP_SCHEMA], displayName: `anthropic-group-${g}`, members }),
        });
        if (response.status !== 201) throw new Error(`group ${g}: HTTP ${response.status}`);
      },
    );
    const totalSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    clearInterval(sampler);

    // Baseline: the same user rows (and a membership each) inserted raw, 1,000 per statement.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const baselineStart = process.hrtime.bigint();
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
            directory.id,
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
    const baselineSeconds = Number(process.hrtime.bigint() - baselineStart) / 1e9;

    const figure = USERS / userSeconds;
    const baseline = USERS / baselineSeconds;
    const result = {
      users: USERS,
      groups: GROUPS,
      clients: CLIENTS,
      figure: {
        name: 'users/s provisioned through SCIM (HTTP, JSON, account, membership, audit)',
        value: Math.round(figure),
      },
      baseline: { name: 'users/s raw batched INSERTs of the same rows', value: Math.round(baseline) },
      ratio: Number((figure / baseline).toFixed(4)),
      groupsAndMembersSeconds: Number((totalSeconds - userSeconds).toFixed(2)),
      serverPeakRssGrowthMB: Number(((peakRss - rssBefore) / MB).toFixed(1)),
      target: 'none set here: the performance issue sets it',
    };
    console.log(`figure   ${result.figure.value} users/s through SCIM (${CLIENTS} clients)`);
    console.log(`baseline ${result.baseline.value} users/s raw batched inserts`);
    console.log(
      `ratio    ${result.ratio}; groups with ${USERS} memberships in ${result.groupsAndMembersSeconds}s; peak RSS +${result.serverPeakRssGrowthMB} MB`,
    );
    return result;
  } finally {
    await app.close();
    await dropDatabase(serverUrl, DATABASE).catch(() => {});
    await embedded?.stop();
  }
}
