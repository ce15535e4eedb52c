// The in-process event bus under the subscriptions: keyed topics, one event object for every
// subscriber (what shared checks and executions key by), unsubscribing, and the bound on a subscriber
// that stops reading.
import { describe, expect, it } from 'vitest';
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
