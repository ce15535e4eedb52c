// Hot paths read with plain SQL: building a query through the ORM costs several times the round trip on
// this stack (measured in bench/). The rows still become managed entities, so the unit of work sees them.
import type { EntityClass, EntityData } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

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
