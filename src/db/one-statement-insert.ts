// A unit of work that only creates rows, written as one INSERT statement (a data-modifying CTE per
// table) instead of BEGIN, one INSERT per table and COMMIT: on this stack a round trip costs more than
// the rows it carries (bench/scim-push). One statement is one transaction: every row or none.
// Units of work that callers hand in while a statement is being written (an IdP's concurrent pushes)
// share the next statement; if it fails, each is written alone, so one bad row fails only its own.
import { ChangeSetType, EventType, JsonType } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';

/** Rows for one table and one set of columns: a CTE each. */
interface RowGroup {
  table: string;
  columns: string[];
  rows: Array<Record<string, unknown>>;
}

/** A unit of work's row groups, by table and columns. */
type Tables = Map<string, RowGroup>;

interface Waiting {
  em: EntityManager;
  tables: Tables;
  written: () => void;
  failed: (error: unknown) => void;
}

/** At most this many units of work share a statement. */
const MAX_SHARED = 64;

/** Units of work waiting for the next statement, and whether one is being written. */
interface Queue {
  waiting: Waiting[];
  writing: boolean;
}

/** One queue per ORM driver. */
const queues = new WeakMap<object, Queue>();

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
  const tables: Tables = new Map();
  for (const { meta, payload } of changeSets) {
    const row: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(payload)) {
      const prop = meta.properties[name as keyof typeof meta.properties];
      if (prop?.fieldNames?.length !== 1) return false;
      // The payload holds JSON columns as text, as the driver sends them; the row carries them as JSON.
      row[prop.fieldNames[0]!] =
        prop.customType instanceof JsonType && typeof value === 'string' ? JSON.parse(value) : value;
    }
    // Rows are grouped by their columns: a column one row lacks must take its default, not NULL.
    const columns = Object.keys(row).sort();
    const key = `${meta.tableName}(${columns.join(',')})`;
    const group = tables.get(key) ?? { table: meta.tableName, columns, rows: [] };
    group.rows.push(row);
    tables.set(key, group);
  }
  await em.getEventManager().dispatchEvent(EventType.onFlush, { em, uow });
  await written(em, tables);
  await em.getEventManager().dispatchEvent(EventType.afterTransactionCommit, { em, uow });
  em.clear();
  return true;
}

/** Resolves once `tables` are written, in a statement shared with whatever else is waiting. */
function written(em: EntityManager, tables: Tables): Promise<void> {
  const driver = em.getDriver();
  let queue = queues.get(driver);
  if (!queue) queues.set(driver, (queue = { waiting: [], writing: false }));
  const done = new Promise<void>((resolve, reject) =>
    queue.waiting.push({ em, tables, written: resolve, failed: reject }),
  );
  if (!queue.writing) {
    queue.writing = true;
    // One turn of the event loop lets the callers of the same moment join the first statement.
    setImmediate(() => void writeWaiting(queue));
  }
  return done;
}

async function writeWaiting(queue: Queue): Promise<void> {
  try {
    while (queue.waiting.length > 0) {
      const shared = queue.waiting.splice(0, MAX_SHARED);
      try {
        await insertStatement(
          shared[0]!.em,
          shared.map(({ tables }) => tables),
        );
        for (const unit of shared) unit.written();
      } catch (error) {
        if (shared.length === 1) shared[0]!.failed(error);
        else
          for (const unit of shared)
            await insertStatement(unit.em, [unit.tables]).then(unit.written, unit.failed);
      }
    }
  } finally {
    queue.writing = false;
  }
}

async function insertStatement(em: EntityManager, units: Tables[]): Promise<void> {
  const merged: Tables = new Map();
  for (const tables of units)
    for (const [key, { table, columns, rows }] of tables) {
      const group = merged.get(key) ?? { table, columns, rows: [] };
      group.rows.push(...rows);
      merged.set(key, group);
    }
  const quote = (name: string) => em.getPlatform().quoteIdentifier(name);
  // Foreign keys are checked at the end of the statement, so the tables' order does not matter.
  const inserts = [...merged.values()].map(({ table, columns }, i) => {
    const list = columns.map(quote).join(', ');
    return `t${i} as (insert into ${quote(table)} (${list})
              select ${list} from jsonb_populate_recordset(null::${quote(table)}, ?::jsonb))`;
  });
  await em.execute(
    `with ${inserts.join(', ')} select 1`,
    [...merged.values()].map(({ rows }) => JSON.stringify(rows)),
  );
}
