// Keyset pagination for every list: the cursor is opaque (MikroORM's encoded keyset of the order columns,
// always ending with the primary key), so pages never shift when rows are added and nothing uses OFFSET.
import { Cursor, type EntityName, type FilterQuery, type FindByCursorOptions } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput } from './errors.js';

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
  const first = request.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badInput(`first must be between 1 and ${MAX_PAGE_SIZE}.`, 'first');
  }
  if (request.after) {
    try {
      const decoded = Cursor.decode(request.after);
      if (!Array.isArray(decoded)) throw new Error('not a keyset');
    } catch {
      throw badInput('The cursor is not valid.', 'after');
    }
  }
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
