// Keyset pagination for every list: the cursor is opaque (MikroORM's encoded keyset of the order columns,
// always ending with the primary key), so pages never shift when rows are added and nothing uses OFFSET.
import { Cursor, type EntityName, type FilterQuery, type FindByCursorOptions } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput } from './errors.js';
import { isUuid } from './ids.js';

export interface PageRequest {
  first?: number | null;
  after?: string | null;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
  cursorOf(item: T): string;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export async function paginate<Entity extends object, Hint extends string = never>(
  em: EntityManager,
  entity: EntityName<Entity>,
  where: FilterQuery<Entity>,
  request: PageRequest,
  options: Pick<FindByCursorOptions<Entity, Hint>, 'orderBy' | 'populate'> = {},
): Promise<Page<Entity>> {
  const first = pageSize(request);
  afterKeyset(request);
  const cursor = await em.findByCursor(entity, where, {
    first,
    after: request.after ?? undefined,
    orderBy: options.orderBy ?? ({ id: 'asc' } as never),
    populate: options.populate,
    includeCount: false,
  } as FindByCursorOptions<Entity, Hint, '*', never, false>);
  return {
    items: [...cursor.items] as Entity[],
    hasNextPage: cursor.hasNextPage,
    hasPreviousPage: cursor.hasPrevPage,
    startCursor: cursor.startCursor,
    endCursor: cursor.endCursor,
    cursorOf: (item) => cursor.from(item as never),
  };
}

function pageSize(request: PageRequest): number {
  const first = request.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badInput(`first must be between 1 and ${MAX_PAGE_SIZE}.`, 'first');
  }
  return first;
}

function afterKeyset(request: PageRequest): unknown[] | undefined {
  if (!request.after) return undefined;
  try {
    const decoded = Cursor.decode(request.after);
    if (!Array.isArray(decoded)) throw new Error('not a keyset');
    return decoded;
  } catch {
    throw badInput('The cursor is not valid.', 'after');
  }
}

/**
 * A page of rows ordered by their uuid `id` read by the caller's own query (for hot paths where an ORM
 * query costs more than the database): `read` gets the id to start after and how many to read, one more
 * than the page so the next page is known. Cursors are the ones paginate() makes for `{ id: 'asc' }`.
 */
export async function pageById<T extends { id: string }>(
  request: PageRequest,
  read: (afterId: string | null, limit: number) => Promise<T[]>,
): Promise<Page<T>> {
  const first = pageSize(request);
  const after = afterKeyset(request);
  const afterId = after?.[0];
  if (after && (after.length !== 1 || typeof afterId !== 'string' || !isUuid(afterId))) {
    throw badInput('The cursor is not valid.', 'after');
  }
  const rows = await read((afterId as string | undefined) ?? null, first + 1);
  const items = rows.slice(0, first);
  const cursorOf = (item: T) => Cursor.encode([item.id]);
  return {
    items,
    hasNextPage: rows.length > first,
    hasPreviousPage: after !== undefined,
    startCursor: items[0] ? cursorOf(items[0]) : null,
    endCursor: items.length > 0 ? cursorOf(items.at(-1)!) : null,
    cursorOf,
  };
}
