// Paging deep into large lists: an organization of 100,000 members read through the GraphQL members
// connection at page 1 and at page 1,000 (keyset cursors should make both cost the same), and a SCIM
// directory of 100,000 users looked up by `filter=userName eq "..."`: the SQL that filter compiles to is
// captured as the app runs it and EXPLAINed, to tell whether PostgreSQL finds the user through an index.
// Rows are seeded with one INSERT ... SELECT generate_series each, not through the ORM.
import { Cursor } from '@mikro-orm/core';
import pg from 'pg';
import { OrganizationKind } from '../src/modules/organizations/roles.js';
import { report } from './report.js';
import type { BenchResult } from './run.js';
import { benchApp, benchDatabase, median, scaled, secondsSince, signedInUser, v7 } from './support.js';

const ROWS = scaled(100_000);
const PAGE_SIZE = 20;
const DEEP_PAGE = Math.min(1_000, Math.floor(ROWS / PAGE_SIZE));
const SAMPLES = 40;
const DOMAIN = 'bench-paging.example';
const MEMBERS = `query ($organizationId: ID!, $after: String) {
  members(organizationId: $organizationId, first: ${PAGE_SIZE}, after: $after) {
    nodes { id role user { id email } }
    pageInfo { endCursor hasNextPage }
  }
}`;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

async function seed(databaseUrl: string, organizationId: string, directoryId: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const firstMs = Date.now() - 3 * ROWS;
    await client.query('begin');
    await client.query(
      `insert into users (id, email, created_at, updated_at)
       select ${v7('u')}, 'member' || g || '@' || $2, now(), now() from generate_series(1, $3::int) g`,
      [firstMs, DOMAIN, ROWS],
    );
    await client.query(
      `insert into memberships (id, organization_id, user_id, role, source, created_at, updated_at)
       select ${v7('m')}, $2, ${v7('u')}, 'MEMBER', 'SCIM', now(), now() from generate_series(1, $3::int) g`,
      [firstMs, organizationId, ROWS],
    );
    await client.query(
      `insert into directory_users (id, directory_id, user_name, user_name_key, emails, created_at, updated_at)
       select ${v7('d')}, $2, 'User' || g || '@' || $3, 'user' || g || '@' || $3,
              jsonb_build_array(jsonb_build_object('value', 'user' || g || '@' || $3, 'primary', true)),
              to_timestamp(($1::bigint + g) / 1000.0), to_timestamp(($1::bigint + g) / 1000.0)
         from generate_series(1, $4::int) g`,
      [firstMs + ROWS, directoryId, DOMAIN, ROWS],
    );
    await client.query('commit');
    await client.query('analyze users, memberships, directory_users');
  } finally {
    await client.end();
  }
}

