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

export function mapEvents<T, U>(source: AsyncIterable<T>, map: (event: T) => U | Promise<U>) {
  const iterator = source[Symbol.asyncIterator]();
  return view<T, U>(iterator, async () => {
    const result = await iterator.next();
    return result.done ? { done: true, value: undefined } : { done: false, value: await map(result.value) };
  });
}

export function filterEvents<T>(source: AsyncIterable<T>, keep: (event: T) => boolean | Promise<boolean>) {
  const iterator = source[Symbol.asyncIterator]();
  return view<T, T>(iterator, async () => {
    for (;;) {
      const result = await iterator.next();
      if (result.done || (await keep(result.value))) return result;
    }
  });
}
