// The event bus for live updates (GraphQL subscriptions): in-process, or through Redis between instances
// (redis-events.ts). Services publish after their transaction commits, so subscribers never see a change
// that was rolled back.
import { setMaxListeners } from 'node:events';
import type { MergeProposalStatus } from '../modules/merges/merge-proposal.entity.js';
import type { MemberRole } from '../modules/organizations/roles.js';

export enum MembershipChange {
  ADDED = 'ADDED',
  ROLE_CHANGED = 'ROLE_CHANGED',
  REMOVED = 'REMOVED',
}

export interface MembershipChangedEvent {
  organizationId: string;
  membershipId: string;
  userId: string;
  email: string;
  change: MembershipChange;
  role: MemberRole;
  occurredAt: Date;
}

export interface MergeProposalUpdatedEvent {
  proposalId: string;
  status: MergeProposalStatus;
  incomingApprovedAt: Date | null;
  targetApprovedAt: Date | null;
}

export interface DomainStatusChangedEvent {
  parentOrganizationId: string;
  domainId: string;
  name: string;
  /** A DomainStatus, or REMOVED. */
  status: string;
  lastCheckOutcome: string | null;
  occurredAt: Date;
}

export interface DirectoryStatusChangedEvent {
  parentOrganizationId: string;
  directoryId: string;
  lastSyncAt: Date | null;
  users: number;
  groups: number;
  errors: string[];
}

export type EventTopics = {
  /** Every session of the user was revoked: live connections (subscriptions) of the user must close. */
  USER_SESSIONS_REVOKED: [userId: string];
  DIRECTORY_STATUS_CHANGED: [parentOrganizationId: string, event: DirectoryStatusChangedEvent];
  DOMAIN_STATUS_CHANGED: [parentOrganizationId: string, event: DomainStatusChangedEvent];
  MEMBERSHIP_CHANGED: [organizationId: string, event: MembershipChangedEvent];
  MERGE_PROPOSAL_UPDATED: [proposalId: string, event: MergeProposalUpdatedEvent];
};

type Topic = keyof EventTopics;
/** A topic's payload: the event of a keyed topic (`[key, event]`), the only argument of the others. */
type Payload<K extends Topic> = EventTopics[K] extends [unknown, infer P] ? P : EventTopics[K][0];
/** What subscribe takes after the topic: the key of a keyed topic, nothing for the others. */
type Key<K extends Topic> = EventTopics[K] extends [infer I, unknown] ? [key: I] : [];

/** Events a subscriber has not taken yet; one that falls this far behind is ended, not buffered forever. */
const MAX_QUEUED = 1_000;

export interface EventBus {
  publish<K extends Topic>(topic: K, ...args: EventTopics[K]): void;
  subscribe<K extends Topic>(topic: K, ...key: Key<K>): AsyncIterableIterator<Payload<K>>;
}

export function createEventBus(eventTarget?: EventTarget): EventBus {
  const target = eventTarget ?? new EventTarget();
  // Each subscriber of a topic is one listener: a thousand on one parent's domains is use, not a leak.
  if (!eventTarget) setMaxListeners(0, target);
  const name = (topic: string, key: unknown) => (key === undefined ? topic : `${topic}:${String(key)}`);
  return {
    publish(topic, ...args) {
      const keyed = args.length === 2;
      const event = new CustomEvent(name(topic, keyed ? args[0] : undefined), {
        detail: (keyed ? args[1] : args[0]) ?? null,
      });
      target.dispatchEvent(event);
    },
    subscribe(topic, ...key) {
      return listen(target, name(topic, key[0]));
    },
  };
}

/**
 * Switches a subscriber from being read (next()) to being handed its events as they are published:
 * queued ones first, then each from the publisher's call, with no promise per event. `end` is called
 * once the subscriber has ended.
 */
export const PUSH = Symbol('push');

export interface Pushable<T> {
  [PUSH](deliver: (event: T) => void, end: () => void): void;
}

/**
 * One subscriber's events: handed straight to a waiting reader, else queued, or pushed (PUSH). Every
 * subscriber of a topic gets the same event object, which guardedStream and sharedSubscribe key their
 * shared work by.
 */
function listen<T>(target: EventTarget, type: string): AsyncIterableIterator<T> & Pushable<T> {
  const queue: T[] = [];
  let reader: ((result: IteratorResult<T>) => void) | undefined;
  let pushed: { deliver: (event: T) => void; end: () => void } | undefined;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    queue.length = 0;
    target.removeEventListener(type, listener);
    reader?.({ done: true, value: undefined });
    reader = undefined;
    pushed?.end();
  };
  const listener = (event: Event) => {
    const value = (event as CustomEvent<T>).detail;
    if (pushed) {
      // A subscriber's failure is its own: thrown here, it would reach the publisher (and the process).
      try {
        pushed.deliver(value);
      } catch {
        end();
      }
    } else if (reader) {
      const read = reader;
      reader = undefined;
      read({ done: false, value });
    } else if (queue.length < MAX_QUEUED) queue.push(value);
    else end();
  };
  target.addEventListener(type, listener);
  const read = () => {
    if (queue.length > 0) return Promise.resolve({ done: false as const, value: queue.shift()! });
    if (ended) return Promise.resolve({ done: true as const, value: undefined });
    return new Promise<IteratorResult<T>>((resolve) => (reader = resolve));
  };
  return Object.assign(endingIterator(read, end), {
    [PUSH](deliver: (event: T) => void, endPushed: () => void) {
      // Queued events first, including any published while they are handed over, in order.
      while (!ended && queue.length > 0) deliver(queue.shift()!);
      if (ended) return endPushed();
      pushed = { deliver, end: endPushed };
    },
  });
}

/** An async iterator read by `next`, which `end` ends when its reader returns or throws. */
export function endingIterator<T>(
  next: () => Promise<IteratorResult<T>>,
  end: () => void,
): AsyncIterableIterator<T> {
  return {
    next,
    return() {
      end();
      return Promise.resolve({ done: true, value: undefined });
    },
    throw(error?: unknown) {
      end();
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
