// Plans of the statements hot paths run, EXPLAINed on a database of the test's own (migrated, from the
// template) with the rows and statistics the test sets up: which indexes a statement uses, and how often
// each node runs, are asserted rather than hoped for.
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { dropDatabase, ensureDatabase } from '../../src/db/database.js';
import { positional } from '../../src/db/plain-reads.js';

export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  /** With analyze only. */
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Join Filter'?: number;
  Plans?: PlanNode[];
}

/** The node and every node under it. */
export const nodesOf = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

export interface PlanDatabase {
  client: pg.Client;
  /** A parent organization the test's rows can belong to. */
  parentId: string;
  /**
   * The plan of `sql` (knex placeholders), run for real when `analyze` (in a transaction to roll back).
   * With `generic`, the plan made for any values, as a prepared statement gets after a few runs.
   */
  explain(
    sql: string,
    params: unknown[],
    options?: { analyze?: boolean; generic?: boolean },
  ): Promise<PlanNode>;
  close(): Promise<void>;
}

/** A value as PostgreSQL reads it from text: a string as it is, an array of strings as an array literal. */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value))
    return `{${value.map((item) => `"${String(item).replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
  throw new Error(`No text form for ${typeof value} here.`);
}

export async function planDatabase(prefix: string): Promise<PlanDatabase> {
  const serverUrl = inject('databaseServerUrl');
  const database = `${prefix}_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({
    connectionString: await ensureDatabase(serverUrl, database, inject('templateDatabase')),
  });
  await client.connect();
  const parentId = randomUUID();
  await client.query(
    `insert into parent_organizations (id, name, created_at, updated_at) values ($1, 'Plans', now(), now())`,
    [parentId],
  );
  return {
    client,
    parentId,
    async explain(sql, params, { analyze = false, generic = false } = {}) {
      const options = `${analyze ? 'analyze, ' : ''}format json`;
      let explained: pg.QueryResult;
      if (generic) {
        await client.query(`prepare explained as ${positional(sql)}`);
        await client.query('set plan_cache_mode = force_generic_plan');
        try {
          // EXECUTE takes no bound parameters: its values go in as literals.
          const values = params.map((value) => client.escapeLiteral(textOf(value))).join(', ');
          explained = await client.query(`explain (${options}) execute explained(${values})`);
        } finally {
          await client.query('reset plan_cache_mode');
          await client.query('deallocate explained');
        }
      } else explained = await client.query(`explain (${options}) ${positional(sql)}`, params);
      return (explained.rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan;
    },
    async close() {
      await client.end();
      await dropDatabase(serverUrl, database);
    },
  };
}
