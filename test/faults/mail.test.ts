// Mail delivery when things break (RL-06, RL-17): the SMTP server refuses, then is gone, then comes back;
// a worker dies between sending a mail and recording it; two workers reach for the same row. A burst
// of mail from two app instances is in test/integration/mail-outbox.test.ts.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailSimulator } from '../../simulators/mail/index.js';
import { MAIL_QUEUE } from '../../src/app.js';
import { ManualClock, systemClock } from '../../src/lib/clock.js';
import { deliverDueMail } from '../../src/mail/delivery.js';
import { smtpMailer } from '../../src/mail/mailer.js';
import { OutboxMail } from '../../src/mail/outbox-mail.entity.js';
import { LoginCodeRequestDocument, LoginCodeVerifyDocument } from '../generated/graphql.js';
import { outboxRows } from '../support/sql.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('an SMTP server that refuses, then is gone', () => {
  let stack: Stack;
  let second: Stack;

  beforeAll(async () => {
    stack = await startStack();
    second = await startStack({ instanceOf: stack });
  });
  afterAll(async () => {
    await second?.close();
    await stack?.close();
  });

  it('keeps a sign-in code through the outage, delivers it once when the server is back, and the code still works', async () => {
    const email = uniqueEmail('smtp-down');
    const attemptsSoFar = async () => (await outboxRows(stack.databaseUrl, email))[0]?.attempts ?? 0;
    stack.mail.refuse();
    const requested = await stack.gqlOk(LoginCodeRequestDocument, { input: { email } });
    expect(requested.loginCodeRequest).toMatchObject({ sent: true, userErrors: [] });
    await expect.poll(attemptsSoFar, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
    expect((await outboxRows(stack.databaseUrl, email))[0]).toMatchObject({
      sent_at: null,
      last_error: expect.stringContaining('451'),
    });

    // Now nothing listens on the SMTP port at all.
    const port = stack.mail.smtpPort;
    await stack.mail.close();
    const refused = await attemptsSoFar();
    await expect.poll(attemptsSoFar, { timeout: 15_000 }).toBeGreaterThan(refused);
    expect((await outboxRows(stack.databaseUrl, email))[0]).toMatchObject({
      sent_at: null,
      last_error: expect.stringContaining('ECONNREFUSED'),
    });

    const back = await startMailSimulator({ smtpPort: port });
    try {
      const [mail] = await back.waitFor({ to: email, subject: 'sign-in code' }, { timeoutMs: 15_000 });
      // Both instances share the outbox: let each poll a few more times before counting.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(back.messages({ to: email })).toHaveLength(1);
      expect((await outboxRows(stack.databaseUrl, email))[0]?.sent_at).toBeInstanceOf(Date);
      const code = /\b(\d{6})\b/.exec(mail!.text)![1]!;
      const verified = await stack.gqlOk(LoginCodeVerifyDocument, { input: { email, code } });
      expect(verified.loginCodeVerify.token).toEqual(expect.any(String));
    } finally {
      await back.close();
    }
  });
});

describe('outbox workers that crash or compete', () => {
  // The app's own worker runs an hour behind, so the rows these tests make due are left to the workers
  // they start, until a test hands a row back to the app by moving its clock.
  const clock = new ManualClock(new Date(Date.now() - 3600_000));
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ clock });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function enqueue(to: string): Promise<string> {
    const em = stack.app.orm.em.fork();
    const mail = new OutboxMail(to, 'Outbox fault test', 'One mail, delivered at least once.', new Date());
    await em.persist(mail).flush();
    return mail.id;
  }

  const mailConfig = () => stack.app.services.config.mail;
  const smtp = () => smtpMailer({ host: stack.mail.host, port: stack.mail.smtpPort, secure: false });

  it('never lets two workers send one row: the second skips the row the first is sending', async () => {
    const to = uniqueEmail('contended');
    await enqueue(to);
    const real = smtp();
    let claimed!: () => void;
    let release!: () => void;
    const isClaimed = new Promise<void>((resolve) => (claimed = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    // The first worker holds its row (and the row lock) in the middle of the SMTP exchange.
    const first = deliverDueMail(
      stack.app.orm,
      {
        async send(mail) {
          claimed();
          await released;
          await real.send(mail);
        },
        close: () => real.close(),
      },
      systemClock,
      mailConfig(),
      stack.app.services.logger,
    );
    await isClaimed;
    const second = await deliverDueMail(
      stack.app.orm,
      real,
      systemClock,
      mailConfig(),
      stack.app.services.logger,
    );
    expect(second).toEqual({ sent: 0, failed: 0 });
    release();
    expect(await first).toEqual({ sent: 1, failed: 0 });
    real.close();
    expect(stack.mail.messages({ to })).toHaveLength(1);
  });

  it('redelivers a mail whose worker was killed after sending it, under the same Message-ID', async () => {
    const to = uniqueEmail('crash');
    const id = await enqueue(to);
    const worker = fileURLToPath(new URL('./crash-after-send.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', '@swc-node/register/esm-register', worker, stack.databaseUrl, String(stack.mail.smtpPort)],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    expect(await once(child, 'exit')).toEqual([null, 'SIGKILL']);
    expect(stack.mail.messages({ to })).toHaveLength(1);
    // The crash rolled back the claim: the row is due again, as if never tried.
    expect(await outboxRows(stack.databaseUrl, to)).toEqual([
      { id, attempts: 0, sent_at: null, last_error: null },
    ]);

    clock.set(new Date());
    await stack.app.jobs.trigger(MAIL_QUEUE);
    const copies = await stack.mail.waitFor({ to }, { count: 2, timeoutMs: 15_000 });
    expect(copies.map((mail) => mail.headers['message-id'])).toEqual([
      `<${id}@console-identity>`,
      `<${id}@console-identity>`,
    ]);
    // The SMTP server has the mail a moment before the worker commits.
    await expect
      .poll(() => outboxRows(stack.databaseUrl, to))
      .toEqual([{ id, attempts: 1, sent_at: expect.any(Date), last_error: null }]);
  });
});
