// A unit of work written as one statement (a data-modifying CTE per table and set of columns) instead of
// one statement per table: on this stack a round trip costs more than the rows it carries (bench/).
// insertAsOneStatement writes units that only create rows, outside transactions: one statement is one
// transaction, every row or none. Units that callers hand in while a statement is being written (an IdP's
// concurrent pushes) share the next statement; if it fails, each is written alone, so one bad row fails
// only its own. flushAsOneStatement writes a unit's creations and updates inside its transaction;
// writeAsOneStatement writes them outside one, behind a guard (a claim) when it is given.
import { ChangeSetType, EventType, JsonType, type UnitOfWork, wrap } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { plainRows, preparedRows, type SqlPart } from './plain-reads.js';

/** Rows for one table and one set of columns: a CTE each, inserting them or updating by primary key. */
interface RowGroup {
  table: string;
  columns: string[];
  /** For updates: the primary key's column, which the rows carry and the update matches on. */
  key?: string;
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
  const tables = rowGroups(changeSets);
  if (!tables) return false;
  await em.getEventManager().dispatchEvent(EventType.onFlush, { em, uow });
  await written(em, tables);
  await em.getEventManager().dispatchEvent(EventType.afterTransactionCommit, { em, uow });
  em.clear();
  return true;
}

/**
 * Writes every creation and update of `em`, which must be in a transaction and not used after (it is
 * cleared), in one statement, firing the flush event a flush would: flush listeners (which may read the
 * change sets, not change them) see the changes, and commit listeners the commit. A unit of work with
 * anything else (a removal, a composite key, a version) is flushed as usual. The entities it wrote keep
 * their values, not their EntityManager: nothing lazy can be loaded through them after.
 */
export async function flushAsOneStatement(em: EntityManager): Promise<void> {
  if (!em.isInTransaction()) throw new Error('flushAsOneStatement runs inside transactions.');
  const uow = em.getUnitOfWork();
  const tables = rowsOf(uow);
  if (!tables) return em.flush();
  if (tables.size === 0) return;
  await em.getEventManager().dispatchEvent(EventType.onFlush, { em, uow });
  await writeStatement(em, [tables]);
  leaveAsFlushed(em, uow);
}

/** Leading CTEs of a statement that decide whether its writes happen: they do if CTE `name` returns a row. */
export interface WriteGuard extends SqlPart {
  name: string;
}

/**
 * Writes every creation and update of `em`, which must not be in a transaction and is not used after (it
 * is cleared), in one statement: one transaction, every row or none, without a round trip to begin it and
 * one to commit it. With `guard`, the statement runs the guard's CTEs first and writes only if the guard
 * passes: a claim and what it allows are then one atomic step. Returns whether it wrote. Fires the flush
 * event, then the commit event, or the rollback event if the guard refused or the statement failed. A unit
 * of work with anything but creations and updates of single-key rows cannot be written so: an error.
 */
export async function writeAsOneStatement(em: EntityManager, guard?: WriteGuard): Promise<boolean> {
  if (em.isInTransaction()) throw new Error('writeAsOneStatement runs outside transactions.');
  const uow = em.getUnitOfWork();
  const tables = rowsOf(uow);
  if (!tables) throw new Error('writeAsOneStatement writes creations and updates of single-key rows only.');
  const events = em.getEventManager();
  await events.dispatchEvent(EventType.onFlush, { em, uow });
  let wrote = false;
  try {
    wrote = await writeStatement(em, [tables], { guard, prepared: true });
  } finally {
    const outcome = wrote ? EventType.afterTransactionCommit : EventType.afterTransactionRollback;
    await events.dispatchEvent(outcome, { em, uow });
  }
  if (wrote) leaveAsFlushed(em, uow);
  else em.clear();
  return wrote;
}

/** The row groups of the unit of work's changes; null if it holds more than creations and updates of rows. */
function rowsOf(uow: UnitOfWork): Tables | null {
  uow.computeChangeSets();
  const onlyRows =
    uow.getCollectionUpdates().length === 0 &&
    uow.getExtraUpdates().size === 0 &&
    uow.getChangeSets().every(({ type }) => type === ChangeSetType.CREATE || type === ChangeSetType.UPDATE);
  return onlyRows ? rowGroups(uow.getChangeSets()) : null;
}

/**
 * As a flush leaves them: the updated entities, which a parent EntityManager may hold too, are clean, or
 * a later flush there would write the same changes again over newer ones. Then `em` is cleared.
 */
