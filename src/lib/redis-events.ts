// The event bus across instances: with REDIS_URL set, every publish goes through Redis pub/sub, so a
// subscriber on instance B sees a change made on instance A (and revocations close sockets everywhere).
// One subscriber connection per instance; a channel is subscribed while someone on the instance listens.
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** ISO timestamps come back as Dates: events carry Dates and their GraphQL types serialize Dates. */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const revive = (_key: string, value: unknown) =>
  typeof value === 'string' && ISO_DATE.test(value) ? new Date(value) : value;

type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };
const call = (listener: Listener, event: Event) =>
  typeof listener === 'function' ? listener(event) : listener.handleEvent(event);

export interface RedisEventTarget extends EventTarget {
  close(): Promise<void>;
}

export async function redisEventTarget(url: string, logger: Logger): Promise<RedisEventTarget> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 3 };
  const publisher = new Redis(url, options);
  const subscriber = new Redis(url, options);
  for (const client of [publisher, subscriber])
    client.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  await Promise.all([publisher.connect(), subscriber.connect()]);

  const listeners = new Map<string, Set<Listener>>();
  subscriber.on('message', (channel: string, message: string) => {
    const registered = listeners.get(channel);
    if (!registered) return;
    const event = new CustomEvent(channel, { detail: message === '' ? null : JSON.parse(message, revive) });
    for (const listener of registered) call(listener, event);
  });

  return {
    addEventListener(type: string, listener: Listener | null) {
      if (!listener) return;
      let registered = listeners.get(type);
      if (!registered) {
        registered = new Set();
        listeners.set(type, registered);
        subscriber
          .subscribe(type)
          .catch((error) => logger.error({ err: error, type }, 'redis subscribe failed'));
      }
      registered.add(listener);
    },
    removeEventListener(type: string, listener: Listener | null) {
      const registered = listeners.get(type);
      if (!registered || !listener) return;
      registered.delete(listener);
      if (registered.size > 0) return;
      listeners.delete(type);
      subscriber
        .unsubscribe(type)
        .catch((error) => logger.warn({ err: error, type }, 'redis unsubscribe failed'));
    },
    dispatchEvent(event: Event) {
      const detail = (event as CustomEvent).detail;
      // Live updates are best effort (the data is in PostgreSQL); a Redis outage must not fail the mutation.
      publisher
        .publish(event.type, detail === undefined || detail === null ? '' : JSON.stringify(detail))
        .catch((error) => logger.warn({ err: error, type: event.type }, 'redis publish failed'));
      return true;
    },
    async close() {
      await Promise.allSettled([publisher.quit(), subscriber.quit()]);
    },
  };
}