async function timed(run: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

export default async function paging(): Promise<BenchResult> {
  const database = await benchDatabase('bench_paging');
  const app = await benchApp(database.url);
  try {
    const url = await app.listen();
    const { token, viewer } = await signedInUser(app, `owner@${DOMAIN}`);
    const organization = await app.services.organizations.create(
      { em: app.orm.em.fork(), viewer, requestId: 'bench' },
      { name: 'Bench Paging', kind: OrganizationKind.ENTERPRISE },
    );
    const { directory, token: scimToken } = await app.services.directories.create(
      { em: app.orm.em.fork(), viewer, requestId: 'bench' },
      organization.parent!.id,
      { name: 'bench' },
    );
    const seedStart = performance.now();
    await seed(database.url, organization.id, directory.id);
    console.log(
      `seeded ${ROWS.toLocaleString('en')} members and directory users in ${secondsSince(seedStart).toFixed(1)} s`,
    );

    // Members: page 1, and page DEEP_PAGE through a cursor built the way page.ts builds them (checked on page 1).
    const members = async (after: string | null) => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: MEMBERS, variables: { organizationId: organization.id, after } }),
      });
      const body = (await response.json()) as {
        data?: { members: { nodes: Array<{ id: string }>; pageInfo: { endCursor: string } } };
      };
      if (body.data?.members.nodes.length !== PAGE_SIZE) throw new Error(`members: ${JSON.stringify(body)}`);
      return body.data.members;
    };
    const first = await members(null);
    if (first.pageInfo.endCursor !== Cursor.encode([first.nodes.at(-1)!.id]))
      throw new Error('The members cursor is no longer the encoded id: build the deep cursor another way.');
    const [previous] = await app.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ id: string }>>(
        'select id from memberships where organization_id = ? and removed_at is null order by id offset ? limit 1',
        [organization.id, (DEEP_PAGE - 1) * PAGE_SIZE - 1],
      );
    const deepCursor = Cursor.encode([previous!.id]);
    const pageOne: number[] = [];
    const pageDeep: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      pageOne.push(await timed(() => members(null).then(() => undefined)));
      pageDeep.push(await timed(() => members(deepCursor).then(() => undefined)));
    }

    // SCIM: the filtered list over HTTP, with every SQL statement it runs on directory_users captured.
    const knex = app.orm.em.getKnex();
    const captured: Array<{ sql: string; bindings: unknown[] }> = [];
    const capture = (query: { sql: string; bindings?: unknown[] }) => {
      if (/\bdirectory_users\b/.test(query.sql))
        captured.push({ sql: query.sql, bindings: query.bindings ?? [] });
    };
    const userName = `User${Math.ceil(ROWS / 2)}@${DOMAIN}`;
    const filtered = async () => {
      const filter = encodeURIComponent(`userName eq "${userName.toLowerCase()}"`);
      const response = await fetch(`${url}/scim/v2/${directory.id}/Users?filter=${filter}`, {
        headers: { authorization: `Bearer ${scimToken}` },
      });
      const body = (await response.json()) as { totalResults?: number };
      if (body.totalResults !== 1)
        throw new Error(`SCIM filter: HTTP ${response.status} ${JSON.stringify(body)}`);
    };
    knex.on('query', capture);
    await filtered();
    knex.off('query', capture);
    if (captured.length === 0) throw new Error('No query on directory_users was captured.');
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const scans: PlanNode[] = [];
    // The event carries the statement as sent: native $n placeholders, values apart.
    for (const { sql, bindings } of captured) {
      const explained = await client.query(`explain (analyze, format json) ${sql}`, bindings);
      const plan = (explained.rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan;
      scans.push(...nodesOf(plan).filter((node) => node['Relation Name'] === 'directory_users'));
    }
    const describe = (node: PlanNode) =>
      `${node['Node Type']}${node['Index Name'] ? ` using ${node['Index Name']}` : ''}` +
      `${node['Index Cond'] ? ` on ${node['Index Cond']}` : ''}`;
    for (const node of scans) console.log(`  plan: ${describe(node)}`);
    const rowsRead = Math.max(
      ...scans.map(
        (node) =>
          ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) * (node['Actual Loops'] ?? 1),
      ),
    );
    const seqScan = scans.some((node) => node['Node Type'] === 'Seq Scan');
    const byUserName = scans.some((node) => /user_name/.test(node['Index Cond'] ?? ''));
    const filterTimes: number[] = [];
    const rawTimes: number[] = [];
    try {
      for (let i = 0; i < SAMPLES; i++) {
        filterTimes.push(await timed(filtered));
        rawTimes.push(
          await timed(async () => {
            await client.query(
              'select * from directory_users where directory_id = $1 and user_name_key = $2',
              [directory.id, userName.toLowerCase()],
            );
          }),
        );
      }
    } finally {
      await client.end();
    }

    return {
      rows: ROWS,
      pageSize: PAGE_SIZE,
      samples: SAMPLES,
      scimQueries: captured.map((query) => query.sql),
      scimPlans: scans.map(describe),
      figures: [
        report({
          metric: `GraphQL members of a ${ROWS.toLocaleString('en')}-member organization, page ${DEEP_PAGE} (median latency)`,
          value: median(pageDeep),
          unit: 'ms',
          baseline: median(pageOne),
          baselineName: 'page 1 of the same connection',
          target: { of: 'ratio', op: '<=', value: 1.5 },
        }),
        report({
          metric: `SCIM Users?filter=userName eq at ${ROWS.toLocaleString('en')} directory users, rows read from directory_users`,
          value: rowsRead,
          unit: 'rows',
          baseline: 1,
          baselineName: 'the one row the filter matches',
          target: {
            text: 'an index scan on user_name, no Seq Scan on directory_users',
            met: !seqScan && byUserName,
          },
        }),
        report({
          metric: `SCIM Users?filter=userName eq at ${ROWS.toLocaleString('en')} directory users (median latency)`,
          value: median(filterTimes),
          unit: 'ms',
          baseline: median(rawTimes),
          baselineName: 'raw pg lookup on the (directory_id, user_name_key) unique index',
        }),
      ],
    };
  } finally {
    await app.close();
    await database.close();
  }
}
