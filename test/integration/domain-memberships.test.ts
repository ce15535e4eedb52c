// Domain memberships: which accounts are on a parent's verified domains and where they belong, over
// GraphQL (keyset pages) and as CSV and JSON downloads, and who may see them. Verified domains are written
// straight into the table; everything else goes through the public API.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.js';
import { DomainMembershipService } from '../../src/modules/domains/domain-membership.service.js';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  DomainMembershipsDocument,
  type DomainMembershipsQuery,
  InvitationAcceptDocument,
  MemberInviteDocument,
  MemberRemoveDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  OrganizationCreateDocument,
  OrganizationWithParentDocument,
} from '../generated/graphql.js';
import { startStack, type Stack } from '../support/stack.js';

type Row = DomainMembershipsQuery['domainMemberships']['nodes'][number];
type Person = { email: string; token: string; userId: string };

const FORMULA_NAME = `=cmd|' /C calc'!A0, "Quoted"`;

/** RFC 4180: fields separated by commas, records by CRLF, quoted fields may hold both and "" for a quote. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' && field === '') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quoted field');
        field += text.slice(i, q);
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    } else if (c === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 2;
    } else if (c === '\n' || c === '\r' || c === '"') {
      throw new Error(`bare ${JSON.stringify(c)} at ${i}`);
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || record.length) throw new Error('last record not ended by CRLF');
  return records;
}

/** What a CSV cell must hold for a JSON value: text, with formula-like text behind a quote. */
function csvCell(value: unknown): string {
  if (value === null) return '';
  const text = String(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** One readable line per row, for comparing sets of rows. */
function summary(row: Row): string {
  return [
    row.email,
    row.domain,
    row.organizationName ?? '-',
    row.organizationKind ?? '-',
    row.role ?? '-',
    row.source ?? '-',
    row.inParent ? 'in parent' : 'outside',
  ].join(' | ');
}

describe('domain memberships', () => {
  let stack: Stack;
  let db: pg.Client;
  let owner: Person;
  let multi: Person;
  let ops: Person;
  let boss: Person;
  let parentId: string;
  let otherParentId: string;
  let emptyParentId: string;

  async function person(email: string): Promise<Person> {
    return { email, ...(await stack.signIn(email)) };
  }

  async function createOrg(by: Person, kind: 'API_CONSOLE' | 'ENTERPRISE', name: string) {
    const created = await stack.gqlOk(OrganizationCreateDocument, { input: { name, kind } }, by.token);
    return created.organizationCreate.organization!;
  }

  async function parentOf(organizationId: string, by: Person): Promise<string> {
    const org = await stack.gqlOk(OrganizationWithParentDocument, { id: organizationId }, by.token);
    return org.organization.parentOrganization!.id;
  }

  async function invite(
    organizationId: string,
    email: string,
    role: 'MEMBER' | 'DEVELOPER',
    by: Person,
  ): Promise<Person> {
    const invited = await stack.gqlOk(
      MemberInviteDocument,
      { organizationId, input: { email, role } },
      by.token,
    );
    expect(invited.memberInvite.userErrors).toEqual([]);
    const [mail] = await stack.mail.waitFor({ to: email, subject: 'invited' }, { timeoutMs: 10_000 });
    stack.mail.clear();
    const accepted = await stack.gqlOk(InvitationAcceptDocument, {
      input: { token: new URL(mail!.links[0]!).searchParams.get('token')! },
    });
    return {
      email,
      token: accepted.invitationAccept.token!,
      userId: accepted.invitationAccept.member!.user.id,
    };
  }

  async function approvalToken(email: string): Promise<string> {
    const mails = await stack.mail.waitFor({ to: email, subject: 'Approve linking' }, { timeoutMs: 10_000 });
    const link = mails.at(-1)!.links.find((l) => l.includes('/merge-proposals/review'))!;
    return new URL(link).searchParams.get('token')!;
  }

  async function addDomain(parent: string, name: string, status: 'VERIFIED' | 'PENDING') {
    await db.query(
      `insert into domains (id, parent_id, name, status, verification_token, created_at, claim_started_at,
                            status_changed_at, absent_checks)
       values ($1, $2, $3, $4, $5, now(), now(), now(), 0)`,
      [uuidv7(), parent, name, status, randomBytes(16).toString('hex')],
    );
  }

  async function allRows(parent: string, token: string): Promise<Row[]> {
    const page = await stack.gqlOk(DomainMembershipsDocument, { parentId: parent, first: 100 }, token);
    expect(page.domainMemberships.pageInfo.hasNextPage).toBe(false);
    return page.domainMemberships.nodes;
  }

  async function download(parent: string, format: 'csv' | 'json', headers: Record<string, string> = {}) {
    return fetch(`${stack.url}/parents/${parent}/domain-memberships.${format}`, { headers });
  }

  const bearer = (p: Person) => ({ authorization: `Bearer ${p.token}` });

  beforeAll(async () => {
    stack = await startStack();
    db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();

    owner = await person('owner@acme.com');
    const acme = await createOrg(owner, 'ENTERPRISE', 'Acme Corp');
    parentId = await parentOf(acme.id, owner);

    boss = await person('boss@other.org');
    const other = await createOrg(boss, 'ENTERPRISE', 'Other Corp');
    otherParentId = await parentOf(other.id, boss);
    emptyParentId = await parentOf((await createOrg(boss, 'ENTERPRISE', 'Empty Corp')).id, boss);

    // In the parent's organization, in two organizations without a parent and in another parent's.
    multi = await person('multi@acme.com');
    await invite(acme.id, multi.email, 'MEMBER', owner);
    await createOrg(multi, 'API_CONSOLE', 'Side Project');
    await createOrg(multi, 'API_CONSOLE', FORMULA_NAME);
    await invite(other.id, multi.email, 'MEMBER', boss);

    await invite(other.id, 'dev@eu.acme.com', 'MEMBER', boss);
    await invite(acme.id, 'r@labs.acme.com', 'MEMBER', owner);
    await person('x@acme.io');
    const gone = await invite(acme.id, 'gone@acme.com', 'MEMBER', owner);
    const removed = await stack.gqlOk(
      MemberRemoveDocument,
      { organizationId: acme.id, userId: gone.userId },
      owner.token,
    );
    expect(removed.memberRemove.userErrors).toEqual([]);
    for (const email of ['a@notacme.com', 'b@acme.com.evil.com', 'p@acme-pending.com']) {
      await invite(acme.id, email, 'MEMBER', owner);
    }

    // A Console organization merged into the parent: its admin administers the parent's identity too.
    ops = await person('ops@acme.io');
    const consoleOrg = await createOrg(ops, 'API_CONSOLE', 'Acme Console');
    const manager = await stack.signInStaff('am@vendor.example', StaffRole.ACCOUNT_MANAGER);
    const proposed = await stack.gqlOk(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: consoleOrg.id, targetParentId: parentId } },
      manager.token,
    );
    expect(proposed.mergeProposalCreate.userErrors).toEqual([]);
    const [ownerApproval, opsApproval] = await Promise.all([
      approvalToken(owner.email),
      approvalToken(ops.email),
    ]);
    await stack.gqlOk(MergeProposalApproveDocument, { input: { token: ownerApproval! } }, owner.token);
    const merged = await stack.gqlOk(
      MergeProposalApproveDocument,
      { input: { token: opsApproval! } },
      ops.token,
    );
    expect(merged.mergeProposalApprove.proposal?.status).toBe('COMPLETED');

    await addDomain(parentId, 'acme.com', 'VERIFIED');
    await addDomain(parentId, 'labs.acme.com', 'VERIFIED');
    await addDomain(parentId, 'acme.io', 'VERIFIED');
    await addDomain(parentId, 'acme-pending.com', 'PENDING');
    await addDomain(otherParentId, 'other.org', 'VERIFIED');
  });

  afterAll(async () => {
    await db?.end();
    await stack?.close();
  });

  it('lists every account on the verified domains, each organization it belongs to, and nothing else', async () => {
    const rows = await allRows(parentId, owner.token);
    expect(rows.map(summary).sort()).toEqual(
      [
        'owner@acme.com | acme.com | Acme Corp | ENTERPRISE | PRIMARY_OWNER | CREATOR | in parent',
        'multi@acme.com | acme.com | Acme Corp | ENTERPRISE | MEMBER | INVITE | in parent',
        'multi@acme.com | acme.com | Side Project | API_CONSOLE | ADMIN | CREATOR | outside',
        `multi@acme.com | acme.com | ${FORMULA_NAME} | API_CONSOLE | ADMIN | CREATOR | outside`,
        'multi@acme.com | acme.com | Other Corp | ENTERPRISE | MEMBER | INVITE | outside',
        // A subdomain e-mail is on the domain; the longest verified match names it.
        'dev@eu.acme.com | acme.com | Other Corp | ENTERPRISE | MEMBER | INVITE | outside',
        'r@labs.acme.com | labs.acme.com | Acme Corp | ENTERPRISE | MEMBER | INVITE | in parent',
        // No membership at all, and only a removed one: the account still appears, once.
        'x@acme.io | acme.io | - | - | - | - | outside',
        'gone@acme.com | acme.com | - | - | - | - | outside',
        'ops@acme.io | acme.io | Acme Console | API_CONSOLE | ADMIN | CREATOR | in parent',
      ].sort(),
    );
    const emails = new Set(rows.map((r) => r.email));
    for (const absent of ['a@notacme.com', 'b@acme.com.evil.com', 'p@acme-pending.com', 'boss@other.org']) {
      expect(emails).not.toContain(absent);
    }
    const multiRow = rows.find((r) => r.email === multi.email && r.organizationName === 'Acme Corp')!;
    expect(multiRow).toMatchObject({ userId: multi.userId, organizationSlug: 'acme-corp' });
    expect(Date.parse(multiRow.memberSince!)).not.toBeNaN();
    expect(rows.find((r) => r.email === 'x@acme.io')).toMatchObject({
      organizationId: null,
      organizationSlug: null,
      memberSince: null,
    });
  });

  it("shows another parent only the accounts on that parent's own domains", async () => {
    const rows = await allRows(otherParentId, boss.token);
    expect(rows.map(summary).sort()).toEqual([
      'boss@other.org | other.org | Empty Corp | ENTERPRISE | PRIMARY_OWNER | CREATOR | outside',
      'boss@other.org | other.org | Other Corp | ENTERPRISE | PRIMARY_OWNER | CREATOR | in parent',
    ]);
    expect(await allRows(emptyParentId, boss.token)).toEqual([]);
  });

  it('pages by keyset: first 2 at a time returns every row exactly once, in (user, membership) order', async () => {
    const everything = await allRows(parentId, ops.token);
    const seen: Row[] = [];
    let after: string | null = null;
    for (let pages = 1; ; pages++) {
      const result: DomainMembershipsQuery = await stack.gqlOk(
        DomainMembershipsDocument,
        { parentId, first: 2, after },
        owner.token,
      );
      const { edges, nodes, pageInfo } = result.domainMemberships;
      expect(nodes.length).toBeLessThanOrEqual(2);
      expect(edges.map((e) => e.node)).toEqual(nodes);
      expect(pageInfo.hasPreviousPage).toBe(after !== null);
      expect(pageInfo.startCursor).toBe(edges[0]?.cursor ?? null);
      expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      seen.push(...nodes);
      if (!pageInfo.hasNextPage) {
        expect(pages).toBe(Math.ceil(everything.length / 2));
        break;
      }
      after = pageInfo.endCursor;
    }
    expect(seen).toEqual(everything);
    const keys = seen.map((r) => `${r.userId}/${r.organizationId}`);
    expect(new Set(keys).size).toBe(keys.length);
    const userIds = seen.map((r) => r.userId);
    expect(userIds).toEqual([...userIds].sort());
  });

  it.each([
    ['a cursor that is not base64url JSON', { first: 2, after: 'not a cursor' }],
    ['a cursor without a user id', { first: 2, after: Buffer.from('{"m":null}').toString('base64url') }],
    ['a cursor of another list', { first: 2, after: Buffer.from('["2026-01-01"]').toString('base64url') }],
    ['a page size above the maximum', { first: 101 }],
    ['a page size of zero', { first: 0 }],
  ])('refuses %s as BAD_USER_INPUT', async (_case, page) => {
    const result = await stack.gql(DomainMembershipsDocument, { parentId, ...page }, owner.token);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('downloads CSV and JSON that agree with each other and with the GraphQL rows', async () => {
    const rows = await allRows(parentId, owner.token);

    const jsonResponse = await download(parentId, 'json', bearer(owner));
    expect(jsonResponse.status).toBe(200);
    expect(jsonResponse.headers.get('content-type')).toMatch(/^application\/json; charset=utf-8/);
    expect(jsonResponse.headers.get('content-disposition')).toBe(
      `attachment; filename="domain-memberships-${parentId}.json"`,
    );
    const json = (await jsonResponse.json()) as Array<Record<string, unknown>>;
    expect(json).toEqual(rows);

    // The session cookie authenticates as well as the bearer header.
    const cookie = `${stack.app.services.config.session.cookieName}=${owner.token}`;
    const csvResponse = await download(parentId, 'csv', { cookie });
    expect(csvResponse.status).toBe(200);
    expect(csvResponse.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
    expect(csvResponse.headers.get('content-disposition')).toBe(
      `attachment; filename="domain-memberships-${parentId}.csv"`,
    );
    const text = await csvResponse.text();
    const [header, ...records] = parseCsv(text);
    const columns = Object.keys(json[0]!);
    expect(header).toEqual(columns);
    expect(records).toEqual(json.map((row) => columns.map((column) => csvCell(row[column]))));
  });

  it('quotes CSV fields by RFC 4180 and neutralises spreadsheet formulas in organization names', async () => {
    const text = await (await download(parentId, 'csv', bearer(owner))).text();
    expect(text).toContain(`,"'=cmd|' /C calc'!A0, ""Quoted""",`);
    expect(text).not.toMatch(/,=cmd/);
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replaceAll('\r\n', '')).not.toMatch(/[\r\n]/);
    const json = (await (await download(parentId, 'json', bearer(owner))).json()) as Row[];
    // JSON is not evaluated by spreadsheets: it keeps the name as the user wrote it.
    expect(json.map((r) => r.organizationName)).toContain(FORMULA_NAME);
  });

  it.each([3, 5, 1_000])(
    'reads the export in keyset batches of %i without losing or repeating a row at the boundaries',
    async (batchSize) => {
      const rows = await allRows(parentId, owner.token);
      const { services, orm } = stack.app;
      const em = orm.em.fork();
      const viewer = await services.sessions.authenticate(em, owner.token);
      const service = new DomainMembershipService(services.access, batchSize);
      const exported = [];
      for await (const row of await service.openExport({ em, viewer, requestId: 'test' }, parentId)) {
        exported.push(row);
      }
      expect(exported.map((r) => `${r.userId}/${r.organizationId}`)).toEqual(
        rows.map((r) => `${r.userId}/${r.organizationId}`),
      );
    },
  );

  it('downloads valid empty files for a parent without verified domains', async () => {
    const json = await download(emptyParentId, 'json', bearer(boss));
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual([]);
    const csv = await (await download(emptyParentId, 'csv', bearer(boss))).text();
    expect(parseCsv(csv)).toHaveLength(1);
  });

  describe('refusals', () => {
    const unknownParent = '0190a0a0-0000-7000-8000-000000000000';

    it.each([
      ['an anonymous caller', () => undefined, 'UNAUTHENTICATED'],
      ['a member who is not an identity admin of the parent', () => multi.token, 'FORBIDDEN'],
      ['an admin of another parent', () => boss.token, 'NOT_FOUND'],
    ])('GraphQL refuses %s', async (_who, token, code) => {
      const result = await stack.gql(DomainMembershipsDocument, { parentId }, token());
      expect(result.errors?.[0]?.extensions?.code).toBe(code);
      expect(result.data).toBeNull();
    });

    it('GraphQL reads an unknown or malformed parent id as not found', async () => {
      for (const id of [unknownParent, 'not-a-uuid']) {
        const result = await stack.gql(DomainMembershipsDocument, { parentId: id }, owner.token);
        expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      }
    });

    it.each([
      ['an anonymous caller', () => ({}), 401, 'UNAUTHENTICATED'],
      ['a member who is not an identity admin', () => bearer(multi), 403, 'FORBIDDEN'],
      ['an admin of another parent', () => bearer(boss), 404, 'NOT_FOUND'],
      ['a revoked or unknown session', () => ({ authorization: 'Bearer nope' }), 401, 'UNAUTHENTICATED'],
    ])('the downloads refuse %s', async (_who, headers, status, code) => {
      for (const format of ['csv', 'json'] as const) {
        const response = await download(parentId, format, headers());
        expect(response.status).toBe(status);
        expect(response.headers.get('content-disposition')).toBeNull();
        expect(await response.json()).toEqual({ error: { code, message: expect.any(String) } });
      }
    });

    it('the downloads read an unknown or malformed parent id as not found', async () => {
      for (const id of [unknownParent, 'not-a-uuid']) {
        const response = await download(id, 'csv', bearer(owner));
        expect(response.status).toBe(404);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
      }
    });
  });
});
