// The in-process event bus under the subscriptions: keyed topics, one event object for every
// subscriber (what shared checks and executions key by), unsubscribing, and the bound on a subscriber
// that stops reading.
import { describe, expect, it } from 'vitest';
import { deliverEvents, filterEvents } from '../../src/graphql/async-iterables.js';
import { createEventBus, type DomainStatusChangedEvent, PUSH, type Pushable } from '../../src/lib/events.js';

const event = (domainId: string): DomainStatusChangedEvent => ({
  parentOrganizationId: 'p1',
  domainId,
  name: `${domainId}.example.com`,
  status: 'VERIFIED',
  lastCheckOutcome: null,
  occurredAt: new Date(0),
});

describe('the event bus', () => {
  it('delivers a keyed topic to its subscribers only, in order, the same object to each', async () => {
    const bus = createEventBus();
    const [a, b] = [
      bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1'),
      bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1'),
    ];
    const other = bus.subscribe('DOMAIN_STATUS_CHANGED', 'p2');
    const first = event('d1');
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', first);
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('d2'));
    const fromA = [(await a.next()).value, (await a.next()).value];
    expect(fromA.map((e) => e?.domainId)).toEqual(['d1', 'd2']);
    expect((await b.next()).value).toBe(first);
    const pending = other.next();
    await other.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('hands an event to a reader already waiting, and ends at return()', async () => {
    const bus = createEventBus();
    const revoked = bus.subscribe('USER_SESSIONS_REVOKED');
    const waiting = revoked.next();
    bus.publish('USER_SESSIONS_REVOKED', 'u1');
    expect(await waiting).toEqual({ done: false, value: 'u1' });
    await revoked.return?.();
    bus.publish('USER_SESSIONS_REVOKED', 'u2');
    expect(await revoked.next()).toEqual({ done: true, value: undefined });
  });

  it('ends a subscriber that falls 1,000 events behind instead of queueing without bound', async () => {
    const bus = createEventBus();
    const stalled = bus.subscribe('USER_SESSIONS_REVOKED');
    for (let i = 0; i < 1_000; i++) bus.publish('USER_SESSIONS_REVOKED', `u${i}`);
    expect(await stalled.next()).toEqual({ done: false, value: 'u0' });
    bus.publish('USER_SESSIONS_REVOKED', 'one more');
    bus.publish('USER_SESSIONS_REVOKED', 'and another');
    expect(await stalled.next()).toEqual({ done: true, value: undefined });
  });
});

describe('pushing from the event bus', () => {
  const pushable = (iterator: unknown) => iterator as Pushable<DomainStatusChangedEvent>;

  it('hands queued events first, with those published while they are handed over, in order', () => {
    const bus = createEventBus();
    const subscriber = pushable(bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1'));
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('a'));
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('b'));
    const handed: string[] = [];
    subscriber[PUSH](
      (e) => {
        handed.push(e.domainId);
        if (e.domainId === 'a') bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('c'));
      },
      () => {},
    );
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('d'));
    expect(handed).toEqual(['a', 'b', 'c', 'd']);
  });

  it('ends a subscriber whose callback throws, without failing the publisher or the others', () => {
    const bus = createEventBus();
    const ended: string[] = [];
    const handed: string[] = [];
    pushable(bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1'))[PUSH](
      () => {
        throw new Error('broken subscriber');
      },
      () => ended.push('broken'),
    );
    pushable(bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1'))[PUSH](
      (e) => handed.push(e.domainId),
      () => ended.push('healthy'),
    );
    expect(() => bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('a'))).not.toThrow();
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('b'));
    expect(ended).toEqual(['broken']);
    expect(handed).toEqual(['a', 'b']);
  });
});

