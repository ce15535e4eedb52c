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
  /** The plan of `sql` (knex placeholders), run for real when `analyze` (in a transaction to roll back). */
  explain(sql: string, params: unknown[], options?: { analyze?: boolean }): Promise<PlanNode>;
  close(): Promise<void>;
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
    async explain(sql, params, { analyze = false } = {}) {
      const explained = await client.query(
        `explain (${analyze ? 'analyze, ' : ''}format json) ${positional(sql)}`,
        params,
      );
      return (explained.rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan;
    },
    async close() {
      await client.end();
      await dropDatabase(serverUrl, database);
    },
  };
}
