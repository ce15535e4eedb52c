// Mail goes through the outbox: a mutation commits its mail with it, and instances sharing the outbox
// deliver it once. SMTP outages and crashed workers are in test/faults/mail.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemberInviteDocument, OrganizationCreateDocument } from '../generated/graphql.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

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
