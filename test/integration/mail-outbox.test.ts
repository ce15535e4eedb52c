// Mail goes through the outbox: a mutation commits its mail with it, and delivery retries until the
// SMTP server takes it. Shown against the real mail simulator refusing mail (451) for a while.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemberInviteDocument, OrganizationCreateDocument } from '../generated/graphql.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

async function outboxRows(stack: Stack, to: string) {
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{
      attempts: number;
      sent_at: Date | null;
      last_error: string | null;
    }>('select attempts, sent_at, last_error from mail_outbox where "to" = $1', [to]);
    return rows;
  } finally {
    await client.end();
  }
}

describe('mail outbox', () => {
  let stack: Stack;
  let second: Stack;
  let admin: { token: string };
  let organizationId: string;

  beforeAll(async () => {
    stack = await startStack();
    second = await startStack({ instanceOf: stack });
    admin = await stack.signIn(uniqueEmail('mailer'));
    const created = await stack.gqlOk(
      OrganizationCreateDocument,
      { input: { name: 'Mail Co', kind: 'API_CONSOLE' } },
      admin.token,
    );
    organizationId = created.organizationCreate.organization!.id;
  });
  afterAll(async () => {
    await second?.close();
    await stack?.close();
  });

  it('keeps the mail through an SMTP outage and delivers it exactly once afterwards', async () => {
    stack.mail.refuse();
    const email = uniqueEmail('outage');
    const invited = await stack.gqlOk(
      MemberInviteDocument,
      { organizationId, input: { email, role: 'USER' } },
      admin.token,
    );
    expect(invited.memberInvite.userErrors).toEqual([]);

    await expect
      .poll(async () => (await outboxRows(stack, email))[0]?.attempts ?? 0, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(2);
    const [failing] = await outboxRows(stack, email);
    expect(failing).toMatchObject({ sent_at: null, last_error: expect.stringContaining('451') });
    expect(stack.mail.messages({ to: email })).toEqual([]);

    stack.mail.accept();
    await stack.mail.waitFor({ to: email, subject: 'invited' }, { timeoutMs: 15_000 });
    // Two instances share the outbox; let both run a few more polls before counting.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(stack.mail.messages({ to: email })).toHaveLength(1);
    const [delivered] = await outboxRows(stack, email);
    expect(delivered!.sent_at).toBeInstanceOf(Date);
  });

  it('delivers a burst of mail from two instances without duplicates', async () => {
    const emails = Array.from({ length: 8 }, () => uniqueEmail('burst'));
    await Promise.all(
      emails.map((email, i) =>
        (i % 2 ? second : stack).gqlOk(
          MemberInviteDocument,
          { organizationId, input: { email, role: 'USER' } },
          admin.token,
        ),
      ),
    );
    for (const email of emails) await stack.mail.waitFor({ to: email }, { timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 1_500));
    for (const email of emails) expect(stack.mail.messages({ to: email })).toHaveLength(1);
  });
});
