import { Entity, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../lib/ids.js';

/** A mail committed with the change that caused it, delivered later by the outbox worker. */
@Entity({ tableName: 'mail_outbox' })
@Index({ properties: ['sentAt', 'nextAttemptAt'] })
export class OutboxMail {
  [OptionalProps]?: 'attempts' | 'sentAt' | 'lastError' | 'html';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @Property({ length: 254 })
  to: string;

  @Property({ length: 300 })
  subject: string;

  @Property({ type: 'text' })
  text: string;

  @Property({ type: 'text', nullable: true })
  html?: string | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  nextAttemptAt: Date;

  @Property({ type: 'integer', default: 0 })
  attempts = 0;

  @Property({ type: 'timestamptz', nullable: true })
  sentAt?: Date | null;

  @Property({ type: 'text', nullable: true })
  lastError?: string | null;

  constructor(to: string, subject: string, text: string, now: Date) {
    this.to = to;
    this.subject = subject;
    this.text = text;
    this.createdAt = now;
    this.nextAttemptAt = now;
  }
}
