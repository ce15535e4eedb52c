// Every committed membership change reaches membershipChanged, whichever path made it: an invitation, the
// console, JIT or SCIM provisioning, group mappings, a merge. Changes are collected when a flush writes
// them and published when the outermost transaction commits; a rollback drops them.
import {
  ChangeSetType,
  type EntityManager,
  type EventSubscriber,
  type FlushEventArgs,
  type TransactionEventArgs,
  wrap,
} from '@mikro-orm/core';
import { type EventBus, MembershipChange, type MembershipChangedEvent } from '../../lib/events.js';
import { Membership } from './membership.entity.js';

type Pending = Omit<MembershipChangedEvent, 'email'> & { email: string | null };

/** knex's nested transactions (savepoints) point at their parent; commit hooks run for the root only. */
function rootTransaction(transaction: object): object {
  let current = transaction as { parentTransaction?: object };
  while (current.parentTransaction) current = current.parentTransaction as { parentTransaction?: object };
  return current;
}

function changeOf(type: ChangeSetType, payload: Record<string, unknown>, membership: Membership) {
  if (type === ChangeSetType.CREATE) return membership.removedAt ? null : MembershipChange.ADDED;
  if (type !== ChangeSetType.UPDATE) return null;
  if ('removedAt' in payload) return membership.removedAt ? MembershipChange.REMOVED : MembershipChange.ADDED;
  return 'role' in payload ? MembershipChange.ROLE_CHANGED : null;
}

export class MembershipEvents implements EventSubscriber {
  private readonly pending = new WeakMap<object, Pending[]>();

  constructor(
    private readonly events: EventBus,
    private readonly em: EntityManager,
  ) {}

  onFlush({ em, uow }: FlushEventArgs): void {
    const changes: Pending[] = [];
    for (const changeSet of uow.getChangeSets()) {
      if (!(changeSet.entity instanceof Membership)) continue;
      const membership = changeSet.entity;
      const change = changeOf(changeSet.type, changeSet.payload as Record<string, unknown>, membership);
      if (!change) continue;
      changes.push({
        organizationId: membership.organization.id,
        membershipId: membership.id,
        userId: membership.user.id,
        email: wrap(membership.user).isInitialized() ? membership.user.email : null,
        change,
        role: membership.role,
        occurredAt: membership.updatedAt ?? membership.createdAt,
      });
    }
    if (changes.length === 0) return;
    // Inside a transaction the flush belongs to it. Otherwise the unit of work opens its own after this,
    // and what an earlier flush of it left (its transaction failed to begin, so no rollback came) is stale.
    const context = em.getTransactionContext();
    if (!context) return void this.pending.set(uow, changes);
    const key = rootTransaction(context);
    this.pending.set(key, [...(this.pending.get(key) ?? []), ...changes]);
  }

  async afterTransactionCommit({ uow, transaction }: TransactionEventArgs): Promise<void> {
    const key = uow ?? (transaction ? rootTransaction(transaction) : undefined);
    const changes = key && this.pending.get(key);
    if (!changes) return;
    this.pending.delete(key);
    const unknown = [...new Set(changes.filter((c) => c.email === null).map((c) => c.userId))];
    const emails = new Map<string, string>();
    // The commit is done: a failed look-up costs those events, never the request that made the change.
    if (unknown.length > 0) {
      const rows: { id: string; email: string }[] = await this.em
        .fork()
        .getConnection()
        .execute('select id, email from users where id in (?)', [unknown])
        .catch(() => []);
      for (const row of rows) emails.set(row.id, row.email);
    }
    for (const change of changes) {
      const email = change.email ?? emails.get(change.userId);
      if (email) this.events.publish('MEMBERSHIP_CHANGED', change.organizationId, { ...change, email });
    }
  }

  afterTransactionRollback({ uow, transaction }: TransactionEventArgs): void {
    const key = uow ?? (transaction ? rootTransaction(transaction) : undefined);
    if (key) this.pending.delete(key);
  }
}
