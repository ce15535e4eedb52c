// Outbound mail is written to the outbox table in the transaction of the change that causes it, so a
// committed change always has its mail and a rolled-back one never does. Delivery happens afterwards.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { OutboxMail } from './outbox-mail.entity.js';
import type { MailContent } from './templates.js';

export class MailOutbox {
  constructor(
    private readonly clock: Clock,
    private readonly wakeWorker: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  enqueue(em: EntityManager, to: string, content: MailContent): OutboxMail {
    const mail = new OutboxMail(to, content.subject, content.text, this.clock.now());
    mail.html = content.html ?? null;
    em.persist(mail);
    return mail;
  }

  /**
   * Call after the transaction committed: asks a worker (on any instance) to deliver now rather than at the
   * next sweep. Never fails: the change and its mail are committed, and the sweep delivers it anyway, so a
   * failed wake-up must not tell the client that its (saved) change failed.
   */
  async wake(): Promise<void> {
    await this.wakeWorker().catch((error: unknown) =>
      this.logger.warn({ err: error }, 'mail worker wake-up failed; the next sweep delivers'),
    );
  }
}
