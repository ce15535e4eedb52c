// The audit log cannot be altered unnoticed (RL-08) and holds no secrets (RL-09): the database refuses
// UPDATE, DELETE and TRUNCATE through the application's own connection; an event commits or rolls back
// with its change; each parent's events form a hash chain that concurrent writers neither fork nor
// leave gaps in, and the verifier (and `npm run audit:verify`) names the first link a superuser broke;
// no token, code, client secret or SAML response the flows handle reaches an audit payload.
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainProblem, verifyAuditChains } from '../../src/modules/audit/audit-chain.js';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  DirectoryCreateDocument,
  DirectoryRotateTokenDocument,
  DomainAddDocument,
  InvitationAcceptDocument,
  LoginCodeRequestDocument,
  LoginCodeVerifyDocument,
  MemberInviteDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  OrganizationCreateDocument,
  SsoConnectionActivateDocument,
  SsoConnectionTestDocument,
  SsoConnectionUpdateDocument,
} from '../generated/graphql.js';
import { Browser } from '../support/browser.js';
import {
  browserFor,
  type CapturedParent,
  capturedParent,
  samlConnection,
  samlRoundTrip,
} from '../support/identity.js';
import { oidcCallbackUrl, oidcConnection } from '../support/oidc.js';
import { scimClient } from '../support/scim.js';
import { runScript } from '../support/script.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

/** A browser that remembers every form it posted: the SAML responses it carried to our ACS. */
class RecordingBrowser extends Browser {
  readonly forms: Array<Record<string, string>> = [];

  override postForm(url: string, fields: Record<string, string>): Promise<Response> {
    this.forms.push(fields);
    return super.postForm(url, fields);
  }
}

/** Runs `npm run audit:verify` as an operator would, against the stack's database only. */
const runVerifyCommand = (databaseUrl: string, args: string[] = []) =>
  runScript('audit-verify.ts', args, { DATABASE_URL: databaseUrl });

