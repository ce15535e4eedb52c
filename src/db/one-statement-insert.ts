// A unit of work that only creates rows, written as one INSERT statement (a data-modifying CTE per
// table) instead of BEGIN, one INSERT per table and COMMIT: on this stack a round trip costs more than
// the rows it carries (bench/scim-push). One statement is one transaction: every row or none.
import { ChangeSetType, EventType, JsonType } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * Writes every entity persisted in `em`, which must not be in a transaction, in one statement, and
 * fires the flush and commit events a flush would (membership events listen to them); `em` is cleared
 * after. Writes nothing and returns false if `em` holds any change but creations: the caller then flushes
 * in a transaction instead.
 */
export async function insertAsOneStatement(em: EntityManager): Promise<boolean> {
  if (em.isInTransaction()) throw new Error('insertAsOneStatement runs outside transactions.');
  const uow = em.getUnitOfWork();
  uow.computeChangeSets();
  const changeSets = uow.getChangeSets();
  if (changeSets.length === 0) return true;
  if (changeSets.some((changeSet) => changeSet.type !== ChangeSetType.CREATE)) return false;
  const tables = new Map<string, { columns: Set<string>; rows: Array<Record<string, unknown>> }>();
  for (const { meta, payload } of changeSets) {
    const row: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(payload)) {
      const prop = meta.properties[name as keyof typeof meta.properties];
      if (prop?.fieldNames?.length !== 1) return false;
      // The payload holds JSON columns as text, as the driver sends them; the row carries them as JSON.
      row[prop.fieldNames[0]!] =
        prop.customType instanceof JsonType && typeof value === 'string' ? JSON.parse(value) : value;
    }
    const table = tables.get(meta.tableName) ?? { columns: new Set(), rows: [] };
    for (const column of Object.keys(row)) table.columns.add(column);
    table.rows.push(row);
    tables.set(meta.tableName, table);
  }
  await em.getEventManager().dispatchEvent(EventType.onFlush, { em, uow });
  const quote = (name: string) => em.getPlatform().quoteIdentifier(name);
  // Foreign keys are checked at the end of the statement, so the tables' order does not matter.
  const inserts = [...tables].map(([name, { columns }], i) => {
    const list = [...columns].map(quote).join(', ');
    return `t${i} as (insert into ${quote(name)} (${list})
              select ${list} from jsonb_populate_recordset(null::${quote(name)}, ?::jsonb))`;
  });
  await em.execute(
    `with ${inserts.join(', ')} select 1`,
    [...tables.values()].map(({ rows }) => JSON.stringify(rows)),
  );
  await em.getEventManager().dispatchEvent(EventType.afterTransactionCommit, { em, uow });
  em.clear();
  return true;
}
