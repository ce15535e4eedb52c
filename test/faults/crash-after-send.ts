// A mail worker that dies between handing a mail to SMTP and committing that it was sent: it claims due
// outbox rows as the app does, sends one, and SIGKILLs its own process before the transaction commits.
// Run as `node --import @swc-node/register/esm-register crash-after-send.ts <databaseUrl> <smtpPort>`.
import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/postgresql';
import { ormOptions } from '../../src/db/orm-options.js';
import { systemClock } from '../../src/lib/clock.js';
import { createLogger } from '../../src/lib/logger.js';
import { deliverDueMail } from '../../src/mail/delivery.js';
import { smtpMailer } from '../../src/mail/mailer.js';

const [databaseUrl, smtpPort] = process.argv.slice(2);
const orm = await MikroORM.init(ormOptions(databaseUrl!));
const smtp = smtpMailer({ host: '127.0.0.1', port: Number(smtpPort), secure: false });
await deliverDueMail(
  orm,
  {
    async send(mail) {
      await smtp.send(mail);
      process.kill(process.pid, 'SIGKILL');
    },
    close: () => smtp.close(),
  },
  systemClock,
  { from: 'Console Identity <identity@localhost>', retryBaseSeconds: 1, retryMaxSeconds: 2 },
  createLogger('silent'),
);
// Reaching this line means there was nothing to send: the test reads the exit code.
process.exit(3);