describe('audit log', () => {
  let stack: Stack;
  /** A superuser connection of its own, for reading everything and for tampering. */
  let db: pg.Client;
  let domains = 0;

  const domainName = () => `audit-${++domains}-${randomBytes(3).toString('hex')}.com`;
  const addDomain = (parent: CapturedParent, name = domainName()) =>
    stack.gqlOk(DomainAddDocument, { parentId: parent.parentId, input: { name } }, parent.owner.token);

  async function chain(chainKey: string) {
    return (
      await db.query<{ id: string; seq: number; action: string }>(
        'select id::text, seq::int, action from audit_events where chain_key = $1 order by seq',
        [chainKey],
      )
    ).rows;
  }

  /** Runs `statements` as a superuser who switched the audit triggers off for this one transaction. */
  async function tamper(statements: string[], values: unknown[] = []): Promise<void> {
    await db.query('begin');
    try {
      await db.query('set local session_replication_role = replica');
      for (const sql of statements) await db.query(sql, values);
      await db.query('commit');
    } catch (error) {
      await db.query('rollback');
      throw error;
    }
  }

  beforeAll(async () => {
    stack = await startStack({ env: { DOMAIN_REFRESH_MIN_SECONDS: '0' } });
    db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await stack?.close();
  });

  describe('append-only', () => {
    beforeAll(async () => {
      await stack.signIn(uniqueEmail('someone'));
    });

    it.each([
      ['UPDATE', "update audit_events set action = 'edited'"],
      ['DELETE', 'delete from audit_events'],
      ['TRUNCATE', 'truncate audit_events'],
    ])('refuses %s through the application’s own connection', async (operation, sql) => {
      const before = (await db.query('select count(*)::int as n from audit_events')).rows[0].n as number;
      expect(before).toBeGreaterThan(0);
      await expect(stack.app.orm.em.getConnection().execute(sql)).rejects.toThrow(
        `audit_events is append-only: ${operation} is not allowed`,
      );
      const after = await db.query<{ n: number; edited: number }>(
        `select count(*)::int as n, count(*) filter (where action = 'edited')::int as edited from audit_events`,
      );
      expect(after.rows[0]).toEqual({ n: before, edited: 0 });
    });

    it('commits an event with its change, chained at commit, and keeps none of a change rolled back', async () => {
      const parent = await capturedParent(stack, domainName());
      const name = domainName();
      expect((await addDomain(parent, name)).domainAdd.userErrors).toEqual([]);
      // The same name again fails at the flush that also wrote its audit event: both roll back.
      expect((await addDomain(parent, name)).domainAdd.userErrors[0]?.code).toBe('DOMAIN_ALREADY_ADDED');
      const added = await db.query<{ seq: string | null; hash: string | null }>(
        `select seq::text, hash from audit_events where action = 'domain.added' and after->>'name' = $1`,
        [name],
      );
      expect(added.rows).toHaveLength(1);
      expect(added.rows[0]).toMatchObject({ seq: expect.stringMatching(/^\d+$/), hash: expect.any(String) });

      const targetId = '00000000-0000-7000-8000-0000000000aa';
      let inside: unknown;
      await expect(
        stack.app.orm.em.fork().transactional(async (em) => {
          stack.app.services.audit.record(
            em,
            { viewer: null, requestId: 'test:rollback' },
            { action: 'test.rolled_back', targetType: 'Test', targetId },
          );
          await em.flush();
          inside = await em.execute('select hash from audit_events where target_id = ?', [targetId]);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      // Written inside its transaction, not chained before the commit, and gone after the rollback.
      expect(inside).toEqual([{ hash: null }]);
      expect((await db.query('select 1 from audit_events where target_id = $1', [targetId])).rows).toEqual(
        [],
      );
    });
  });

  describe('hash chains', () => {
    it('hashes payloads exactly as PostgreSQL writes them: escapes, Unicode, numbers, key order', async () => {
      const em = stack.app.orm.em.fork();
      stack.app.services.audit.record(
        em,
        { viewer: null, requestId: 'test:"quoted"\\' },
        {
          action: 'test.canonical',
          targetType: 'Test',
          targetId: '00000000-0000-7000-8000-0000000000cc',
          before: null,
          after: {
            zeta: 'line\nbreak\ttab "quote" \\ back \u0001 control',
            alpha: 'café ßtraße 日本語 😀 \u2028',
            numbers: [1.5, 100, -0, 1e21, 0.1],
            nested: { b: true, a: null, longer_key: { z: [], y: {} } },
          },
        },
      );
      await em.flush();
      expect(await verifyAuditChains(db, { chainKey: 'global' })).toMatchObject({
        chains: [{ broken: null }],
      });
    });

    it('chains each parent’s events and verifies them after activity in two parents', async () => {
      const [first, second] = await Promise.all([
        capturedParent(stack, domainName()),
        capturedParent(stack, domainName()),
      ]);
      for (const parent of [first, second]) {
        await addDomain(parent);
        await stack.gqlOk(
          MemberInviteDocument,
          { organizationId: parent.organizationId, input: { email: uniqueEmail('invitee'), role: 'ADMIN' } },
          parent.owner.token,
        );
      }
      for (const parent of [first, second]) {
        const events = await chain(parent.parentId);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        // The organization's own events (an invitation names no parent) join its parent's chain too.
        expect(events.map((e) => e.action)).toEqual(
          expect.arrayContaining([
            'organization.created',
            'domain.added',
            'domain.verified',
            'invitation.created',
          ]),
        );
        const one = await verifyAuditChains(db, { chainKey: parent.parentId });
        expect(one).toMatchObject({ ok: true, events: events.length, chains: [{ broken: null }] });
      }
      const all = await verifyAuditChains(db, { batchSize: 7 });
      expect(all.ok).toBe(true);
      expect(all.chains.map((c) => c.chainKey)).toEqual(
        expect.arrayContaining([first.parentId, second.parentId, 'global']),
      );
      const total = (await db.query('select count(*)::int as n from audit_events')).rows[0].n as number;
      expect(all.events).toBe(total);

      const command = await runVerifyCommand(stack.databaseUrl, ['--parent', first.parentId]);
      expect(command).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(/^OK: \d+ audit events in 1 chain/),
      });
    }, 60_000);

    it('appends concurrent changes to one chain without a gap or a fork', async () => {
      const [busy, other] = await Promise.all([
        capturedParent(stack, domainName()),
        capturedParent(stack, domainName()),
      ]);
      const before = (await chain(busy.parentId)).length;
      // Twenty at once in one parent, while another parent and sign-ins (the global chain) append too.
      const [added] = await Promise.all([
        Promise.all(Array.from({ length: 25 }, (_, i) => addDomain(i < 20 ? busy : other))),
        Promise.all(Array.from({ length: 3 }, () => stack.signIn(uniqueEmail('concurrent')))),
      ]);
      expect(added.flatMap((result) => result.domainAdd.userErrors)).toEqual([]);
      const events = await chain(busy.parentId);
      expect(events).toHaveLength(before + 20);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      for (const chainKey of [busy.parentId, other.parentId, 'global'])
        expect(await verifyAuditChains(db, { chainKey })).toMatchObject({ chains: [{ broken: null }] });
    }, 60_000);

    describe('after a superuser tampers with events', () => {
      /** A fresh parent whose chain holds at least six events; returns them in chain order. */
      async function intactChain() {
        const parent = await capturedParent(stack, domainName());
        for (let i = 0; i < 3; i++) await addDomain(parent);
        const events = await chain(parent.parentId);
        expect(events.length).toBeGreaterThanOrEqual(6);
        expect((await verifyAuditChains(db, { chainKey: parent.parentId })).ok).toBe(true);
        return { chainKey: parent.parentId, events };
      }

      async function firstBreak(chainKey: string) {
        const result = await verifyAuditChains(db, { chainKey });
        expect(result.ok).toBe(false);
        return result.chains[0]!.broken;
      }

      it('names an edited payload', async () => {
        const { chainKey, events } = await intactChain();
        await tamper(
          [
            `update audit_events set after = jsonb_set(coalesce(after, '{}'), '{name}', '"evil.example"')
              where chain_key = $1 and seq = 3`,
          ],
          [chainKey],
        );
        expect(await firstBreak(chainKey)).toMatchObject({
          chainKey,
          seq: 3,
          eventId: events[2]!.id,
          problem: ChainProblem.CONTENT_EDITED,
        });
        const command = await runVerifyCommand(stack.databaseUrl, ['--parent', chainKey]);
        expect(command.code).toBe(1);
        expect(command.stderr).toContain(
          `BROKEN chain ${chainKey} at seq 3, event ${events[2]!.id}: CONTENT_EDITED`,
        );
      }, 60_000);

      it('names an edit whose hash was recomputed, at the next link', async () => {
        const { chainKey, events } = await intactChain();
        await tamper(
          [
            `update audit_events set actor_email = 'someone-else@example.com' where chain_key = $1 and seq = 3`,
            'update audit_events e set hash = audit_event_hash(e) where chain_key = $1 and seq = 3',
          ],
          [chainKey],
        );
        expect(await firstBreak(chainKey)).toMatchObject({
          seq: 4,
          eventId: events[3]!.id,
          problem: ChainProblem.HASH_MISMATCH,
        });
      });

      it('names a deleted event', async () => {
        const { chainKey, events } = await intactChain();
        await tamper(['delete from audit_events where chain_key = $1 and seq = 3'], [chainKey]);
        expect(await firstBreak(chainKey)).toMatchObject({
          seq: 4,
          eventId: events[3]!.id,
          problem: ChainProblem.MISSING_EVENTS,
          detail: 'seq 3 is missing before it',
        });
      });

      it('names two events whose seq were swapped', async () => {
        const { chainKey, events } = await intactChain();
        // (chain_key, seq) is unique row by row: the swap goes through a free position.
        await tamper(
          [
            'update audit_events set seq = -3 where chain_key = $1 and seq = 3',
            'update audit_events set seq = 3 where chain_key = $1 and seq = 5',
            'update audit_events set seq = 5 where chain_key = $1 and seq = -3',
          ],
          [chainKey],
        );
        expect(await firstBreak(chainKey)).toMatchObject({
          seq: 3,
          eventId: events[4]!.id,
          problem: ChainProblem.REORDERED,
          detail: expect.stringContaining(`chained after seq 4 (event ${events[3]!.id})`),
        });
      });

      it('names an event inserted with the triggers off', async () => {
        const id = '00000000-0000-7000-8000-0000000000bb';
        await tamper(
          [
            `insert into audit_events (id, occurred_at, actor_type, action, target_type, target_id)
              values ($1, now(), 'SYSTEM', 'forged', 'Test', $1)`,
          ],
          [id],
        );
        const result = await verifyAuditChains(db, { chainKey: 'global' });
        expect(result.ok).toBe(false);
        expect(result.unchained).toEqual([
          expect.objectContaining({ eventId: id, problem: ChainProblem.UNCHAINED }),
        ]);
      });
    });
  });

  it('keeps tokens, codes, client secrets and SAML responses out of audit payloads', async () => {
    const secrets: string[] = [];
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

    // Sign-in by e-mailed code, and invitation links.
    const email = uniqueEmail('secrets');
    await stack.gqlOk(LoginCodeRequestDocument, { input: { email } });
    const [codeMail] = await stack.mail.waitFor(
      { to: email, subject: 'sign-in code' },
      { timeoutMs: 10_000 },
    );
    const code = /\b(\d{6})\b/.exec(codeMail!.text)![1]!;
    const signedIn = await stack.gqlOk(LoginCodeVerifyDocument, { input: { email, code } });
    secrets.push(signedIn.loginCodeVerify.token!);

    const parent = await capturedParent(stack, domainName(), 'Secrets Corp');
    secrets.push(parent.owner.token);
    const invitee = uniqueEmail('invitee');
    await stack.gqlOk(
      MemberInviteDocument,
      { organizationId: parent.organizationId, input: { email: invitee, role: 'MEMBER' } },
      parent.owner.token,
    );
    const [invitation] = await stack.mail.waitFor({ to: invitee, subject: 'invited' }, { timeoutMs: 10_000 });
    const invitationToken = new URL(invitation!.links[0]!).searchParams.get('token')!;
    const accepted = await stack.gqlOk(InvitationAcceptDocument, { input: { token: invitationToken } });
    secrets.push(invitationToken, accepted.invitationAccept.token!);

    // SCIM: the directory's token, its rotation, and a provisioning request made with it.
    const directory = (
      await stack.gqlOk(
        DirectoryCreateDocument,
        { parentId: parent.parentId, input: { name: 'Okta', provider: 'OKTA' } },
        parent.owner.token,
      )
    ).directoryCreate;
    const rotated = (
      await stack.gqlOk(DirectoryRotateTokenDocument, { id: directory.directory!.id }, parent.owner.token)
    ).directoryRotateToken;
    secrets.push(directory.token!, rotated.token!);
    const scimUser = uniqueEmail('scim', parent.domain);
    const provisioned = await scimClient(directory.directory!.scimBaseUrl, rotated.token!)('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: scimUser,
      emails: [{ primary: true, value: scimUser }],
      active: true,
    });
    expect(provisioned.status).toBe(201);

    // OIDC: the client secret at creation, a new one by update, and a test login's authorization code.
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    tenant.addUser({ email: parent.owner.email, firstName: 'A', lastName: 'B', groups: [] });
    tenant.setLoginAs(parent.owner.email);
    const oidc = await oidcConnection(stack, parent, tenant);
    const oidcTest = await stack.gqlOk(
      SsoConnectionTestDocument,
      { id: oidc.connection.id },
      parent.owner.token,
    );
    const oidcOwner = browserFor(stack, parent.owner.token);
    const callback = await oidcCallbackUrl(
      stack,
      oidcOwner,
      oidcTest.ssoConnectionTest.testUrl!,
      oidc.connection.redirectUri!,
    );
    expect((await oidcOwner.get(callback.href)).status).toBe(200);
    const newSecret = randomBytes(24).toString('base64url');
    await stack.gqlOk(
      SsoConnectionUpdateDocument,
      { id: oidc.connection.id, input: { oidc: { clientSecret: newSecret } } },
      parent.owner.token,
    );
    secrets.push(oidc.clientSecret, newSecret, callback.searchParams.get('code')!);

    // Linking approvals: the e-mailed single-use tokens of both sides.
    const manager = await stack.signInStaff(uniqueEmail('am', 'vendor.example'), StaffRole.ACCOUNT_MANAGER);
    const consoleAdmin = { email: uniqueEmail('console') };
    const consoleSession = await stack.signIn(consoleAdmin.email);
    const consoleOrg = (
      await stack.gqlOk(
        OrganizationCreateDocument,
        { input: { name: 'Secrets Console', kind: 'API_CONSOLE' } },
        consoleSession.token,
      )
    ).organizationCreate.organization!;
    await stack.gqlOk(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: consoleOrg.id, targetParentId: parent.parentId } },
      manager.token,
    );
    for (const [approverEmail, session] of [
      [consoleAdmin.email, consoleSession.token],
      [parent.owner.email, parent.owner.token],
    ] as const) {
      const mails = await stack.mail.waitFor(
        { to: approverEmail, subject: 'Approve linking' },
        { timeoutMs: 10_000 },
      );
      const link = mails.at(-1)!.links.find((l) => l.includes('/merge-proposals/review'))!;
      const token = new URL(link).searchParams.get('token')!;
      secrets.push(token, session);
      expect(
        (await stack.gqlOk(MergeProposalApproveDocument, { input: { token } }, session)).mergeProposalApprove
          .userErrors,
      ).toEqual([]);
    }

    // SAML last, on its own parent: activation ends the sessions of the parent's users.
    const samlParent = await capturedParent(stack, domainName(), 'SAML Secrets');
    const idp = await stack.idp.createTenant({ preset: 'okta' });
    const employee = uniqueEmail('emp', samlParent.domain);
    idp.addUser({ email: samlParent.owner.email, firstName: 'A', lastName: 'B', groups: [] });
    idp.addUser({ email: employee, firstName: 'E', lastName: 'M', groups: [] });
    idp.setLoginAs(samlParent.owner.email);
    const saml = await samlConnection(stack, samlParent, idp);
    const samlTest = await stack.gqlOk(SsoConnectionTestDocument, { id: saml.id }, samlParent.owner.token);
    const tester = new RecordingBrowser(stack.url);
    tester.setCookie('ci_session', samlParent.owner.token);
    await samlRoundTrip(stack, tester, samlTest.ssoConnectionTest.testUrl!);
    await stack.gqlOk(SsoConnectionActivateDocument, { id: saml.id }, samlParent.owner.token);
    idp.setLoginAs(employee);
    const employeeBrowser = new RecordingBrowser(stack.url);
    expect((await samlRoundTrip(stack, employeeBrowser, saml.loginUrl, employee)).status).toBe(303);
    for (const form of [...tester.forms, ...employeeBrowser.forms]) {
      const xml = Buffer.from(form.SAMLResponse!, 'base64').toString('utf8');
      secrets.push(form.SAMLResponse!, /SignatureValue>([^<]+)</.exec(xml)![1]!.trim());
    }
    secrets.push(employeeBrowser.cookie('ci_session')!);

    const { rows } = await db.query<{ event: string }>(
      'select to_jsonb(e)::text as event from audit_events e',
    );
    const log = rows.map((r) => r.event).join('\n');
    expect(log).toContain('directory.token_rotated');
    expect(log).toContain('merge_proposal.completed');
    expect(log).toContain(employee);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(16);
      expect(log).not.toContain(secret);
      expect(log).not.toContain(sha256(secret));
    }
    // Six digits occur by chance inside ids and hashes; the code must not occur on its own.
    expect(log).not.toMatch(new RegExp(`(?<![0-9a-f])${code}(?![0-9a-f])`));
    expect(log).not.toMatch(/SAMLResponse|<\?xml|<saml|BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)/);
  }, 120_000);
});