function leaveAsFlushed(em: EntityManager, uow: UnitOfWork): void {
  for (const { type, entity } of uow.getChangeSets())
    if (type === ChangeSetType.UPDATE)
      wrap(entity, true).__originalEntityData = em.getComparator().prepareEntity(entity);
  em.clear();
}

/** The rows of the change sets, grouped by table, kind and columns; null if one cannot be written so. */
function rowGroups(changeSets: ReturnType<UnitOfWork['getChangeSets']>): Tables | null {
  const tables: Tables = new Map();
  for (const { meta, payload, type, entity } of changeSets) {
    if (meta.versionProperty || meta.primaryKeys.length !== 1) return null;
    const row: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(payload)) {
      const prop = meta.properties[name as keyof typeof meta.properties];
      if (prop?.fieldNames?.length !== 1) return null;
      // The payload holds JSON columns as text, as the driver sends them; the row carries them as JSON.
      row[prop.fieldNames[0]!] =
        prop.customType instanceof JsonType && typeof value === 'string' ? JSON.parse(value) : value;
    }
    // Rows are grouped by their columns: a column one row lacks must take its default, not NULL (or, in
    // an update, keep its value).
    const columns = Object.keys(row).sort();
    if (columns.length === 0) continue;
    const primaryKey = meta.properties[meta.primaryKeys[0]! as keyof typeof meta.properties]!;
    const key = type === ChangeSetType.UPDATE ? primaryKey.fieldNames[0]! : undefined;
    if (key) row[key] = (entity as Record<string, unknown>)[primaryKey.name];
    const id = `${type} ${meta.tableName}(${columns.join(',')})`;
    const group = tables.get(id) ?? { table: meta.tableName, columns, key, rows: [] };
    group.rows.push(row);
    tables.set(id, group);
  }
  return tables;
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
        await writeStatement(
          shared[0]!.em,
          shared.map(({ tables }) => tables),
        );
        for (const unit of shared) unit.written();
      } catch (error) {
        if (shared.length === 1) shared[0]!.failed(error);
        else
          for (const unit of shared)
            await writeStatement(unit.em, [unit.tables]).then(unit.written, unit.failed);
      }
    }
  } finally {
    queue.writing = false;
  }
}

/**
 * Writes the units' rows; with `guard`, only if it passes. Returns whether the rows were written.
 * `prepared` for a unit of work of a few shapes, as a sign-in's: its groups are written in the order of
 * their tables and columns, so each shape has one text, and parsing and planning a sign-in's write took
 * more of the database's time than writing it (bench/sso-acs). Bulk writes, of many shapes, are not.
 */
async function writeStatement(
  em: EntityManager,
  units: Tables[],
  { guard, prepared = false }: { guard?: WriteGuard; prepared?: boolean } = {},
): Promise<boolean> {
  const merged: Tables = new Map();
  for (const tables of units)
    for (const [id, group] of tables) {
      const into = merged.get(id) ?? { ...group, rows: [] };
      into.rows.push(...group.rows);
      merged.set(id, into);
    }
  if (merged.size === 0 && !guard) return true;
  const groups = [...merged.keys()].sort().map((id) => merged.get(id)!);
  const quote = (name: string) => em.getPlatform().quoteIdentifier(name);
  const passes = guard ? `exists (select 1 from ${quote(guard.name)})` : 'true';
  // Foreign keys are checked at the end of the statement, so the tables' order does not matter.
  const writes = groups.map(({ table, columns, key }, i) => {
    const rows = `jsonb_populate_recordset(null::${quote(table)}, ?::jsonb)`;
    if (key) {
      const set = columns.map((column) => `${quote(column)} = v.${quote(column)}`).join(', ');
      return `t${i} as (update ${quote(table)} t set ${set} from ${rows} v where t.${quote(key)} = v.${quote(key)} and ${passes})`;
    }
    const list = columns.map(quote).join(', ');
    return `t${i} as (insert into ${quote(table)} (${list}) select ${list} from ${rows} where ${passes})`;
  });
  try {
    // The rows as bound parameters: inlined, as the ORM's execute inlines them, the JSON was escaped into
    // the statement's text and parsed with it.
    const [row] = await (prepared ? preparedRows : plainRows)<{ wrote: boolean }>(
      em,
      `with ${[...(guard ? [guard.sql] : []), ...writes].join(', ')} select ${passes} as wrote`,
      [...(guard?.params ?? []), ...groups.map(({ rows }) => JSON.stringify(rows))],
    );
    return row!.wrote;
  } catch (error) {
    throw em.getDriver().convertException(error as Error);
  }
}
