import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvitationAcceptDocument,
  MemberInviteDocument,
  MemberRemoveDocument,
  MemberRoleUpdateDocument,
  MembersDocument,
  MembershipChangedDocument,
  type MembershipChangedSubscription,
  OrganizationCreateDocument,
  OrganizationDocument,
  OrganizationsDocument,
  AuditEventsDocument,
} from '../generated/graphql.js';
import { flushAsOneStatement } from '../../src/db/one-statement-write.js';
import { plainRows } from '../../src/db/plain-reads.js';
import { Membership } from '../../src/modules/members/membership.entity.js';
import { MemberRole } from '../../src/modules/organizations/roles.js';
import { slugify } from '../../src/modules/organizations/organization.service.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';
import { print } from 'graphql';

const MISSING_ID = '0190a0a0-0000-7000-8000-000000000000';

describe('organizations and members', () => {
  let stack: Stack;
  let admin: { token: string; userId: string };
  let orgId: string;

  async function join(
    organizationId: string,
    role: 'DEVELOPER' | 'ADMIN' | 'USER' | 'BILLING' | 'MEMBER' | 'OWNER',
    by = admin,
  ) {
    const email = uniqueEmail(role.toLowerCase());
    const invited = await stack.gqlOk(
      MemberInviteDocument,
      { organizationId, input: { email, role } },
      by.token,
    );
    expect(invited.memberInvite.userErrors).toEqual([]);
    const [mail] = await stack.mail.waitFor({ to: email, subject: 'invited' }, { timeoutMs: 10_000 });
    const token = new URL(mail!.links[0]!).searchParams.get('token')!;
    const accepted = await stack.gqlOk(InvitationAcceptDocument, { input: { token } });
    expect(accepted.invitationAccept.userErrors).toEqual([]);
    return {
      email,
      token: accepted.invitationAccept.token!,
      userId: accepted.invitationAccept.member!.user.id,
    };
  }

  async function createOrg(token: string, kind: 'API_CONSOLE' | 'ENTERPRISE', name = 'Test Org') {
    const created = await stack.gqlOk(OrganizationCreateDocument, { input: { name, kind } }, token);
    return created.organizationCreate.organization!;
  }

  beforeAll(async () => {
    stack = await startStack();
    admin = await stack.signIn(uniqueEmail('owner'));
    orgId = (await createOrg(admin.token, 'API_CONSOLE', 'Members Co')).id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe('organizationCreate', () => {
    it('gives ENTERPRISE creators PRIMARY_OWNER and API_CONSOLE creators ADMIN', async () => {
      const enterprise = await createOrg(admin.token, 'ENTERPRISE', 'Big Corp');
      expect(enterprise).toMatchObject({ kind: 'ENTERPRISE', viewerRole: 'PRIMARY_OWNER', slug: 'big-corp' });
      const console = await createOrg(admin.token, 'API_CONSOLE', 'Big Corp');
      expect(console).toMatchObject({ viewerRole: 'ADMIN', slug: 'big-corp-2' });
    });

    it('refuses a too-short name, a taken explicit slug and an invalid slug with their codes', async () => {
      const taken = await stack.gqlOk(
        OrganizationCreateDocument,
        { input: { name: 'X', kind: 'API_CONSOLE', slug: 'members-co' } },
        admin.token,
      );
      expect(taken.organizationCreate).toMatchObject({
        organization: null,
        userErrors: [{ code: 'INVALID_NAME' }],
      });
      const takenSlug = await stack.gqlOk(
        OrganizationCreateDocument,
        { input: { name: 'Another', kind: 'API_CONSOLE', slug: 'members-co' } },
        admin.token,
      );
      expect(takenSlug.organizationCreate).toMatchObject({
        organization: null,
        userErrors: [{ code: 'SLUG_TAKEN', field: ['slug'] }],
      });
      const bad = await stack.gqlOk(
        OrganizationCreateDocument,
        { input: { name: 'Another', kind: 'API_CONSOLE', slug: '-x-' } },
        admin.token,
      );
      expect(bad.organizationCreate.userErrors[0]?.code).toBe('INVALID_SLUG');
    });

    it('requires a signed-in caller', async () => {
      const result = await stack.gql(OrganizationCreateDocument, {
        input: { name: 'Nobody', kind: 'API_CONSOLE' },
      });
      expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });

    it('refuses oversized strings with BAD_USER_INPUT and creates nothing', async () => {
      const result = await stack.gql(
        OrganizationCreateDocument,
        { input: { name: 'n'.repeat(201), kind: 'API_CONSOLE' } },
        admin.token,
      );
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const mine = await stack.gqlOk(OrganizationsDocument, { first: 100 }, admin.token);
      expect(mine.organizations.edges.every((e) => e.node.slug.length < 100)).toBe(true);
    });

    it('pages through the caller’s organizations with keyset cursors', async () => {
      const user = await stack.signIn(uniqueEmail('pager'));
      for (const name of ['Page One', 'Page Two', 'Page Three'])
        await createOrg(user.token, 'API_CONSOLE', name);
      const first = await stack.gqlOk(OrganizationsDocument, { first: 2 }, user.token);
      expect(first.organizations.edges.map((e) => e.node.slug)).toEqual(['page-one', 'page-two']);
      expect(first.organizations.pageInfo.hasNextPage).toBe(true);
      const second = await stack.gqlOk(
        OrganizationsDocument,
        { first: 2, after: first.organizations.pageInfo.endCursor },
        user.token,
      );
      expect(second.organizations.edges.map((e) => e.node.slug)).toEqual(['page-three']);
      expect(second.organizations.pageInfo.hasNextPage).toBe(false);
      expect(second.organizations.pageInfo.hasPreviousPage).toBe(true);
      const tooMany = await stack.gql(OrganizationsDocument, { first: 101 }, user.token);
      expect(tooMany.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      // Cursors are opaque, but a forged one is a bad input, never a database error.
      const forged = (keyset: unknown) => Buffer.from(JSON.stringify(keyset)).toString('base64url');
      for (const after of ['not a cursor', forged(['not-a-uuid']), forged([1, 2]), forged({ id: 1 })]) {
        const refused = await stack.gql(OrganizationsDocument, { first: 2, after }, user.token);
        expect(refused.errors?.[0]?.extensions?.code, after).toBe('BAD_USER_INPUT');
      }
    });

    it('lists each of many concurrent callers’ own organizations, one page each, read together', async () => {
      const users = await Promise.all(
        Array.from({ length: 5 }, (_, i) => stack.signIn(uniqueEmail(`concurrent-lister${i}`))),
      );
      const owned = new Map<string, string[]>();
      for (const [i, user] of users.entries()) {
        const names = Array.from({ length: i + 1 }, (_, n) => `Lister ${i} Org ${n}`);
        for (const name of names) await createOrg(user.token, 'API_CONSOLE', name);
        owned.set(user.userId, names);
      }
      const slugs = (names: string[]) => names.map((name) => slugify(name));
      const listed = await Promise.all(
        users.map(
          async (user) => (await stack.gqlOk(OrganizationsDocument, { first: 3 }, user.token)).organizations,
        ),
      );
      listed.forEach((page, i) => {
        const mine = slugs(owned.get(users[i]!.userId)!);
        expect(page.edges.map((e) => e.node.slug)).toEqual(mine.slice(0, 3));
        expect(page.pageInfo.hasNextPage).toBe(mine.length > 3);
      });
      // In one turn of the event loop, certainly read in one statement: pages after cursors, and first pages.
      const scopeOf = (user: { userId: string }) => ({
        em: stack.app.orm.em.fork(),
        viewer: { userId: user.userId, email: '', staffRole: null, sessionId: MISSING_ID },
        requestId: 'test',
      });
      const organizations = stack.app.services.organizations;
      // The last user twice, a first page and the page after its first organization: pages, not users, are
      // what the statement's rows are grouped by.
      const asks = [
        ...users.map((user, i) => ({ user, after: i % 2 ? 1 : 0 })),
        { user: users[4]!, after: 1 },
      ];
      const pages = await Promise.all(
        asks.map(({ user, after }) =>
          organizations.listMine(scopeOf(user), {
            first: 2,
            after: after ? listed[users.indexOf(user)]!.edges[0]?.cursor : undefined,
          }),
        ),
      );
      pages.forEach((page, i) => {
        const { user, after } = asks[i]!;
        const mine = slugs(owned.get(user.userId)!);
        expect(page.items.map((item) => item.organization.slug)).toEqual(mine.slice(after, after + 2));
      });
      // Inside a transaction, the page is read alone: it sees its own writes, and a read of the same turn
      // outside it does not.
      const last = users[4]!;
      const rolledBack = new Error('rolled back');
      await expect(
        stack.app.orm.em.fork().transactional(async (em) => {
          await plainRows(
            em,
            `update memberships set removed_at = now()
              where user_id = ? and organization_id = (select id from organizations where slug = ?)`,
            [last.userId, slugs(owned.get(last.userId)!)[0]],
          );
          const [inside, outside] = await Promise.all([
            organizations.listMine({ ...scopeOf(last), em }, { first: 10 }),
            organizations.listMine(scopeOf(last), { first: 10 }),
          ]);
          const all = slugs(owned.get(last.userId)!);
          expect(inside.items.map((item) => item.organization.slug)).toEqual(all.slice(1));
          expect(outside.items.map((item) => item.organization.slug)).toEqual(all);
          throw rolledBack;
        }),
      ).rejects.toBe(rolledBack);
    });
  });

  describe('access', () => {
    it('reads unknown, malformed and foreign organization ids the same: NOT_FOUND', async () => {
      const stranger = await stack.signIn(uniqueEmail('stranger'));
      const foreign = await stack.gql(OrganizationDocument, { id: orgId }, stranger.token);
      const missing = await stack.gql(OrganizationDocument, { id: MISSING_ID }, stranger.token);
      const malformed = await stack.gql(OrganizationDocument, { id: 'not-a-uuid' }, stranger.token);
      for (const result of [foreign, missing, malformed]) {
        expect(result.errors?.[0]).toMatchObject({
          message: 'Organization not found.',
          extensions: { code: 'NOT_FOUND' },
        });
      }
      const foreignMembers = await stack.gql(MembersDocument, { organizationId: orgId }, stranger.token);
      expect(foreignMembers.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const foreignInvite = await stack.gql(
        MemberInviteDocument,
        { organizationId: orgId, input: { email: uniqueEmail(), role: 'ADMIN' } },
        stranger.token,
      );
      expect(foreignInvite.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });

    it('refuses admin mutations to a non-admin member with FORBIDDEN and changes nothing', async () => {
      const developer = await join(orgId, 'DEVELOPER');
      const invite = await stack.gql(
        MemberInviteDocument,
        { organizationId: orgId, input: { email: uniqueEmail(), role: 'USER' } },
        developer.token,
      );
      expect(invite.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const promote = await stack.gql(
        MemberRoleUpdateDocument,
        { organizationId: orgId, userId: developer.userId, role: 'ADMIN' },
        developer.token,
      );
      expect(promote.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const remove = await stack.gql(
        MemberRemoveDocument,
        { organizationId: orgId, userId: admin.userId },
        developer.token,
      );
      expect(remove.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const audit = await stack.gql(AuditEventsDocument, { organizationId: orgId }, developer.token);
      expect(audit.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const members = await stack.gqlOk(MembersDocument, { organizationId: orgId, first: 100 }, admin.token);
      expect(members.members.nodes.find((m) => m.user.id === developer.userId)?.role).toBe('DEVELOPER');
      expect(members.members.nodes.find((m) => m.user.id === admin.userId)?.role).toBe('ADMIN');
    });

    it('reads an unknown member id as NOT_FOUND', async () => {
      const result = await stack.gql(
        MemberRoleUpdateDocument,
        { organizationId: orgId, userId: MISSING_ID, role: 'USER' },
        admin.token,
      );
      expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });
  });

  describe('invitations and roles', () => {
    it('refuses malformed addresses, roles of the other kind, and existing members', async () => {
      const bad = await stack.gqlOk(
        MemberInviteDocument,
        { organizationId: orgId, input: { email: 'nope', role: 'USER' } },
        admin.token,
      );
      expect(bad.memberInvite).toMatchObject({
        invitation: null,
        userErrors: [{ code: 'INVALID_EMAIL', field: ['email'] }],
      });
      const wrongKind = await stack.gqlOk(
        MemberInviteDocument,
        { organizationId: orgId, input: { email: uniqueEmail(), role: 'OWNER' } },
        admin.token,
      );
      expect(wrongKind.memberInvite.userErrors[0]?.code).toBe('INVALID_ROLE');
      const existing = await stack.gqlOk(
        MemberInviteDocument,
        { organizationId: orgId, input: { email: 'nope', role: 'USER' } },
        admin.token,
      );
      expect(existing.memberInvite.userErrors[0]?.code).toBe('INVALID_EMAIL');
      const me = await stack.gqlOk(MembersDocument, { organizationId: orgId }, admin.token);
      const adminEmail = me.members.nodes.find((m) => m.user.id === admin.userId)!.user.email;
      const already = await stack.gqlOk(
        MemberInviteDocument,
        { organizationId: orgId, input: { email: adminEmail, role: 'USER' } },
        admin.token,
      );
      expect(already.memberInvite.userErrors[0]?.code).toBe('ALREADY_MEMBER');
    });

    it('refuses an unknown invitation token with INVITATION_INVALID', async () => {
      const result = await stack.gqlOk(InvitationAcceptDocument, { input: { token: 'forged-token' } });
      expect(result.invitationAccept).toMatchObject({
        token: null,
        userErrors: [{ code: 'INVITATION_INVALID' }],
      });
    });

    it('keeps the last administrator: no demotion, no removal', async () => {
      const solo = await stack.signIn(uniqueEmail('solo'));
      const org = await createOrg(solo.token, 'API_CONSOLE', 'Solo Org');
      const demote = await stack.gqlOk(
        MemberRoleUpdateDocument,
        { organizationId: org.id, userId: solo.userId, role: 'USER' },
        solo.token,
      );
      expect(demote.memberRoleUpdate).toMatchObject({ member: null, userErrors: [{ code: 'LAST_ADMIN' }] });
      const remove = await stack.gqlOk(
        MemberRemoveDocument,
        { organizationId: org.id, userId: solo.userId },
        solo.token,
      );
      expect(remove.memberRemove.userErrors[0]?.code).toBe('LAST_ADMIN');
      expect(
        (await stack.gqlOk(OrganizationDocument, { id: org.id }, solo.token)).organization.viewerRole,
      ).toBe('ADMIN');

      // With a second administrator, the first may step down.
      const second = await join(org.id, 'ADMIN', solo);
      const stepDown = await stack.gqlOk(
        MemberRoleUpdateDocument,
        { organizationId: org.id, userId: solo.userId, role: 'USER' },
        solo.token,
      );
      expect(stepDown.memberRoleUpdate.member?.role).toBe('USER');
      const last = await stack.gqlOk(
        MemberRemoveDocument,
        { organizationId: org.id, userId: second.userId },
        second.token,
      );
      expect(last.memberRemove.userErrors[0]?.code).toBe('LAST_ADMIN');
    });

    it('never grants or removes the primary owner, nor lets an admin grant a role above its own', async () => {
      const owner = await stack.signIn(uniqueEmail('primary'));
      const org = await createOrg(owner.token, 'ENTERPRISE', 'Owner Corp');
      const grant = await stack.gqlOk(
        MemberInviteDocument,
        { organizationId: org.id, input: { email: uniqueEmail(), role: 'PRIMARY_OWNER' } },
        owner.token,
      );
      expect(grant.memberInvite.userErrors[0]?.code).toBe('PRIMARY_OWNER_IMMUTABLE');
      const entAdmin = await join(org.id, 'ADMIN', owner);
      const aboveOwn = await stack.gqlOk(
        MemberInviteDocument,
        { organizationId: org.id, input: { email: uniqueEmail(), role: 'OWNER' } },
        entAdmin.token,
      );
      expect(aboveOwn.memberInvite.userErrors[0]?.code).toBe('ROLE_ABOVE_OWN');
      const removeOwner = await stack.gqlOk(
        MemberRemoveDocument,
        { organizationId: org.id, userId: owner.userId },
        entAdmin.token,
      );
      expect(removeOwner.memberRemove.userErrors[0]?.code).toBe('PRIMARY_OWNER_IMMUTABLE');
    });

    it('re-inviting a removed member restores access', async () => {
      const member = await join(orgId, 'USER');
      await stack.gqlOk(MemberRemoveDocument, { organizationId: orgId, userId: member.userId }, admin.token);
      expect(
        (await stack.gql(OrganizationDocument, { id: orgId }, member.token)).errors?.[0]?.extensions?.code,
      ).toBe('FORBIDDEN');
      const invited = await stack.gqlOk(
        MemberInviteDocument,
        { organizationId: orgId, input: { email: member.email, role: 'BILLING' } },
        admin.token,
      );
      expect(invited.memberInvite.userErrors).toEqual([]);
      const mails = await stack.mail.waitFor(
        { to: member.email, subject: 'invited' },
        { count: 2, timeoutMs: 10_000 },
      );
      const token = new URL(mails.at(-1)!.links[0]!).searchParams.get('token')!;
      const accepted = await stack.gqlOk(InvitationAcceptDocument, { input: { token } });
      expect(accepted.invitationAccept.member).toMatchObject({
        role: 'BILLING',
        user: { id: member.userId },
      });
      expect(
        (await stack.gqlOk(OrganizationDocument, { id: orgId }, member.token)).organization.viewerRole,
      ).toBe('BILLING');
    });
  });

  describe('membershipChanged subscription', () => {
    function collect(token: string, organizationId: string) {
      const events: MembershipChangedSubscription['membershipChanged'][] = [];
      const errors: unknown[] = [];
      let completed = false;
      const client = stack.ws(token);
      const ready = new Promise<void>((resolve) => client.on('connected', () => resolve()));
      client.subscribe<MembershipChangedSubscription>(
        { query: print(MembershipChangedDocument), variables: { organizationId } },
        {
          next: (value) => {
            if (value.data) events.push(value.data.membershipChanged);
            if (value.errors) errors.push(...value.errors);
          },
          error: (error) => errors.push(error),
          complete: () => {
            completed = true;
          },
        },
      );
      return { events, errors, ready, isCompleted: () => completed };
    }

    it('streams membership changes to administrators over graphql-ws', async () => {
      const watcher = collect(admin.token, orgId);
      await watcher.ready;
      await new Promise((r) => setTimeout(r, 100));
      const member = await join(orgId, 'USER');
      await stack.gqlOk(
        MemberRoleUpdateDocument,
        { organizationId: orgId, userId: member.userId, role: 'DEVELOPER' },
        admin.token,
      );
      await stack.gqlOk(MemberRemoveDocument, { organizationId: orgId, userId: member.userId }, admin.token);
      await expect.poll(() => watcher.events.length, { timeout: 5_000 }).toBe(3);
      expect(watcher.events.map((e) => [e.change, e.role, e.email])).toEqual([
        ['ADDED', 'USER', member.email],
        ['ROLE_CHANGED', 'DEVELOPER', member.email],
        ['REMOVED', 'DEVELOPER', member.email],
      ]);
      expect(watcher.errors).toEqual([]);
    });

    // Changes made by JIT, SCIM, group mappings or merges flush Membership rows like the console does; the
    // event follows the commit of the outermost transaction, whatever shape the write took.
    it('publishes after the outermost commit, never for a rolled-back change', async () => {
      const member = await join(orgId, 'USER');
      const watcher = collect(admin.token, orgId);
      await watcher.ready;
      await new Promise((r) => setTimeout(r, 100));
      const em = stack.app.orm.em.fork();
      const mine = { organization: orgId, user: member.userId };
      await expect(
        em.transactional(async (tx) => {
          (await tx.findOneOrFail(Membership, mine)).role = MemberRole.DEVELOPER;
          await tx.flush();
          throw new Error('rolled back after the flush');
        }),
      ).rejects.toThrow('rolled back');
      await em.transactional(async (outer) => {
        await outer.transactional(async (inner) => {
          (await inner.findOneOrFail(Membership, mine)).role = MemberRole.BILLING;
        });
        await new Promise((r) => setTimeout(r, 200));
        expect(watcher.events).toEqual([]);
      });
      const alone = stack.app.orm.em.fork();
      (await alone.findOneOrFail(Membership, mine)).role = MemberRole.DEVELOPER;
      await alone.flush();
      // Written as one statement (as SSO sign-ins write), the change is published after the commit too.
      const asOneStatement = (role: MemberRole, fail: boolean) =>
        stack.app.orm.em.fork().transactional(async (tx) => {
          (await tx.findOneOrFail(Membership, mine)).role = role;
          await flushAsOneStatement(tx);
          if (fail) throw new Error('rolled back after the statement');
        });
      await expect(asOneStatement(MemberRole.ADMIN, true)).rejects.toThrow('rolled back');
      await asOneStatement(MemberRole.BILLING, false);
      await expect.poll(() => watcher.events.length, { timeout: 5_000 }).toBe(3);
      expect(watcher.events.map((e) => [e.change, e.role, e.email])).toEqual([
        ['ROLE_CHANGED', 'BILLING', member.email],
        ['ROLE_CHANGED', 'DEVELOPER', member.email],
        ['ROLE_CHANGED', 'BILLING', member.email],
      ]);
    });

    it('refuses non-admins and strangers', async () => {
      const developer = await join(orgId, 'DEVELOPER');
      const stranger = await stack.signIn(uniqueEmail('nosy'));
      for (const [token, code] of [
        [developer.token, 'FORBIDDEN'],
        [stranger.token, 'NOT_FOUND'],
        [undefined, 'UNAUTHENTICATED'],
      ] as const) {
        const watcher = collect(token as string, orgId);
        await expect.poll(() => watcher.errors.length, { timeout: 5_000 }).toBeGreaterThan(0);
        expect(JSON.stringify(watcher.errors)).toContain(code);
        expect(watcher.events).toEqual([]);
      }
    });

    it('stops delivering to a subscriber demoted after subscribing', async () => {
      const coAdmin = await join(orgId, 'ADMIN');
      const watcher = collect(coAdmin.token, orgId);
      await watcher.ready;
      await new Promise((r) => setTimeout(r, 100));
      await stack.gqlOk(
        MemberRoleUpdateDocument,
        { organizationId: orgId, userId: coAdmin.userId, role: 'USER' },
        admin.token,
      );
      await join(orgId, 'USER');
      await new Promise((r) => setTimeout(r, 300));
      expect(watcher.events.map((e) => e.change)).toEqual([]);
    });
  });
});
