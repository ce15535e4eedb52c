import { filter, pipe } from '@graphql-yoga/subscription';
import type { Scope } from '../lib/scope.js';

/**
 * A subscription's events, delivered only while the subscriber still passes `check`: it runs once
 * before subscribing (its error refuses the subscription) and again, on a fresh EntityManager, for every
 * event, so a removal or a role change stops deliveries at once (rule 16).
 */
export async function guardedStream<T>(
  scope: Scope,
  check: (scope: Scope) => Promise<unknown>,
  source: () => AsyncIterable<T>,
): Promise<AsyncIterable<T>> {
  await check(scope);
  const stillAllowed = () =>
    check({ ...scope, em: scope.em.fork() })
      .then(() => true)
      .catch(() => false);
  return pipe(source(), filter(stillAllowed));
}
