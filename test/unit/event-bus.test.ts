// The in-process event bus under the subscriptions: keyed topics, one event object for every
// subscriber (what shared checks and executions key by), unsubscribing, and the bound on a subscriber
// that stops reading.
import { describe, expect, it } from 'vitest';
import { filterEvents, mapEvents } from '../../src/graphql/async-iterables.js';
import { createEventBus, type DomainStatusChangedEvent } from '../../src/lib/events.js';

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

// A guarded subscription's stream is filtered (the access check) and then mapped (the execution); mapped,
// a filtered stream is one layer doing both, which must behave as the two did.
describe('a filtered stream of the bus, mapped', () => {
  it('maps the events the filter keeps, in order, skips the others, and ends its source at return()', async () => {
    const bus = createEventBus();
    const source = bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1');
    const kept = filterEvents(source, async (e) => !e.domainId.startsWith('refused'));
    const mapped = mapEvents(kept, async (e) => e.domainId.toUpperCase());
    for (const id of ['a', 'refused-1', 'b', 'refused-2', 'c'])
      bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event(id));
    const read = [await mapped.next(), await mapped.next(), await mapped.next()];
    expect(read).toEqual([
      { done: false, value: 'A' },
      { done: false, value: 'B' },
      { done: false, value: 'C' },
    ]);
    await mapped.return!();
    // The bus no longer holds the subscriber: what it publishes now is not queued for it.
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('d'));
    expect(await source.next()).toEqual({ done: true, value: undefined });
  });

  it('maps a stream that is not filtered as it is', async () => {
    const bus = createEventBus();
    const mapped = mapEvents(bus.subscribe('DOMAIN_STATUS_CHANGED', 'p1'), (e) => e.domainId);
    bus.publish('DOMAIN_STATUS_CHANGED', 'p1', event('x'));
    expect(await mapped.next()).toEqual({ done: false, value: 'x' });
    await mapped.return!();
  });
});
