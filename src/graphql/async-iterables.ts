// Mapping and filtering of event streams without a buffer in between: one await per event and layer.
// (A Repeater per layer, as @graphql-yoga/subscription's operators build, costs several promises per
// event and subscriber, which at a thousand subscribers is most of a fan-out.) return() reaches the
// source at once, so an unsubscribe ends the subscription on the bus.

function view<T, U>(
  iterator: AsyncIterator<T>,
  next: () => Promise<IteratorResult<U>>,
): AsyncIterableIterator<U> {
  return {
    next,
    async return() {
      await iterator.return?.();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      await iterator.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** What a filtered stream filters, for mapEvents to do both in one layer. */
const FILTERED = Symbol('filtered');

interface Filtered<T> {
  iterator: AsyncIterator<T>;
  keep: (event: T) => boolean | Promise<boolean>;
}

/** A filtered stream mapped (a guarded subscription executed) is one layer, not two: one await fewer. */
export function mapEvents<T, U>(source: AsyncIterable<T>, map: (event: T) => U | Promise<U>) {
  const filtered = (source as { [FILTERED]?: Filtered<T> })[FILTERED];
  const iterator = filtered?.iterator ?? source[Symbol.asyncIterator]();
  const keep = filtered?.keep;
  return view<T, U>(iterator, async () => {
    for (;;) {
      const result = await iterator.next();
      if (result.done) return { done: true, value: undefined };
      if (keep && !(await keep(result.value))) continue;
      return { done: false, value: await map(result.value) };
    }
  });
}

export function filterEvents<T>(source: AsyncIterable<T>, keep: (event: T) => boolean | Promise<boolean>) {
  const iterator = source[Symbol.asyncIterator]();
  const filteredView = view<T, T>(iterator, async () => {
    for (;;) {
      const result = await iterator.next();
      if (result.done || (await keep(result.value))) return result;
    }
  });
  return Object.assign(filteredView, { [FILTERED]: { iterator, keep } satisfies Filtered<T> });
}
