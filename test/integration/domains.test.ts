// Domain capture rules: what may be claimed, what counts as proof, conflicts between parents, DNS
// faults, and the clock-driven rules (7-day claims, 3 absences over 72 hours), driven by a manual clock.
import { print } from 'graphql';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import type { TxtResolver } from '../../src/modules/domains/dns-resolver.js';
import { CHECK_BATCH, CHECK_LEASE_SECONDS } from '../../src/modules/domains/domain.service.js';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  AuditEventsDocument,
  DomainAddDocument,
  DomainDocument,
  type DomainFieldsFragment,
  DomainRefreshDocument,
  DomainRemoveDocument,
  DomainRestartDocument,
  DomainStatusChangedDocument,
  type DomainStatusChangedSubscription,
  DomainsDocument,
  InvitationAcceptDocument,
  MemberInviteDocument,
  MergeProposalCreateDocument,
  OrganizationCreateDocument,
  OrganizationWithParentDocument,
  ParentOrganizationRequestApproveDocument,
  ParentOrganizationRequestDocument,
} from '../generated/graphql.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

const HOUR = 3600 * 1000;

/** What the service's applyAll and writeBatch are handed for each claim. */
interface Check {
  seen: { id: string };
}

describe('domain capture', () => {
  const clock = new ManualClock(new Date());
  let stack: Stack;
  let counter = 0;

  /** An Enterprise organization with its parent, owned by a fresh user. */
  async function parent(name = `Parent ${++counter}`) {
    const ownerEmail = uniqueEmail('owner');
    const owner = await stack.signIn(ownerEmail);
    const org = (
      await stack.gqlOk(OrganizationCreateDocument, { input: { name, kind: 'ENTERPRISE' } }, owner.token)
    ).organizationCreate.organization!;
    const parentId = (await stack.gqlOk(OrganizationWithParentDocument, { id: org.id }, owner.token))
      .organization.parentOrganization!.id;
    return { owner, ownerEmail, org, parentId };
  }

  async function add(parentId: string, name: string, token: string) {
    return (await stack.gqlOk(DomainAddDocument, { parentId, input: { name } }, token)).domainAdd;
  }

  /** A status change of one of the parent's domains, as the domain service announces it. */
  function announceStatus(parentId: string, name: string) {
    stack.app.services.events.publish('DOMAIN_STATUS_CHANGED', parentId, {
      parentOrganizationId: parentId,
      domainId: crypto.randomUUID(),
      name,
      status: 'VERIFIED',
      lastCheckOutcome: 'FOUND',
      occurredAt: new Date(),
    });
  }

  async function refresh(id: string, token: string) {
    return (await stack.gqlOk(DomainRefreshDocument, { id }, token)).domainRefresh;
  }

  function publish(
    domain: DomainFieldsFragment,
    values: Array<string | string[]> = [domain.verificationRecord.value],
  ) {
    stack.dns.setTxt(domain.verificationRecord.name, values);
  }

  async function verified(parentId: string, name: string, token: string) {
    const domain = (await add(parentId, name, token)).domain!;
    publish(domain);
    expect((await refresh(domain.id, token)).domain?.status).toBe('VERIFIED');
    return domain;
  }

  const runChecks = () => stack.app.services.domains.checkDue(stack.app.orm.em.fork());
  /** Holds the first answer for `name` back until release(); `asked` resolves once it is asked for. */
  const holdBackFirstAnswer = (name: string) => {
    const resolver = (stack.app.services.domains as unknown as { resolver: TxtResolver }).resolver;
    const resolveTxt = resolver.resolveTxt.bind(resolver);
    let ask!: () => void;
    const asked = new Promise<void>((resolve) => (ask = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    const spy = vi.spyOn(resolver, 'resolveTxt').mockImplementation(async (queried) => {
      if (queried !== name || held) return resolveTxt(queried);
      held = true;
      ask();
      const answer = await resolveTxt(queried);
      await released;
      return answer;
    });
    return { asked, release, restore: () => spy.mockRestore() };
  };
  const status = async (id: string, token: string) =>
    (await stack.gqlOk(DomainDocument, { id }, token)).domain;

  beforeAll(async () => {
    stack = await startStack({ clock, env: { DOMAIN_REFRESH_MIN_SECONDS: '0', DNS_TIMEOUT_MS: '300' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe('what may be claimed', () => {
    it.each([
      ['co.uk', 'PUBLIC_SUFFIX'],
      ['com.au', 'PUBLIC_SUFFIX'],
      ['com', 'INVALID_DOMAIN'],
      ['github.io', 'PUBLIC_SUFFIX'],
      ['alice.github.io', 'PUBLIC_SUFFIX'],
      ['herokuapp.com', 'PUBLIC_SUFFIX'],
      ['gmail.com', 'CONSUMER_DOMAIN'],
      ['mail.gmail.com', 'CONSUMER_DOMAIN'],
      ['outlook.com', 'CONSUMER_DOMAIN'],
      ['yahoo.co.jp', 'CONSUMER_DOMAIN'],
      ['not a domain', 'INVALID_DOMAIN'],
      ['acme_corp.com', 'INVALID_DOMAIN'],
      ['1.2.3.4', 'INVALID_DOMAIN'],
      ['localhost', 'INVALID_DOMAIN'],
      ['example.invalidtld', 'INVALID_DOMAIN'],
      [`${'a'.repeat(64)}.com`, 'INVALID_DOMAIN'],
    ])('refuses %j with %s', async (name, code) => {
      const { owner, parentId } = await parent();
      const result = await add(parentId, name, owner.token);
      expect(result).toMatchObject({ domain: null, userErrors: [{ code, field: ['name'] }] });
      expect((await stack.gqlOk(DomainsDocument, { parentId }, owner.token)).domains.nodes).toEqual([]);
    });

    it('canonicalises internationalised names to A-labels and refuses the same name twice', async () => {
      const { owner, parentId } = await parent();
      expect((await add(parentId, 'Bücher-Haus.DE.', owner.token)).domain?.name).toBe(
        'xn--bcher-haus-9db.de',
      );
      expect((await add(parentId, 'xn--bcher-haus-9db.de', owner.token)).userErrors[0]?.code).toBe(
        'DOMAIN_ALREADY_ADDED',
      );
    });

    it('is for identity admins of the parent only', async () => {
      const { owner, org, parentId } = await parent();
      const memberEmail = uniqueEmail('member');
      await stack.gqlOk(
        MemberInviteDocument,
        { organizationId: org.id, input: { email: memberEmail, role: 'ADMIN' } },
        owner.token,
      );
      const [mail] = await stack.mail.waitFor({ to: memberEmail, subject: 'invited' }, { timeoutMs: 10_000 });
      const admin = await stack.gqlOk(InvitationAcceptDocument, {
        input: { token: new URL(mail!.links[0]!).searchParams.get('token')! },
      });
      const asEnterpriseAdmin = await stack.gql(
        DomainAddDocument,
        { parentId, input: { name: 'forbidden-corp.com' } },
        admin.invitationAccept.token!,
      );
      expect(asEnterpriseAdmin.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const other = await parent();
      const foreign = await stack.gql(
        DomainAddDocument,
        { parentId, input: { name: 'foreign-corp.com' } },
        other.owner.token,
      );
      expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const domain = (await add(parentId, 'private-corp.com', owner.token)).domain!;
      const results = [
        await stack.gql(DomainRefreshDocument, { id: domain.id }, other.owner.token),
        await stack.gql(DomainRemoveDocument, { id: domain.id }, other.owner.token),
        await stack.gql(DomainDocument, { id: domain.id }, other.owner.token),
      ];
      for (const result of results) {
        expect(result.errors?.[0]).toMatchObject({
          message: 'Domain not found.',
          extensions: { code: 'NOT_FOUND' },
        });
      }
    });
  });

  describe('what counts as proof', () => {
    it('needs the whole value of this claim: not another claim’s token, not a substring, not the apex', async () => {
      const { owner, parentId } = await parent();
      const a = (await add(parentId, 'proof-a.com', owner.token)).domain!;
      const b = (await add(parentId, 'proof-b.com', owner.token)).domain!;
      // a's token at b's record name does not verify b.
      stack.dns.setTxt(b.verificationRecord.name, [a.verificationRecord.value]);
      expect((await refresh(b.id, owner.token)).domain).toMatchObject({
        status: 'PENDING',
        lastCheckOutcome: 'MISMATCH',
      });
      // Substrings and supersets do not match.
      for (const value of [
        `x${a.verificationRecord.value}`,
        `${a.verificationRecord.value}x`,
        a.verificationRecord.value.slice(0, -1),
      ]) {
        publish(a, [value]);
        expect((await refresh(a.id, owner.token)).domain).toMatchObject({
          status: 'PENDING',
          lastCheckOutcome: 'MISMATCH',
        });
      }
      // The record at the apex (not at the challenge label) is not read.
      stack.dns.setTxt('proof-a.com', [a.verificationRecord.value]);
      stack.dns.removeTxt(a.verificationRecord.name);
      expect((await refresh(a.id, owner.token)).domain).toMatchObject({
        status: 'PENDING',
        lastCheckOutcome: 'ABSENT',
      });
      // Among other records, split into character-strings, it does.
      const value = a.verificationRecord.value;
      publish(a, ['v=spf1 -all', [value.slice(0, 20), value.slice(20)]]);
      expect((await refresh(a.id, owner.token)).domain).toMatchObject({
        status: 'VERIFIED',
        lastCheckOutcome: 'FOUND',
      });
    });

    it('leaves the state unchanged on SERVFAIL and timeouts, pending or verified', async () => {
      const { owner, parentId } = await parent();
      const pending = (await add(parentId, 'flaky-pending.com', owner.token)).domain!;
      publish(pending);
      stack.dns.setMode(pending.verificationRecord.name, 'servfail');
      expect((await refresh(pending.id, owner.token)).domain).toMatchObject({
        status: 'PENDING',
        lastCheckOutcome: 'DNS_ERROR',
        lastCheckDetail: 'ESERVFAIL',
      });
      stack.dns.setMode(pending.verificationRecord.name, 'timeout');
      expect((await refresh(pending.id, owner.token)).domain).toMatchObject({
        status: 'PENDING',
        lastCheckOutcome: 'DNS_ERROR',
        lastCheckDetail: 'ETIMEOUT',
      });
      stack.dns.setMode(pending.verificationRecord.name, 'normal');
      expect((await refresh(pending.id, owner.token)).domain?.status).toBe('VERIFIED');

      stack.dns.setMode(pending.verificationRecord.name, 'servfail');
      for (let day = 1; day <= 5; day++) {
        clock.advance(24 * HOUR + 1000);
        await runChecks();
      }
      expect(await status(pending.id, owner.token)).toMatchObject({
        status: 'VERIFIED',
        lastCheckOutcome: 'DNS_ERROR',
      });
      stack.dns.setMode(pending.verificationRecord.name, 'normal');
    });
  });

  describe('conflicts between parents', () => {
    it('refuses a domain, a subdomain or an ancestor verified by another parent, without naming it', async () => {
      const holder = await parent('Holder Corp');
      await verified(holder.parentId, 'held-corp.com', holder.owner.token);
      const other = await parent();
      for (const name of ['held-corp.com', 'HELD-CORP.COM.', 'eu.held-corp.com', 'a.b.held-corp.com']) {
        const result = await add(other.parentId, name, other.owner.token);
        expect(result).toMatchObject({ domain: null, userErrors: [{ code: 'DOMAIN_CONFLICT' }] });
        expect(result.userErrors[0]?.message).not.toContain('Holder');
      }
      const sub = await parent();
      await verified(sub.parentId, 'deep.ancestor-corp.com', sub.owner.token);
      const apex = await add(other.parentId, 'ancestor-corp.com', other.owner.token);
      expect(apex.userErrors[0]?.code).toBe('DOMAIN_CONFLICT');
      // The holder itself may add its own subdomains.
      expect((await add(holder.parentId, 'eu.held-corp.com', holder.owner.token)).userErrors).toEqual([]);
    });

    it('lets exactly one of two parents win a concurrent verification; the loser is blocked until the winner lets go', async () => {
      const one = await parent();
      const two = await parent();
      const a = (await add(one.parentId, 'race-corp.com', one.owner.token)).domain!;
      const b = (await add(two.parentId, 'race-corp.com', two.owner.token)).domain!;
      stack.dns.setTxt(a.verificationRecord.name, [a.verificationRecord.value, b.verificationRecord.value]);
      const results = await Promise.all([refresh(a.id, one.owner.token), refresh(b.id, two.owner.token)]);
      const after = [await status(a.id, one.owner.token), await status(b.id, two.owner.token)];
      expect(after.map((d) => d.status).sort()).toEqual(['BLOCKED', 'VERIFIED']);
      for (const result of results) {
        expect(result.domain?.status ?? result.userErrors[0]?.code).toMatch(
          /^(VERIFIED|BLOCKED|DOMAIN_CONFLICT)$/,
        );
      }
      const [winner, loser] = after[0]!.status === 'VERIFIED' ? [a, b] : [b, a];
      const [winnerToken, loserToken] =
        winner === a ? [one.owner.token, two.owner.token] : [two.owner.token, one.owner.token];
      expect((await refresh(loser.id, loserToken)).domain?.status).toBe('BLOCKED');

      const removed = await stack.gqlOk(DomainRemoveDocument, { id: winner.id }, winnerToken);
      expect(removed.domainRemove.userErrors).toEqual([]);
      expect((await status(loser.id, loserToken)).status).toBe('PENDING');
      expect((await refresh(loser.id, loserToken)).domain?.status).toBe('VERIFIED');
    });

    it('applies one background batch claim by claim: of two parents’ overlapping claims found together, one wins, the other is blocked', async () => {
      const one = await parent();
      const two = await parent();
      const apex = (await add(one.parentId, 'batch-corp.com', one.owner.token)).domain!;
      const sub = (await add(two.parentId, 'eu.batch-corp.com', two.owner.token)).domain!;
      // Sorts next to the family when reversed, yet is another registrable domain.
      const lookalike = (await add(two.parentId, 'x-batch-corp.com', two.owner.token)).domain!;
      for (const domain of [apex, sub, lookalike]) publish(domain);
      await runChecks();
      const after = [await status(apex.id, one.owner.token), await status(sub.id, two.owner.token)];
      expect(after.map((d) => d.status).sort()).toEqual(['BLOCKED', 'VERIFIED']);
      expect((await status(lookalike.id, two.owner.token)).status).toBe('VERIFIED');
      const audited = await stack.app.orm.em
        .fork()
        .getConnection()
        .execute<Array<{ target_id: string; action: string }>>(
          `select distinct target_id, action from audit_events where target_id in (?) and action <> 'domain.added'`,
          [[apex.id, sub.id]],
        );
      expect(audited.map((row) => row.action).sort()).toEqual(['domain.blocked', 'domain.verified']);
    });

    it('writes each background lookup to its own row, in the batch’s one statement: a verification, an absence, a DNS error, a verified domain’s first absence', async () => {
      const { owner, parentId } = await parent();
      const found = (await add(parentId, 'row-found.com', owner.token)).domain!;
      const absent = (await add(parentId, 'row-absent.com', owner.token)).domain!;
      const failing = (await add(parentId, 'row-failing.com', owner.token)).domain!;
      const held = await verified(parentId, 'row-held.com', owner.token);
      publish(found);
      stack.dns.setMode(failing.verificationRecord.name, 'servfail');
      stack.dns.removeTxt(held.verificationRecord.name);
      const connection = stack.app.orm.em.fork().getConnection();
      await connection.execute('update domains set next_check_at = ? where id = ?', [clock.now(), held.id]);
      const row = async (id: string) => {
        const [domain] = await connection.execute<
          Array<{
            status: string;
            status_changed_at: string;
            verified_at: string | null;
            last_checked_at: string | null;
            last_check_outcome: string | null;
            last_check_detail: string | null;
            next_check_at: string | null;
            absent_checks: number;
            absent_since: string | null;
            check_leased_until: string | null;
          }>
        >(
          `select status, status_changed_at, verified_at, last_checked_at, last_check_outcome,
                  last_check_detail, next_check_at, absent_checks, absent_since, check_leased_until
             from domains where id = ?`,
          [id],
        );
        return domain!;
      };
      // The driver returns instants as text.
      const ms = (instant: string | null) => new Date(instant!).getTime();
      const before = {
        absent: await row(absent.id),
        failing: await row(failing.id),
        held: await row(held.id),
      };
      clock.advance(5_000);
      const applied = vi.spyOn(
        stack.app.services.domains as unknown as { applyAll: (scope: unknown, checks: Check[]) => unknown },
        'applyAll',
      );
      try {
        await runChecks();
        // Written by the batch's statement: had it failed or skipped a row, the fallback would write it.
        const ids = [found.id, absent.id, failing.id, held.id];
        const fallback = applied.mock.calls.flatMap(([, checks]) => checks.map(({ seen }) => seen.id));
        expect(fallback.filter((id) => ids.includes(id))).toEqual([]);
      } finally {
        applied.mockRestore();
        stack.dns.setMode(failing.verificationRecord.name, 'normal');
      }
      const checkedAt = clock.now().getTime();
      const day = 24 * 3600 * 1000;
      type Instant =
        'verified_at' | 'status_changed_at' | 'last_checked_at' | 'absent_since' | 'next_check_at';
      /** The row's fields as expected, and the instants expected of its timestamps. */
      const expectRow = async (
        id: string,
        fields: Record<string, unknown>,
        instants: Partial<Record<Instant, number>>,
      ) => {
        const written = await row(id);
        expect(written).toMatchObject({ check_leased_until: null, ...fields });
        for (const [column, at] of Object.entries(instants))
          expect(ms(written[column as Instant]), column).toBe(at);
        return written;
      };
      const lookedUp = { last_checked_at: checkedAt };
      await expectRow(
        found.id,
        { status: 'VERIFIED', last_check_outcome: 'FOUND', last_check_detail: null, absent_checks: 0 },
        { ...lookedUp, verified_at: checkedAt, status_changed_at: checkedAt, next_check_at: checkedAt + day },
      );
      expect((await row(found.id)).absent_since).toBeNull();
      for (const [claim, outcome, detail] of [
        [absent, 'ABSENT', null],
        [failing, 'DNS_ERROR', 'ESERVFAIL'],
      ] as const) {
        const pending = await expectRow(
          claim.id,
          {
            status: 'PENDING',
            verified_at: null,
            last_check_outcome: outcome,
            last_check_detail: detail,
            absent_checks: 0,
            absent_since: null,
          },
          {
            ...lookedUp,
            status_changed_at: ms(before[claim === absent ? 'absent' : 'failing'].status_changed_at),
          },
        );
        expect(ms(pending.next_check_at)).toBeGreaterThan(checkedAt);
      }
      await expectRow(
        held.id,
        { status: 'VERIFIED', last_check_outcome: 'ABSENT', last_check_detail: null, absent_checks: 1 },
        {
          ...lookedUp,
          absent_since: checkedAt,
          verified_at: ms(before.held.verified_at),
          status_changed_at: ms(before.held.status_changed_at),
          next_check_at: checkedAt + day,
        },
      );
    });

    it('blocks in the background the other parents’ claims on the name, its ancestors and subdomains, and only those', async () => {
      const holder = await parent();
      const other = await parent();
      const held = (await add(holder.parentId, 'eu.fence-corp.com', holder.owner.token)).domain!;
      const claims = new Map<string, string>();
      for (const name of [
        'fence-corp.com',
        'eu.fence-corp.com',
        'x.eu.fence-corp.com',
        'us.fence-corp.com',
        'xeu.fence-corp.com',
      ])
        claims.set(name, (await add(other.parentId, name, other.owner.token)).domain!.id);
      const statuses = async () => {
        const entries = [...claims].map(async ([name, id]) => [
          name,
          (await status(id, other.owner.token)).status,
        ]);
        return Object.fromEntries(await Promise.all(entries));
      };
      publish(held);
      await runChecks();
      expect((await status(held.id, holder.owner.token)).status).toBe('VERIFIED');
      expect(await statuses()).toEqual({
        'fence-corp.com': 'BLOCKED',
        'eu.fence-corp.com': 'BLOCKED',
        'x.eu.fence-corp.com': 'BLOCKED',
        'us.fence-corp.com': 'PENDING',
        'xeu.fence-corp.com': 'PENDING',
      });
      await stack.gqlOk(DomainRemoveDocument, { id: held.id }, holder.owner.token);
      expect(Object.values(await statuses())).toEqual(Array(claims.size).fill('PENDING'));
    });
  });

  describe('clock-driven rules', () => {
    it('fails a claim after 7 days; a restart issues a new token and the old one is dead', async () => {
      const { owner, parentId } = await parent();
      const domain = (await add(parentId, 'slow-corp.com', owner.token)).domain!;
      clock.advance(7 * 24 * HOUR + 1000);
      await runChecks();
      expect((await status(domain.id, owner.token)).status).toBe('FAILED');
      publish(domain);
      expect(
        (await stack.gqlOk(DomainRefreshDocument, { id: domain.id }, owner.token)).domainRefresh.userErrors[0]
          ?.code,
      ).toBe('CLAIM_EXPIRED');
      const restarted = (await stack.gqlOk(DomainRestartDocument, { id: domain.id }, owner.token))
        .domainRestart.domain!;
      expect(restarted.status).toBe('PENDING');
      expect(restarted.verificationRecord.value).not.toBe(domain.verificationRecord.value);
      expect((await refresh(domain.id, owner.token)).domain).toMatchObject({
        status: 'PENDING',
        lastCheckOutcome: 'MISMATCH',
      });
      publish(restarted);
      expect((await refresh(domain.id, owner.token)).domain?.status).toBe('VERIFIED');
      expect(
        (await stack.gqlOk(DomainRestartDocument, { id: domain.id }, owner.token)).domainRestart.userErrors[0]
          ?.code,
      ).toBe('CLAIM_ACTIVE');
    });

    it('unverifies only after 3 definite absences spanning 72 hours, audits it and mails the admins', async () => {
      const { owner, ownerEmail, org, parentId } = await parent();
      const domain = await verified(parentId, 'lapsed-corp.com', owner.token);
      stack.dns.removeTxt(domain.verificationRecord.name);
      // Absent at +24h and +48h, back at +72h: the count starts over.
      for (let day = 1; day <= 2; day++) {
        clock.advance(24 * HOUR + 1000);
        await runChecks();
      }
      publish(domain);
      clock.advance(24 * HOUR + 1000);
      await runChecks();
      expect((await status(domain.id, owner.token)).lastCheckOutcome).toBe('FOUND');
      // Then gone for good: absent at +24h, +48h, +72h (3 absences, 48 h apart) is not yet enough; +96h is.
      stack.dns.removeTxt(domain.verificationRecord.name);
      for (let day = 1; day <= 3; day++) {
        clock.advance(24 * HOUR + 1000);
        await runChecks();
        expect((await status(domain.id, owner.token)).status).toBe('VERIFIED');
      }
      clock.advance(24 * HOUR + 1000);
      await runChecks();
      expect((await status(domain.id, owner.token)).status).toBe('UNVERIFIED');
      const audit = await stack.gqlOk(
        AuditEventsDocument,
        { organizationId: org.id, first: 20 },
        owner.token,
      );
      expect(audit.auditEvents.nodes[0]).toMatchObject({
        action: 'domain.unverified',
        actorType: 'SYSTEM',
        before: { status: 'VERIFIED' },
        after: { name: 'lapsed-corp.com', status: 'UNVERIFIED' },
      });
      await stack.mail.waitFor(
        { to: ownerEmail, subject: 'lapsed-corp.com is no longer verified' },
        { timeoutMs: 10_000 },
      );
      // The old record is dead: re-verification needs a restart.
      publish(domain);
      expect(
        (await stack.gqlOk(DomainRefreshDocument, { id: domain.id }, owner.token)).domainRefresh.userErrors[0]
          ?.code,
      ).toBe('CLAIM_EXPIRED');
    });
  });

  it('never has two instances check the same domain at the same time', async () => {
    const second = await startStack({ instanceOf: stack, clock, env: { DNS_TIMEOUT_MS: '300' } });
    try {
      const { owner, parentId } = await parent();
      const names = Array.from({ length: 6 }, (_, i) => `lease-${i}-corp.com`);
      for (const name of names) await add(parentId, name, owner.token);
      clock.advance(60_000);
      stack.dns.reset();
      await Promise.all([runChecks(), second.app.services.domains.checkDue(second.app.orm.em.fork())]);
      for (const name of names)
        expect(stack.dns.queries({ name: `_anthropic-challenge.${name}` })).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('works through more due claims than two batches hold, checking every one once', async () => {
    const { parentId } = await parent();
    const count = 2 * CHECK_BATCH + 50;
    const connection = stack.app.orm.em.fork().getConnection();
    const now = clock.now();
    await connection.execute(
      `insert into domains (id, parent_id, name, status, verification_token, created_at, claim_started_at,
                            status_changed_at, next_check_at)
       select gen_random_uuid(), ?, 'lanes-' || n || '-corp.com', 'PENDING', 'token-' || n, ?, ?, ?, ?
         from generate_series(1, ?) as n`,
      [parentId, now, now, now, now, count],
    );
    try {
      clock.advance(60_000);
      stack.dns.reset();
      await runChecks();
      for (let n = 1; n <= count; n++)
        expect(stack.dns.queries({ name: `_anthropic-challenge.lanes-${n}-corp.com` })).toHaveLength(1);
      const [left] = await connection.execute<Array<{ n: number }>>(
        `select count(*)::int as n from domains
          where parent_id = ? and (last_checked_at is null or next_check_at <= ?)`,
        [parentId, clock.now()],
      );
      expect(left!.n).toBe(0);
    } finally {
      await connection.execute('delete from domains where parent_id = ?', [parentId]);
    }
  });

  it('verifies in the background a claim no other parent contests: audited in every organization of its parent, published live', async () => {
    const { owner, org, parentId } = await parent();
    // A second organization of the parent: a parent-level change goes to both logs.
    const connection = stack.app.orm.em.fork().getConnection();
    const [second] = await connection.execute<Array<{ id: string }>>(
      `insert into organizations (id, name, slug, kind, parent_id, jit_default_role, created_at, updated_at)
       values (gen_random_uuid(), 'Second', ?, 'ENTERPRISE', ?, 'MEMBER', now(), now()) returning id`,
      [`second-${counter}`, parentId],
    );
    const domain = (await add(parentId, 'quiet-corp.com', owner.token)).domain!;
    publish(domain);
    const live = stack.app.services.events.subscribe('DOMAIN_STATUS_CHANGED', parentId);
    // Written with the batch's other lookups, not applied claim by claim under the ORM.
    const applied = vi.spyOn(
      stack.app.services.domains as unknown as { applyAll: (scope: unknown, checks: Check[]) => unknown },
      'applyAll',
    );
    try {
      await runChecks();
      expect(applied.mock.calls.flatMap(([, checks]) => checks.map(({ seen }) => seen.id))).not.toContain(
        domain.id,
      );
      expect((await status(domain.id, owner.token)).status).toBe('VERIFIED');
      expect((await live.next()).value).toMatchObject({
        domainId: domain.id,
        status: 'VERIFIED',
        lastCheckOutcome: 'FOUND',
      });
      const audited = await connection.execute<Array<{ organization_id: string; request_id: string }>>(
        `select organization_id, request_id from audit_events
          where target_id = ? and action = 'domain.verified' and actor_type = 'SYSTEM'
            and after = '{"name": "quiet-corp.com", "status": "VERIFIED"}'::jsonb
            and before = '{"status": "PENDING"}'::jsonb`,
        [domain.id],
      );
      expect(audited.map((row) => row.organization_id).sort()).toEqual([org.id, second!.id].sort());
      expect(audited.map((row) => row.request_id)).toEqual(['job:domains.check', 'job:domains.check']);
    } finally {
      applied.mockRestore();
      await live.return?.();
    }
  });

  it('checks an unblocked claim at once, though a check that died had leased it', async () => {
    const holder = await parent();
    const other = await parent();
    const waiting = (await add(other.parentId, 'eu.lease-corp.com', other.owner.token)).domain!;
    // A batch leased the claim and died before writing its lookup.
    const connection = stack.app.orm.em.fork().getConnection();
    await connection.execute('update domains set check_leased_until = ? where id = ?', [
      new Date(clock.now().getTime() + 60_000),
      waiting.id,
    ]);
    const held = await verified(holder.parentId, 'lease-corp.com', holder.owner.token);
    expect((await status(waiting.id, other.owner.token)).status).toBe('BLOCKED');
    await stack.gqlOk(DomainRemoveDocument, { id: held.id }, holder.owner.token);
    stack.dns.reset();
    await runChecks();
    expect(stack.dns.queries({ name: waiting.verificationRecord.name })).toHaveLength(1);
  });

  it('applies the lookups claim by claim when the batch’s write fails, losing none', async () => {
    const { owner, parentId } = await parent();
    const found = (await add(parentId, 'retried-corp.com', owner.token)).domain!;
    const absent = (await add(parentId, 'still-pending-corp.com', owner.token)).domain!;
    publish(found);
    const audit = stack.app.services.audit;
    const failing = vi.spyOn(audit, 'recordForOrganizations').mockImplementationOnce(() => {
      throw new Error('audit store unavailable');
    });
    const warn = vi.spyOn(stack.app.services.logger, 'warn');
    try {
      await runChecks();
      expect(warn).toHaveBeenCalledWith(
        expect.objectContaining({ err: expect.any(Error) }),
        expect.stringContaining('failed to write together'),
      );
    } finally {
      failing.mockRestore();
      warn.mockRestore();
    }
    expect((await status(found.id, owner.token)).status).toBe('VERIFIED');
    expect(await status(absent.id, owner.token)).toMatchObject({
      status: 'PENDING',
      lastCheckOutcome: 'ABSENT',
    });
    const [row] = await stack.app.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ n: number }>>(
        `select count(*)::int as n from audit_events where target_id = ? and action = 'domain.verified'`,
        [found.id],
      );
    expect(row!.n).toBe(1);
  });

  it('fails a run whose write fails outright, once its other lookups are written; only the failed ones stay leased', async () => {
    const { owner, parentId } = await parent();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await add(parentId, `outright-${i}-corp.com`, owner.token)).domain!.id);
    clock.advance(60_000);
    // The first write of any of these claims fails: other tests' claims due now may share the run.
    const service = stack.app.services.domains as unknown as {
      writeBatch: (em: unknown, checks: Check[]) => Promise<void>;
    };
    const writeBatch = service.writeBatch.bind(service);
    let failed: string[] = [];
    const writer = vi.spyOn(service, 'writeBatch').mockImplementation((em, checks) => {
      const ours = checks.map(({ seen }) => seen.id).filter((id) => ids.includes(id));
      if (failed.length > 0 || ours.length === 0) return writeBatch(em, checks);
      failed = ours;
      return Promise.reject(new Error('database gone'));
    });
    try {
      // Leased and written two at a time: the run has several writes.
      await expect(stack.app.services.domains.checkDue(stack.app.orm.em.fork(), 2)).rejects.toThrow(
        'database gone',
      );
    } finally {
      writer.mockRestore();
    }
    expect(failed.length).toBeGreaterThan(0);
    const rows = await stack.app.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ id: string; last_checked_at: string | null; check_leased_until: string | null }>>(
        'select id, last_checked_at, check_leased_until from domains where parent_id = ?',
        [parentId],
      );
    expect(rows).toHaveLength(5);
    // The run stopped leasing at the failure: the others were written, or are still due.
    for (const row of rows) {
      if (failed.includes(row.id))
        expect(row).toMatchObject({ last_checked_at: null, check_leased_until: expect.any(String) });
      else expect(row).toMatchObject({ check_leased_until: null });
    }
  });

  it('counts both absences when a refresh checks a verified domain while a background check of it is out', async () => {
    const { owner, parentId } = await parent();
    const domain = await verified(parentId, 'racing-corp.com', owner.token);
    stack.dns.removeTxt(domain.verificationRecord.name);
    clock.advance(24 * HOUR + 1000);
    // The background check's answer is held back until the refresh has recorded its own.
    const background = holdBackFirstAnswer(domain.verificationRecord.name);
    try {
      const checks = runChecks();
      await background.asked;
      expect((await refresh(domain.id, owner.token)).domain?.lastCheckOutcome).toBe('ABSENT');
      background.release();
      await checks;
    } finally {
      background.restore();
    }
    // The refresh ended the check's lease: the check's lookup is applied to the row as the refresh left it.
    const [row] = await stack.app.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ absent_checks: number; status: string }>>(
        'select absent_checks, status from domains where id = ?',
        [domain.id],
      );
    expect(row).toEqual({ absent_checks: 2, status: 'VERIFIED' });
  });

  it('drops a background lookup that outlasted its lease: the run that leased the claim since checks it', async () => {
    const { owner, parentId } = await parent();
    const domain = await verified(parentId, 'outlasted-corp.com', owner.token);
    stack.dns.removeTxt(domain.verificationRecord.name);
    clock.advance(24 * HOUR + 1000);
    const background = holdBackFirstAnswer(domain.verificationRecord.name);
    const connection = stack.app.orm.em.fork().getConnection();
    const otherLease = new Date(clock.now().getTime() + 2 * CHECK_LEASE_SECONDS * 1000);
    try {
      const checks = runChecks();
      await background.asked;
      // The lease ran out while the answer was awaited, and another instance's run leased the claim.
      await connection.execute('update domains set check_leased_until = ? where id = ?', [
        otherLease,
        domain.id,
      ]);
      background.release();
      await checks;
    } finally {
      background.restore();
    }
    const [row] = await connection.execute<
      Array<{ absent_checks: number; last_check_outcome: string; check_leased_until: string }>
    >('select absent_checks, last_check_outcome, check_leased_until from domains where id = ?', [domain.id]);
    expect(row).toMatchObject({ absent_checks: 0, last_check_outcome: 'FOUND' });
    expect(new Date(row!.check_leased_until)).toEqual(otherLease);
  });

  it('logs a check that fails, with the domain, and still checks the rest of its batch', async () => {
    const { owner, parentId } = await parent();
    const steady = (await add(parentId, 'steady-corp.com', owner.token)).domain!;
    publish(steady);
    // Claimed before the Public Suffix List listed github.io: its verification cannot take the lock.
    const stale = { name: 'stale-corp.github.io', verificationToken: 'stale-token' };
    const now = clock.now();
    const connection = stack.app.orm.em.fork().getConnection();
    const [row] = await connection.execute<Array<{ id: string }>>(
      `insert into domains (id, parent_id, name, status, verification_token, created_at, claim_started_at,
                            status_changed_at, next_check_at)
       values (gen_random_uuid(), ?, ?, 'PENDING', ?, ?, ?, ?, ?) returning id`,
      [parentId, stale.name, stale.verificationToken, now, now, now, now],
    );
    const { recordName, recordValue } = stack.app.services.domains.instructions(stale);
    stack.dns.setTxt(recordName, [recordValue]);
    const warn = vi.spyOn(stack.app.services.logger, 'warn');
    try {
      const next = await runChecks();
      // The failed claim stays leased: the next run is due when its lease ends, not at once and again.
      expect(next!.getTime()).toBeGreaterThan(clock.now().getTime());
      expect(next!.getTime()).toBeLessThanOrEqual(clock.now().getTime() + CHECK_LEASE_SECONDS * 1000);
      expect(warn).toHaveBeenCalledWith(
        expect.objectContaining({ domainId: row!.id, err: expect.any(Error) }),
        expect.stringContaining('domain check failed'),
      );
      expect((await status(steady.id, owner.token)).status).toBe('VERIFIED');
    } finally {
      warn.mockRestore();
      await connection.execute('delete from domains where id = ?', [row!.id]);
    }
  });

  it('stops live status updates to an admin removed after subscribing', async () => {
    const { owner, org, parentId } = await parent();
    const received: string[] = [];
    const client = stack.ws(owner.token);
    const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    const unsubscribe = client.subscribe<DomainStatusChangedSubscription>(
      { query: print(DomainStatusChangedDocument), variables: { parentId } },
      {
        next: (value) => {
          if (value.data) received.push(value.data.domainStatusChanged.name);
        },
        error: () => {},
        complete: () => {},
      },
    );
    const announce = (name: string) => announceStatus(parentId, name);
    try {
      await connected;
      // Subscribing checks access first: announce until the subscription is live.
      await expect
        .poll(() => {
          announce('before.example');
          return received.length;
        })
        .toBeGreaterThan(0);
      await stack.app.orm.em
        .fork()
        .getConnection()
        .execute('update memberships set removed_at = now() where user_id = ? and organization_id = ?', [
          owner.userId,
          org.id,
        ]);
      announce('after.example');
      await new Promise((resolve) => setTimeout(resolve, 300));
      // By name: announcements made while polling may still arrive.
      expect(received.filter((name) => name === 'after.example')).toEqual([]);
    } finally {
      unsubscribe();
      await client.dispose();
    }
  });

  it('ends the subscription of a client that stops reading, and keeps delivering to one that reads', async () => {
    const { owner, parentId } = await parent();
    // graphql-transport-ws spoken by hand, so that the client can stop reading its socket.
    const connect = async () => {
      const socket = new WebSocket(`${stack.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      const messages: { id?: string; type: string; payload?: { data?: unknown } }[] = [];
      socket.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString())));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(
        JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${owner.token}` } }),
      );
      await expect.poll(() => messages.some((m) => m.type === 'connection_ack')).toBe(true);
      socket.send(
        JSON.stringify({
          id: 'live',
          type: 'subscribe',
          payload: { query: print(DomainStatusChangedDocument), variables: { parentId } },
        }),
      );
      return { socket, messages, nexts: () => messages.filter((m) => m.type === 'next').length };
    };
    const announce = (name: string) => announceStatus(parentId, name);
    const [stalled, reading] = [await connect(), await connect()];
    try {
      // Subscribing checks access first: announce until both subscriptions are live.
      await expect
        .poll(() => {
          announce('before.example');
          return Math.min(stalled.nexts(), reading.nexts());
        })
        .toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const before = { stalled: stalled.nexts(), reading: reading.nexts() };
      // 32 MB of events: more than the server keeps unsent for a client, and than the kernel buffers.
      (stalled.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
      const large = `${'x'.repeat(256 * 1024)}.example`;
      const published = 128;
      for (let i = 0; i < published; i++) {
        announce(large);
        // Each event is checked before it is delivered: one at a time, as an admin's changes come.
        await expect.poll(() => reading.nexts(), { interval: 5 }).toBe(before.reading + i + 1);
      }
      (stalled.socket as unknown as { _socket: { resume(): void } })._socket.resume();
      await expect
        .poll(() => stalled.messages.find((m) => m.id === 'live' && m.type === 'complete'), {
          timeout: 10_000,
        })
        .toBeDefined();
      expect(stalled.nexts() - before.stalled).toBeLessThan(published);
      // The connection stays open: only the subscription that fell behind was ended.
      stalled.socket.send(JSON.stringify({ type: 'ping' }));
      await expect.poll(() => stalled.messages.some((m) => m.type === 'pong')).toBe(true);
      expect(reading.messages.some((m) => m.type === 'complete')).toBe(false);
    } finally {
      stalled.socket.terminate();
      reading.socket.terminate();
    }
  });

  it('refuses to merge away an organization whose parent holds verified domains', async () => {
    const adminEmail = uniqueEmail('console');
    const admin = await stack.signIn(adminEmail);
    const consoleOrg = (
      await stack.gqlOk(
        OrganizationCreateDocument,
        { input: { name: 'Holding Console', kind: 'API_CONSOLE' } },
        admin.token,
      )
    ).organizationCreate.organization!;
    const sales = await stack.signInStaff(uniqueEmail('sales', 'vendor.example'), StaffRole.SALES);
    const request = await stack.gqlOk(
      ParentOrganizationRequestDocument,
      { organizationId: consoleOrg.id },
      admin.token,
    );
    const approved = await stack.gqlOk(
      ParentOrganizationRequestApproveDocument,
      { id: request.parentOrganizationRequest.request!.id },
      sales.token,
    );
    const consoleParent = approved.parentOrganizationRequestApprove.request!.parentOrganizationId!;
    await verified(consoleParent, 'holding-console.com', admin.token);

    const target = await parent();
    const manager = await stack.signInStaff(uniqueEmail('am', 'vendor.example'), StaffRole.ACCOUNT_MANAGER);
    const proposal = await stack.gqlOk(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: consoleOrg.id, targetParentId: target.parentId } },
      manager.token,
    );
    expect(proposal.mergeProposalCreate).toMatchObject({
      proposal: null,
      userErrors: [{ code: 'PARENT_HAS_IDENTITY_SETTINGS' }],
    });
    expect(proposal.mergeProposalCreate.userErrors[0]?.message).toContain('holding-console.com');
  });
});
