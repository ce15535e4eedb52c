import type { Scope } from '../lib/scope.js';
import { filterEvents } from './async-iterables.js';

/**
 * The checks made for one event, by the subscribers sharing a session and a check: a thousand tabs of
 * one admin on one parent cost one query per event, not a thousand. Keyed by the event object (the bus
 * hands every subscriber of a topic the same one), so a check is shared only among deliveries of that
 * event and is never older than the event it guards.
 */
const checksByEvent = new WeakMap<object, Map<string, Promise<boolean>>>();

/**
 * A subscription's events, delivered only while the subscriber still passes `check`: it runs once
 * before subscribing (its error refuses the subscription) and again, on a fresh EntityManager, for every
 * event once it is published, so a removal or a role change stops the deliveries of every event published
 * after it (rule 16); of those already waiting, a few may have been checked before it (async-iterables.ts,
 * CHECKS_AHEAD). `checkKey` names what `check` decides (the same key must mean the same check).
 */
export async function guardedStream<T>(
  scope: Scope,
  checkKey: string,
  check: (scope: Scope) => Promise<unknown>,
  source: () => AsyncIterable<T>,
): Promise<AsyncIterable<T>> {
  await check(scope);
  const sharedKey = `${scope.viewer?.sessionId ?? ''}\n${checkKey}`;
  const freshCheck = () =>
    check({ ...scope, em: scope.em.fork() })
      .then(() => true)
      .catch(() => false);
  const stillAllowed = (event: T) => {
    if (typeof event !== 'object' || event === null) return freshCheck();
    let checks = checksByEvent.get(event);
    if (!checks) {
      checks = new Map();
      checksByEvent.set(event, checks);
    }
    let decided = checks.get(sharedKey);
    if (!decided) {
      decided = freshCheck();
      checks.set(sharedKey, decided);
    }
    return decided;
  };
  return filterEvents(source(), stillAllowed);
}
