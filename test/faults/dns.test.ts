// The DNS server stalls, then goes away, for days of checks (RL-16): a lookup that gets no answer is not
// evidence that a record is absent, so no domain changes state and no absence is counted, and the checks
// verify by themselves once the server answers again. Per-name SERVFAIL and timeouts on refresh are in
// test/integration/domains.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsSimulator } from '../../simulators/dns/index.js';
import { DOMAIN_CHECK_QUEUE } from '../../src/app.js';
import { ManualClock } from '../../src/lib/clock.js';
import { DomainAddDocument, DomainDocument, DomainsDocument } from '../generated/graphql.js';
import { capturedParent } from '../support/identity.js';
import { sqlRows } from '../support/sql.js';
import { startStack, type Stack } from '../support/stack.js';

const DAY = 24 * 3600 * 1000;

describe('DNS outage and stalls', () => {
  const clock = new ManualClock(new Date());
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ clock, env: { DNS_TIMEOUT_MS: '300', DOMAIN_REFRESH_MIN_SECONDS: '0' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('keeps pending and verified domains as they are while DNS does not answer, and verifies after it is back', async () => {
    const parent = await capturedParent(stack, 'steady-corp.com');
    const token = parent.owner.token;
    const [verified] = (await stack.gqlOk(DomainsDocument, { parentId: parent.parentId }, token)).domains
      .nodes;
    const pending = (
      await stack.gqlOk(
        DomainAddDocument,
        { parentId: parent.parentId, input: { name: 'pending-corp.com' } },
        token,
      )
    ).domainAdd.domain!;
    const domain = async (id: string) => (await stack.gqlOk(DomainDocument, { id }, token)).domain;
    // Four failed daily checks over 72 hours: as absences, they would unverify the verified domain.
    const checkDaily = async (days: number) => {
      for (let day = 0; day < days; day++) {
        clock.advance(DAY + 1000);
        await stack.app.services.domains.checkDue(stack.app.orm.em.fork());
      }
    };
    const expectUnchanged = async (detail: string) => {
      expect(await domain(verified!.id)).toMatchObject({
        status: 'VERIFIED',
        lastCheckOutcome: 'DNS_ERROR',
        lastCheckDetail: detail,
      });
      expect(await domain(pending.id)).toMatchObject({
        status: 'PENDING',
        lastCheckOutcome: 'DNS_ERROR',
        lastCheckDetail: detail,
      });
      expect(
        await sqlRows(stack.databaseUrl, 'select absent_checks, absent_since from domains where id = $1', [
          verified!.id,
        ]),
      ).toEqual([{ absent_checks: 0, absent_since: null }]);
    };

    // The server receives every question and answers none.
    stack.dns.setDefaultMode('timeout');
    stack.dns.setTxt(pending.verificationRecord.name, [pending.verificationRecord.value]);
    await checkDaily(2);
    await expectUnchanged('ETIMEOUT');

    // The server is gone: its port refuses.
    const port = stack.dns.port;
    await stack.dns.close();
    await checkDaily(2);
    await expectUnchanged('ECONNREFUSED');

    // Back on the same port with both records; the background job, not a refresh, picks the checks up.
    const back = await startDnsSimulator({ port });
    try {
      for (const { verificationRecord } of [verified!, pending])
        back.setTxt(verificationRecord.name, [verificationRecord.value]);
      clock.advance(DAY + 1000);
      await stack.app.jobs.trigger(DOMAIN_CHECK_QUEUE);
      await expect
        .poll(async () => (await domain(pending.id)).status, { timeout: 15_000, interval: 250 })
        .toBe('VERIFIED');
      await expect
        .poll(async () => (await domain(verified!.id)).lastCheckOutcome, { timeout: 15_000, interval: 250 })
        .toBe('FOUND');
      expect((await domain(verified!.id)).status).toBe('VERIFIED');
    } finally {
      await back.close();
    }
  });
});
