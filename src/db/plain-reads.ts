// Hot paths read with plain SQL: building a query through the ORM costs several times the round trip on
// this stack (measured in bench/). The rows still become managed entities, so the unit of work sees them.
import { createHash } from 'node:crypto';
import type { EntityClass, EntityData } from '@mikro-orm/core';
import type { EntityManager, Knex } from '@mikro-orm/postgresql';
import type pg from 'pg';

/**
 * The rows `sql` selects, its positional bindings sent as real parameters (an array as one PostgreSQL
 * array, not a list), in the transaction of `em` if it has one.
 */
export async function plainRows<T>(em: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const query = em.getKnex().raw(sql, params as never);
  const transaction = em.getTransactionContext();
  if (transaction) query.transacting(transaction);
  const result = await query;
  return result.rows as T[];
}

/** Part of a statement and the values of its placeholders, in order. */
export interface SqlPart {
  sql: string;
  params: unknown[];
}

/** A value as a part of a statement. */
export const sqlValue = (value: unknown): SqlPart => ({ sql: '?', params: [value] });

/**
 * Raw SQL as knex reads it (`\?` a literal question mark, as in a jsonb operator; any other `?` a value) in
 * PostgreSQL's numbered placeholders.
 */
export function positional(sql: string): string {
  if (sql.includes('??'))
    throw new Error('Values only: knex identifier bindings (??) have no numbered form.');
  let position = 0;
  return sql.replace(/\\\?|\?/g, (match) => (match === '?' ? `$${++position}` : '?'));
}

/** A statement's text in PostgreSQL's numbered placeholders, and the name it is prepared under. */
const prepared = new Map<string, { name: string; text: string }>();

function preparedStatement(sql: string): { name: string; text: string } {
  let statement = prepared.get(sql);
  if (!statement) {
    statement = {
      name: `p_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`,
      text: positional(sql),
    };
    prepared.set(sql, statement);
  }
  return statement;
}

/** PostgreSQL's refusal of a prepared statement whose result a migration changed (a column's type, say). */
const STALE_PLAN = '0A000';

/**
 * How often each connection's prepared statements went stale: their names carry it, so that after a
 * migration the connection prepares them again under new names (a name cannot be prepared twice).
 */
const generations = new WeakMap<object, number>();

/**
 * As plainRows, as a named prepared statement: PostgreSQL parses and plans it once per connection instead
 * of on every call, which for a short indexed read is most of the database's time (bench/graphql.bench.ts).
 * For hot paths with a fixed text. A statement a migration made stale is prepared again: at once outside a
 * transaction; inside one the transaction fails, and the connection's next use prepares it again. Like
 * knex's own, each statement is announced on the knex client's `query` event.
 */
export async function preparedRows<T>(em: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const transaction = em.getTransactionContext<Knex.Transaction>();
  // knex would refuse it too: its connection may already serve another request.
  if (transaction?.isCompleted()) throw new Error('preparedRows was given a transaction that has ended.');
  const { client } = transaction ?? em.getKnex();
  const connection = (await client.acquireConnection()) as pg.ClientBase;
  const { name, text } = preparedStatement(sql);
  // Announced as knex announces the statements it sends, so that whoever watches them sees these too.
  const { __knexUid, __knexTxId } = connection as { __knexUid?: string; __knexTxId?: string };
  client.emit('query', { __knexUid, __knexTxId, sql: text, bindings: params, method: 'raw' });
  const run = async () => {
    const generation = generations.get(connection) ?? 0;
    return (await connection.query({ name: `${name}_${generation}`, text, values: params })).rows as T[];
  };
  try {
    return await run();
  } catch (error) {
    if ((error as { code?: string }).code !== STALE_PLAN) throw error;
    generations.set(connection, (generations.get(connection) ?? 0) + 1);
    if (transaction) throw error;
    return await run();
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * The entities of the rows `sql` selects (every column of the entity's table), in the transaction of `em`
 * if it has one. An entity already loaded in `em` is returned as it is, unsaved changes included, as
 * `em.find` would.
 */
export async function findBySql<T extends object>(
  em: EntityManager,
  entity: EntityClass<T>,
  sql: string,
  params: unknown[],
): Promise<T[]> {
  return entitiesOf(em, entity, await plainRows<EntityData<T>>(em, sql, params));
}

/**
 * Rows of the entity's table, as selected or as `to_jsonb` writes a row, as entities of `em` (one already
 * loaded is returned as it is, as findBySql does).
 */
export function entitiesOf<T extends object>(
  em: EntityManager,
  entity: EntityClass<T>,
  rows: Array<EntityData<T>>,
): T[] {
  const meta = em.getMetadata().get<T>(entity.name);
  return rows.map((row) =>
    em.merge(entity, em.getDriver().mapResult(row, meta) as EntityData<T>, {
      convertCustomTypes: true,
      refresh: false,
    }),
  );
}
