// How a subscription's events reach its subscriber. Every subscriber of a topic gets the same event
// object, and the access check and the execution of an event are shared by the subscribers that would
// compute the same (guarded-stream.ts, shared-subscribe.ts). What is left per subscriber is kept to
// callbacks: events are pushed from the bus, and a shared promise is reacted to once for all who wait on
// it. Pulled through async iterators (an await per layer, then graphql-ws's own per message), a delivery
// cost about ten promises per subscriber, and MikroORM's AsyncLocalStorage puts a hook on every promise:
// at a thousand subscribers that was a third of a fan-out.
import { endingIterator, PUSH, type Pushable } from '../lib/events.js';

/** What a filtered stream filters, for deliverEvents to check events itself. */
const FILTERED = Symbol('filtered');

interface Filtered<T> {
  iterator: AsyncIterator<T>;
  keep: (event: T) => boolean | Promise<boolean>;
}

/** Events of one subscriber waiting on an earlier one's check or execution; past this it is ended. */
const MAX_WAITING = 1_000;

export function filterEvents<T>(
  source: AsyncIterable<T>,
  keep: (event: T) => boolean | Promise<boolean>,
): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  return {
    async next() {
      for (;;) {
        const result = await iterator.next();
        if (result.done || (await keep(result.value))) return result;
      }
    },
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
    [FILTERED]: { iterator, keep } satisfies Filtered<T>,
  } as AsyncIterableIterator<T>;
}

interface Waiting<V> {
  settled: boolean;
  fulfilled: boolean;
  outcome: unknown;
  callbacks: [onValue: (value: V) => void, onError: (error: unknown) => void][];
}

const waitingOn = new WeakMap<Promise<unknown>, Waiting<unknown>>();

/**
 * Calls back with what `compute` returns or settles to: at once for a plain value, and for a promise
 * from one reaction to it shared by every caller (a thousand subscribers waiting on one check are one
 * reaction). What either throws goes to `onError`.
 */
function whenSettled<V>(
  compute: () => V | Promise<V>,
  onValue: (value: V) => void,
  onError: (error: unknown) => void,
): void {
  let value: V | Promise<V>;
  try {
    value = compute();
    if (!(value instanceof Promise)) return onValue(value);
  } catch (error) {
    return onError(error);
  }
  const waiting = tracked(value);
  if (!waiting.settled) waiting.callbacks.push([onValue, onError]);
  else if (waiting.fulfilled) onValue(waiting.outcome as V);
  else onError(waiting.outcome);
}

/**
 * The one reaction to `promise` that everyone waiting on it shares; its rejection is handled there, so a
 * promise tracked before anyone waits on it is not an unhandled rejection.
 */
function tracked<V>(promise: Promise<V>): Waiting<V> {
  const known = waitingOn.get(promise) as Waiting<V> | undefined;
  if (known) return known;
  const entry: Waiting<V> = { settled: false, fulfilled: false, outcome: undefined, callbacks: [] };
  const settle = (fulfilled: boolean, outcome: unknown) => {
    Object.assign(entry, { settled: true, fulfilled, outcome });
    for (const [onFulfilled, onRejected] of entry.callbacks.splice(0)) {
      try {
        if (fulfilled) onFulfilled(outcome as V);
        else onRejected(outcome);
      } catch (error) {
        onRejected(error);
      }
    }
  };
  promise.then(
    (outcome) => settle(true, outcome),
    (error: unknown) => settle(false, error),
  );
  waitingOn.set(promise, entry as Waiting<unknown>);
  return entry;
}

/**
 * An event waiting its turn; the first CHECKS_AHEAD have their checks started (`kept`), so that a burst's
 * checks (a query each) run together, not each after the event before it is delivered. A check started
 * early is still made after its event was published (guarded-stream.ts).
 */
interface Received<T> {
  event: T;
  kept?: () => boolean | Promise<boolean>;
}

/**
 * How many of a subscriber's waiting events, past the one in hand, have their checks running: each
 * subscriber of its own session has checks of its own, and every waiting event's at once would be a query
 * per event and subscriber on a pool the API's requests share.
 */
