import { Entity, Enum, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';

export enum ActorType {
  USER = 'USER',
  STAFF = 'STAFF',
  SYSTEM = 'SYSTEM',
  IDP = 'IDP',
}

/**
 * Append-only record of one identity change, written in the transaction of the change. The database
 * refuses to update or delete it, and chains it at commit into the columns chain_key, seq, prev_hash
 * and hash (see audit-chain.ts). They are deliberately not mapped: the application never writes them.
 */
@Entity({ tableName: 'audit_events' })
@Index({ properties: ['organizationId', 'id'] })
@Index({ properties: ['parentOrganizationId', 'id'] })
export class AuditEvent {
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @Property({ type: 'timestamptz' })
  occurredAt!: Date;

  @Enum({ items: () => ActorType })
  actorType!: ActorType;

  @Property({ type: 'uuid', nullable: true })
  actorUserId?: string | null;

  /** Snapshot: the address at the time, even if the account changes later. */
  @Property({ length: 254, nullable: true })
  actorEmail?: string | null;

  @Property({ length: 80 })
  action!: string;

  @Property({ length: 40 })
  targetType!: string;

  @Property({ type: 'uuid' })
  targetId!: string;

  @Property({ type: 'uuid', nullable: true })
  organizationId?: string | null;

  @Property({ type: 'uuid', nullable: true })
  parentOrganizationId?: string | null;

  @Property({ type: 'jsonb', nullable: true })
  before?: Record<string, unknown> | null;

  @Property({ type: 'jsonb', nullable: true })
  after?: Record<string, unknown> | null;

  @Property({ length: 64, nullable: true })
  requestId?: string | null;
}
