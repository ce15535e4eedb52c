// What the story's people do again and again, each through the public API, the protocol endpoints or a
// simulator: read a mail link, sign in through SSO, list one's organizations, test and turn on SSO, link a
// Console organization to a parent by a merge proposal, hold a live subscription.
import type { DocumentNode } from 'graphql';
import { print } from 'graphql';
import type { Client } from 'graphql-ws';
import { expect } from 'vitest';
import type { IdpTenant } from '../../simulators/idp/index.js';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  OrganizationCreateDocument,
  OrganizationsDocument,
  SsoConnectionActivateDocument,
  type SsoConnectionFieldsFragment,
  SsoConnectionTestDocument,
} from '../generated/graphql.js';
import { browserFor, type CapturedParent, samlRoundTrip } from '../support/identity.js';
import { uniqueEmail, type World } from './world.js';

export type Person = { email: string; token: string; userId: string };

/** The token of the newest merge-proposal mail to `email`. */
export async function approvalToken(world: World, email: string, count = 1): Promise<string> {
  const mails = await world.mail.waitFor(
    { to: email, subject: 'Approve linking' },
    { timeoutMs: 10_000, count },
  );
  const link = mails.at(-1)!.links.find((l) => l.includes('/merge-proposals/review'))!;
  return new URL(link).searchParams.get('token')!;
}

/** The organizations a session reaches, by slug, with its role in each. */
export async function roles(world: World, session: string): Promise<Record<string, string | null>> {
  const { organizations } = await world.gqlOk(OrganizationsDocument, { first: 100 }, session);
  return Object.fromEntries(organizations.edges.map((e) => [e.node.slug, e.node.viewerRole]));
}

/** An SP-initiated SAML login as `email`; the new session. */
export async function ssoLogin(
  world: World,
  connection: SsoConnectionFieldsFragment,
  tenant: IdpTenant,
  email: string,
): Promise<string> {
  tenant.setLoginAs(email);
  const browser = browserFor(world);
  const response = await samlRoundTrip(world, browser, connection.loginUrl);
  expect(response.headers.get('location')).toBe('/');
  return browser.cookie('ci_session')!;
}

/** "Testing SSO log-in" then turning it on, as the parent's owner. */
export async function testAndActivate(
  world: World,
  parent: CapturedParent,
  connection: SsoConnectionFieldsFragment,
  tenant: IdpTenant,
): Promise<number> {
  tenant.setLoginAs(parent.owner.email);
  const { ssoConnectionTest } = await world.gqlOk(
    SsoConnectionTestDocument,
    { id: connection.id },
    parent.owner.token,
  );
  const tested = await samlRoundTrip(
    world,
    browserFor(world, parent.owner.token),
    ssoConnectionTest.testUrl!,
  );
  expect(tested.status).toBe(200);
  const activated = await world.gqlOk(
    SsoConnectionActivateDocument,
    { id: connection.id },
    parent.owner.token,
  );
  expect(activated.ssoConnectionActivate.connection?.state).toBe('ACTIVE');
  return activated.ssoConnectionActivate.revokedSessions;
}

/** A Console organization whose admin's address is on the parent's domain, linked to the parent by a merge. */
export async function mergedConsole(
  world: World,
  parent: CapturedParent,
  name: string,
): Promise<{ admin: Person; organizationId: string }> {
  const email = uniqueEmail('console-admin', parent.domain);
  const admin = { email, ...(await world.signIn(email)) };
  const organizationId = (
    await world.gqlOk(OrganizationCreateDocument, { input: { name, kind: 'API_CONSOLE' } }, admin.token)
  ).organizationCreate.organization!.id;
  const manager = await world.signInStaff(uniqueEmail('am', 'vendor.example'), StaffRole.ACCOUNT_MANAGER);
  const ownerMails = world.mail.messages({ to: parent.owner.email, subject: 'Approve linking' }).length;
  const created = await world.gqlOk(
    MergeProposalCreateDocument,
    { input: { incomingOrganizationId: organizationId, targetParentId: parent.parentId } },
    manager.token,
  );
  expect(created.mergeProposalCreate.userErrors).toEqual([]);
  const [adminToken, ownerToken] = await Promise.all([
    approvalToken(world, admin.email),
    approvalToken(world, parent.owner.email, ownerMails + 1),
  ]);
  await world.gqlOk(MergeProposalApproveDocument, { input: { token: adminToken } }, admin.token);
  const done = await world.gqlOk(
    MergeProposalApproveDocument,
    { input: { token: ownerToken } },
    parent.owner.token,
  );
  expect(done.mergeProposalApprove.proposal?.status).toBe('COMPLETED');
  return { admin, organizationId };
}

export interface LiveSubscription<T> {
  client: Client;
  events: T[];
  /** The close code once the server closed the socket. */
  closedWith(): number | undefined;
}

/** Opens a graphql-ws subscription as `token` and resolves once the server acknowledged it. */
export async function subscribe<T>(
  world: World,
  document: DocumentNode,
  variables: Record<string, unknown>,
  token: string,
): Promise<LiveSubscription<T>> {
  const client = world.ws(token);
  const events: T[] = [];
  let closed: number | undefined;
  client.on('closed', (event) => {
    closed = (event as { code: number }).code;
  });
  const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
  client.subscribe<T>(
    { query: print(document), variables },
    { next: (v) => void (v.data && events.push(v.data as T)), error: () => {}, complete: () => {} },
  );
  await connected;
  return { client, events, closedWith: () => closed };
}
