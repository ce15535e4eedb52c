/**
 * Runs `run` over `items`, or the items an async iterator yields, with at most `workers` calls in flight,
 * each worker taking the next item as its call ends (an async generator answers concurrent next() calls in
 * turn). Resolves once every worker has stopped; the first failure, of the source or of a call, then
 * rejects it.
 */
export async function forEachConcurrently<T>(
  items: Iterable<T> | AsyncIterator<T>,
  workers: number,
  run: (item: T) => Promise<unknown>,
): Promise<void> {
  const source = Symbol.iterator in items ? items[Symbol.iterator]() : items;
  const results = await Promise.allSettled(
    Array.from({ length: workers }, async () => {
      for (let next = await source.next(); !next.done; next = await source.next()) await run(next.value);
    }),
  );
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}

/** `promise`, to be awaited later: a rejection meanwhile is not reported as unhandled. */
export function held<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