// A guarded subscription's stream is filtered (the access check) and executed (the map), and its
// results are pushed to the subscriber's connection: in order, one event at a time per subscriber.
describe('delivering a filtered stream of the bus', () => {
  const deferred = <T>() => {
    let resolve!: (value: T) => void;
    const promise = new Promise<T>((done) => (resolve = done));
    return { promise, resolve };
  };
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  /** A subscriber of p1 whose checks `check` answers, delivering ids: what it was asked and delivered. */
  const checkedSubscriber = (check: (e: DomainStatusChangedEvent) => Promise<boolean>) => {
    const bus = createEventBus();
    const asked: string[] = [];
    const delivered: string[] = [];
    const delivery = deliverEvents(
      filterEvents(bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1'), (e) => {
        asked.push(e.domainId);
        return check(e);
      }),
      (e) => e.domainId,
      (value) => delivered.push(value) > 0,
    );
    const publish = (...ids: string[]) => {
      for (const id of ids) bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event(id));
    };
    return { asked, delivered, delivery, publish };
  };

  it('delivers the events the filter keeps, mapped, in order, and ends its source at return()', async () => {
    const bus = createEventBus();
    const source = bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1');
    const delivered: string[] = [];
    const delivery = deliverEvents(
      filterEvents(source, async (e) => !e.domainId.startsWith('refused')),
      async (e) => e.domainId.toUpperCase(),
      (value) => delivered.push(value) > 0,
    );
    // Published before the transport starts reading: queued on the bus, then pushed first.
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('a'));
    const ended = delivery.next();
    for (const id of ['refused-1', 'b', 'refused-2', 'c'])
      bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event(id));
    await tick();
    expect(delivered).toEqual(['A', 'B', 'C']);
    await delivery.return!();
    expect(await ended).toEqual({ done: true, value: undefined });
    // The bus no longer holds the subscriber: what it publishes now is not queued for it.
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('d'));
    expect(await source.next()).toEqual({ done: true, value: undefined });
    expect(delivered).toEqual(['A', 'B', 'C']);
  });

  it("keeps a subscriber's order when a later event's check settles first", async () => {
    const checks = new Map([
      ['a', deferred<boolean>()],
      ['b', deferred<boolean>()],
    ]);
    const { delivered, delivery, publish } = checkedSubscriber((e) => checks.get(e.domainId)!.promise);
    void delivery.next();
    publish('a', 'b');
    checks.get('b')!.resolve(true);
    await tick();
    expect(delivered).toEqual([]);
    checks.get('a')!.resolve(true);
    await tick();
    expect(delivered).toEqual(['a', 'b']);
    await delivery.return!();
  });

  it("starts each event's check as it arrives, not once the event before it is delivered", async () => {
    const checks = new Map(['a', 'b', 'c'].map((id) => [id, deferred<boolean>()]));
    const { asked, delivered, delivery, publish } = checkedSubscriber((e) => checks.get(e.domainId)!.promise);
    void delivery.next();
    publish('a', 'b', 'c');
    // A burst's checks (a query each) run together: all three are asked while the first is pending.
    expect(asked).toEqual(['a', 'b', 'c']);
    checks.get('b')!.resolve(false);
    checks.get('c')!.resolve(true);
    await tick();
    expect(delivered).toEqual([]);
    checks.get('a')!.resolve(true);
    await tick();
    expect(delivered).toEqual(['a', 'c']);
    await delivery.return!();
  });

  it('has the checks of the event in hand and of at most 16 waiting ones running, the next started as one is taken', async () => {
    const checks = Array.from({ length: 20 }, () => deferred<boolean>());
    const { asked, delivered, delivery, publish } = checkedSubscriber(
      (e) => checks[Number(e.domainId.slice(1))]!.promise,
    );
    void delivery.next();
    publish(...checks.map((_, i) => `e${i}`));
    // Each subscriber of its own session has checks of its own: not a query per waiting event at once.
    expect(asked).toEqual(Array.from({ length: 17 }, (_, i) => `e${i}`));
    checks[0]!.resolve(true);
    await tick();
    expect(delivered).toEqual(['e0']);
    expect(asked).toHaveLength(18);
    await delivery.return!();
  });

  it("fails the subscription at a waiting event's turn when its check failed meanwhile", async () => {
    const first = deferred<boolean>();
    const { delivered, delivery, publish } = checkedSubscriber((e) =>
      e.domainId === 'a' ? first.promise : Promise.reject(new Error('check failed')),
    );
    const ended = delivery.next();
    publish('a', 'b');
    // The second check has failed before its turn: not an unhandled rejection (vitest fails on one).
    await tick();
    first.resolve(true);
    await expect(ended).rejects.toThrow('check failed');
    expect(delivered).toEqual(['a']);
  });

  it('hands one settled check to every subscriber waiting on it, and goes through many waiting events in a loop', async () => {
    const bus = createEventBus();
    const first = deferred<boolean>();
    const delivered = [[], []] as string[][];
    const deliveries = delivered.map((into) =>
      deliverEvents(
        filterEvents(bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1'), (e) =>
          e.domainId === 'e0' ? first.promise : true,
        ),
        (e) => e.domainId,
        (value) => into.push(value) > 0,
      ),
    );
    for (const delivery of deliveries) void delivery.next();
    for (let i = 0; i < 999; i++) bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event(`e${i}`));
    expect(delivered).toEqual([[], []]);
    first.resolve(true);
    await tick();
    const all = Array.from({ length: 999 }, (_, i) => `e${i}`);
    expect(delivered).toEqual([all, all]);
    for (const delivery of deliveries) await delivery.return!();
  });

  it('ends a subscriber with 1,000 events waiting on an earlier one, and one that can take no more', async () => {
    const bus = createEventBus();
    const stuck = deliverEvents(
      filterEvents(bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1'), () => new Promise<boolean>(() => {})),
      (e) => e.domainId,
      () => true,
    );
    const stuckEnded = stuck.next();
    let taken = 0;
    const full = deliverEvents(
      bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1'),
      (e) => e.domainId,
      () => ++taken < 3,
    );
    const fullEnded = full.next();
    for (let i = 0; i < 1_002; i++) bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event(`e${i}`));
    expect(await stuckEnded).toEqual({ done: true, value: undefined });
    expect(await fullEnded).toEqual({ done: true, value: undefined });
    expect(taken).toBe(3);
  });

  it('fails the subscription when an execution throws, and ends its source', async () => {
    const bus = createEventBus();
    const source = bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1');
    const delivery = deliverEvents(
      source,
      () => {
        throw new Error('execution failed');
      },
      () => true,
    );
    const ended = delivery.next();
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('x'));
    await expect(ended).rejects.toThrow('execution failed');
    expect(await source.next()).toEqual({ done: true, value: undefined });
  });

  it('reads a stream that cannot push, and ends after delivering what it yielded', async () => {
    async function* yielded() {
      yield* ['a', 'b', 'c'];
    }
    const delivered: string[] = [];
    const delivery = deliverEvents(
      filterEvents(yielded(), async (value) => value !== 'b'),
      (value) => value.toUpperCase(),
      (value) => delivered.push(value) > 0,
    );
    expect(await delivery.next()).toEqual({ done: true, value: undefined });
    expect(delivered).toEqual(['A', 'C']);
  });
});
