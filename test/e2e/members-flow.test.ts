// The foundation's end-to-end story, through the public API and the simulators only: sign in by an
// e-mailed code, create an organization, invite by mail, accept through the link, change the role,
// remove, and find an audit event for every step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditEventsDocument,
  MemberInviteDocument,
  MemberRemoveDocument,
  MemberRoleUpdateDocument,
  MembersDocument,
  OrganizationCreateDocument,
  OrganizationDocument,
} from '../generated/graphql.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('members before SSO, end to end', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('signs in, creates an organization, invites, accepts by link, changes the role, removes, and audits each step', async () => {
    const adminEmail = uniqueEmail('admin');
    const admin = await stack.signIn(adminEmail);

    const created = await stack.gqlOk(
      OrganizationCreateDocument,
      { input: { name: 'Acme Research', kind: 'API_CONSOLE' } },
      admin.token,
    );
    const organization = created.organizationCreate.organization!;
    expect(organization).toMatchObject({ slug: 'acme-research', kind: 'API_CONSOLE', viewerRole: 'ADMIN' });

    const inviteeEmail = uniqueEmail('dev');
    const invited = await stack.gqlOk(
      MemberInviteDocument,
      { organizationId: organization.id, input: { email: inviteeEmail.toUpperCase(), role: 'DEVELOPER' } },
      admin.token,
    );
    expect(invited.memberInvite.userErrors).toEqual([]);
    expect(invited.memberInvite.invitation).toMatchObject({ email: inviteeEmail, role: 'DEVELOPER' });

    const [mail] = await stack.mail.waitFor({ to: inviteeEmail, subject: 'invited' }, { timeoutMs: 10_000 });
    const link = mail!.links.find((l) => l.includes('/invitations/accept'))!;
    expect(link.startsWith(`${stack.url}/invitations/accept?token=`)).toBe(true);

    // Following the link (as a mail scanner would) only shows a confirmation; it does not accept.
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<form method="post" action="/invitations/accept">');
    const membersBefore = await stack.gqlOk(
      MembersDocument,
      { organizationId: organization.id },
      admin.token,
    );
    expect(membersBefore.members.nodes.map((m) => m.user.email)).toEqual([adminEmail]);

    const token = new URL(link).searchParams.get('token')!;
    const accepted = await fetch(`${stack.url}/invitations/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
      redirect: 'manual',
    });
    expect(accepted.status).toBe(200);
    expect(await accepted.text()).toContain('Welcome to Acme Research');
    const cookie = accepted.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^ci_session=[^;]+;.*HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    const inviteeToken = /^ci_session=([^;]+)/.exec(cookie)![1]!;

    // The cookie alone authenticates the browser.
    const asCookie = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `ci_session=${inviteeToken}` },
      body: JSON.stringify({ query: `{ organization(id: "${organization.id}") { viewerRole } }` }),
    });
    expect(await asCookie.json()).toEqual({ data: { organization: { viewerRole: 'DEVELOPER' } } });

    // The link is single-use.
    const again = await fetch(`${stack.url}/invitations/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(again.status).toBe(400);

    const members = await stack.gqlOk(MembersDocument, { organizationId: organization.id }, admin.token);
    const invitee = members.members.nodes.find((m) => m.user.email === inviteeEmail)!;
    expect(invitee).toMatchObject({ role: 'DEVELOPER', source: 'INVITE' });

    const changed = await stack.gqlOk(
      MemberRoleUpdateDocument,
      { organizationId: organization.id, userId: invitee.user.id, role: 'BILLING' },
      admin.token,
    );
    expect(changed.memberRoleUpdate.member?.role).toBe('BILLING');
    // The role change reaches the invitee's open session at once.
    const seen = await stack.gqlOk(OrganizationDocument, { id: organization.id }, inviteeToken);
    expect(seen.organization.viewerRole).toBe('BILLING');

    const removed = await stack.gqlOk(
      MemberRemoveDocument,
      { organizationId: organization.id, userId: invitee.user.id },
      admin.token,
    );
    expect(removed.memberRemove.userErrors).toEqual([]);

    const refused = await stack.gql(OrganizationDocument, { id: organization.id }, inviteeToken);
    expect(refused.data).toBeNull();
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const refusedMembers = await stack.gql(
      MembersDocument,
      { organizationId: organization.id },
      inviteeToken,
    );
    expect(refusedMembers.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const audit = await stack.gqlOk(
      AuditEventsDocument,
      { organizationId: organization.id, first: 50 },
      admin.token,
    );
    const actions = audit.auditEvents.nodes.map((e) => e.action).reverse();
    expect(actions).toEqual([
      'organization.created',
      'invitation.created',
      'member.joined',
      'member.role_changed',
      'member.removed',
    ]);
    const roleChange = audit.auditEvents.nodes.find((e) => e.action === 'member.role_changed')!;
    expect(roleChange).toMatchObject({
      actorType: 'USER',
      actorEmail: adminEmail,
      targetType: 'Membership',
      targetId: invitee.id,
      before: { role: 'DEVELOPER' },
      after: { role: 'BILLING', userId: invitee.user.id },
    });
    expect(roleChange.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const joined = audit.auditEvents.nodes.find((e) => e.action === 'member.joined')!;
    expect(joined.actorEmail).toBe(inviteeEmail);
  });
});
