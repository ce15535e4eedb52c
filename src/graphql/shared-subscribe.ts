// Subscriptions that many clients hold alike (a thousand admins' tabs on one parent's domain status)
// cost one execution per event, not one per subscriber: an event's result is shared by the subscribers
// of the same document, variables and user. graphql-js would execute the selection again for each.
import {
  createSourceEventStream,
  type DocumentNode,
  execute,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import { deliverEvents } from './async-iterables.js';
import type { Context } from './context.js';

/** The query text of each parsed document, as the client sent it: cheaper than printing it per event. */
const sources = new WeakMap<DocumentNode, string>();

/** Executions of one event, by subscription key. Keyed by the event object the bus hands every subscriber. */
const resultsByEvent = new WeakMap<object, Map<string, ExecutionResult | Promise<ExecutionResult>>>();

export function rememberSource(document: DocumentNode, query: string): void {
  sources.set(document, query);
}

/**
 * graphql-ws's subscribe: the results are delivered by the context's `live` (straight to the socket),
 * and graphql-ws holds an iterator that ends with the subscription.
 */
export async function sharedSubscribe(
  args: ExecutionArgs,
): Promise<AsyncIterable<ExecutionResult> | ExecutionResult> {
  const context = args.contextValue as Context;
  if (!context.live) throw new Error('A subscription needs a live connection to deliver its results to.');
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in stream)) return stream;
  // Results may read the viewer through the context, so only one user's subscriptions share them.
  const viewer = context.scope.viewer?.userId ?? '';
  const source = sources.get(args.document);
  const key =
    source === undefined
      ? undefined
      : JSON.stringify([source, args.operationName ?? null, args.variableValues ?? null, viewer]);
  const run = (event: unknown) => execute({ ...args, rootValue: event });
  const execution = (event: unknown) => {
    if (key === undefined || typeof event !== 'object' || event === null) return run(event);
    let results = resultsByEvent.get(event);
    if (!results) {
      results = new Map();
      resultsByEvent.set(event, results);
    }
    let result = results.get(key);
    if (!result) {
      result = run(event);
      results.set(key, result);
    }
    return result;
  };
  return deliverEvents(stream as AsyncIterable<unknown>, execution, context.live);
}
