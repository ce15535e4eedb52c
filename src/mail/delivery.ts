// Delivers due outbox rows. Each row is claimed with FOR UPDATE SKIP LOCKED inside its own transaction,
// so several instances drain the same outbox without sending a mail twice, and a refused mail is kept
// with an exponential backoff until the SMTP server takes it.
import { LockMode } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config/config.js';
import { addSeconds, type Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Mailer } from './mailer.js';
import { OutboxMail } from './outbox-mail.entity.js';

export interface DeliveryResult {
  sent: number;
  failed: number;
  /** Earliest retry among the rows that failed, if any. */
  retryAt?: Date;
}

export function retryDelaySeconds(attempts: number, config: Config['mail']): number {
  return Math.min(config.retryBaseSeconds * 2 ** Math.max(0, attempts - 1), config.retryMaxSeconds);
}

export async function deliverDueMail(
  orm: MikroORM,
  mailer: Mailer,
  clock: Clock,
  config: Config['mail'],
  logger: Logger,
  limit = 50,
): Promise<DeliveryResult> {
  const result: DeliveryResult = { sent: 0, failed: 0 };
  for (let i = 0; i < limit; i++) {
    const outcome = await orm.em.fork().transactional(async (em) => {
      const [row] = await em
        .createQueryBuilder(OutboxMail)
        .select('*')
        .where({ sentAt: null, nextAttemptAt: { $lte: clock.now() } })
        .orderBy({ nextAttemptAt: 'asc' })
        .limit(1)
        .setLockMode(LockMode.PESSIMISTIC_PARTIAL_WRITE)
        .getResultList();
      if (!row) return 'empty' as const;
      row.attempts += 1;
      try {
        await mailer.send({
          from: config.from,
          to: row.to,
          subject: row.subject,
          text: row.text,
          html: row.html,
          messageId: `<${row.id}@console-identity>`,
        });
        row.sentAt = clock.now();
        row.lastError = null;
        return 'sent' as const;
      } catch (error) {
        row.lastError = error instanceof Error ? error.message.slice(0, 1000) : String(error);
        row.nextAttemptAt = addSeconds(clock.now(), retryDelaySeconds(row.attempts, config));
        logger.warn(
          { mailId: row.id, attempts: row.attempts, retryAt: row.nextAttemptAt, err: row.lastError },
          'mail delivery failed, will retry',
        );
        if (!result.retryAt || row.nextAttemptAt < result.retryAt) result.retryAt = row.nextAttemptAt;
        return 'failed' as const;
      }
    });
    if (outcome === 'empty') break;
    result[outcome] += 1;
  }
  return result;
}