const CHECKS_AHEAD = 16;

/** `compute` called now; what it returned (or threw) handed over (or thrown) when asked for. */
function startedNow<V>(compute: () => V): () => V {
  try {
    const value = compute();
    if (value instanceof Promise) tracked(value);
    return () => value;
  } catch (error) {
    return () => {
      throw error;
    };
  }
}

/**
 * Hands every event of `source` its filter keeps, mapped, to `deliver`, one at a time and in order, and
 * returns the iterator the transport holds for the subscription: its next() settles only when the
 * stream ends (done) or fails (rejected), and return() ends it (the client completed it or left).
 * `deliver` returns false when the subscriber can take no more (its connection is gone or too far
 * behind), which ends the stream. A source of the bus pushes its events; any other is read.
 */
export function deliverEvents<T, U>(
  source: AsyncIterable<T>,
  map: (event: T) => U | Promise<U>,
  deliver: (value: U) => boolean,
): AsyncIterableIterator<never> {
  const filtered = (source as { [FILTERED]?: Filtered<T> })[FILTERED];
  const iterator = filtered?.iterator ?? source[Symbol.asyncIterator]();
  const keep = filtered?.keep ?? (() => true);
  const waiting: Received<T>[] = [];
  let busy = false;
  let draining = false;
  let sourceEnded = false;
  let ended = false;
  let settle!: (result: IteratorResult<never>) => void;
  let reject!: (error: unknown) => void;
  const settled = new Promise<IteratorResult<never>>((resolve, fail) => {
    settle = resolve;
    reject = fail;
  });

  const stop = () => {
    ended = true;
    waiting.length = 0;
    Promise.resolve(iterator.return?.()).catch(() => {});
  };
  const end = () => {
    if (ended) return;
    stop();
    settle({ done: true, value: undefined });
  };
  const fail = (error: unknown) => {
    if (ended) return;
    stop();
    reject(error);
  };
  /** Starts the checks of the first CHECKS_AHEAD waiting events; those started are the first ones. */
  const checkAhead = () => {
    const until = Math.min(CHECKS_AHEAD, waiting.length);
    let from = until;
    while (from > 0 && !waiting[from - 1]!.kept) from--;
    for (let i = from; i < until; i++) {
      const received = waiting[i]!;
      received.kept = startedNow(() => keep(received.event));
    }
  };
  const handled = () => {
    busy = false;
    drain();
  };
  // The first waiting event's check is always started (checkAhead).
  const handle = ({ event, kept }: Received<T>) =>
    whenSettled(
      kept!,
      (allowed) => {
        if (ended) return;
        if (!allowed) return handled();
        whenSettled(
          () => map(event),
          (value) => {
            if (ended) return;
            if (deliver(value)) handled();
            else end();
          },
          fail,
        );
      },
      fail,
    );
  // A loop, not recursion: events whose check and execution are already settled are handled at once,
  // and a thousand of them must not be a thousand frames deep.
  const drain = () => {
    if (draining) return;
    draining = true;
    while (!ended && !busy && waiting.length > 0) {
      busy = true;
      const next = waiting.shift()!;
      checkAhead();
      handle(next);
    }
    draining = false;
    if (sourceEnded && !busy && waiting.length === 0) end();
  };
  const received = (event: T) => {
    if (ended) return;
    if (waiting.length >= MAX_WAITING) return end();
    waiting.push({ event });
    checkAhead();
    drain();
  };
  const sourceEnd = () => {
    sourceEnded = true;
    drain();
  };
  const read = async () => {
    try {
      for (;;) {
        const result = await iterator.next();
        if (ended) return;
        if (result.done) return sourceEnd();
        received(result.value);
      }
    } catch (error) {
      fail(error);
    }
  };

  let started = false;
  const start = () => {
    if (!started) {
      started = true;
      const push = (iterator as Partial<Pushable<T>>)[PUSH];
      if (push) push.call(iterator, received, sourceEnd);
      else void read();
    }
    return settled;
  };
  return endingIterator(start, end);
}
