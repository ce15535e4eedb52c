/** Runs `run` over `items` with at most `workers` calls in flight, each taking the next item as it ends. */
export async function forEachConcurrently<T>(
  items: readonly T[],
  workers: number,
  run: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, items.length) }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}
