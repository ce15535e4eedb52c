// Outbound mail is written to the outbox table in the transaction of the change that causes it, so a
// committed change always has its mail and a rolled-back one never does. Delivery happens afterwards.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../lib/clock.js';
import { OutboxMail } from './outbox-mail.entity.js';
import type { MailContent } from './templates.js';

export class MailOutbox {
  constructor(
    private readonly clock: Clock,
    private readonly wakeWorker: () => Promise<void>,
  ) {}

  enqueue(em: EntityManager, to: string, content: MailContent): OutboxMail {
    const mail = new OutboxMail(to, content.subject, content.text, this.clock.now());
    mail.html = content.html ?? null;
    em.persist(mail);
    return mail;
  }

  /** Call after the transaction committed: asks a worker (on any instance) to deliver now rather than at the next sweep. */
  async wake(): Promise<void> {
    await this.wakeWorker();
  }
}
