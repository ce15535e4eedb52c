// Organization fixtures shared by the integration tests, all through the public API: people signed in by
// e-mailed code, organizations, members who join through a real invitation, and merge approval links.
import {
  InvitationAcceptDocument,
  MemberInviteDocument,
  OrganizationCreateDocument,
} from '../generated/graphql.js';
import { type Stack, uniqueEmail } from './stack.js';

export interface Person {
  email: string;
  token: string;
  userId: string;
}

export type OrganizationKindName = 'API_CONSOLE' | 'ENTERPRISE';
export type RoleName = 'PRIMARY_OWNER' | 'OWNER' | 'ADMIN' | 'MEMBER' | 'DEVELOPER' | 'BILLING' | 'USER';

/** A new account, signed in by e-mailed code. */
export async function person(stack: Stack, prefix: string, domain?: string): Promise<Person> {
  const email = uniqueEmail(prefix, domain);
  return { email, ...(await stack.signIn(email)) };
}

/** An organization created by the holder of `token` (its first administrator). */
export async function createOrg(stack: Stack, token: string, kind: OrganizationKindName, name: string) {
  return (await stack.gqlOk(OrganizationCreateDocument, { input: { name, kind } }, token)).organizationCreate
    .organization!;
}

/** A new account that joins the organization with `role` through an invitation by `by`. */
export async function join(
  stack: Stack,
  organizationId: string,
  role: RoleName,
  by: { token: string },
): Promise<Person> {
  const email = uniqueEmail(role.toLowerCase());
  await stack.gqlOk(MemberInviteDocument, { organizationId, input: { email, role } }, by.token);
  const token = await invitationToken(stack, email);
  const accepted = await stack.gqlOk(InvitationAcceptDocument, { input: { token } });
  return {
    email,
    token: accepted.invitationAccept.token!,
    userId: accepted.invitationAccept.member!.user.id,
  };
}

/** The token of the newest invitation mailed to the address. */
export async function invitationToken(stack: Stack, email: string): Promise<string> {
  const mails = await stack.mail.waitFor({ to: email, subject: 'invited' }, { timeoutMs: 10_000 });
  return new URL(mails.at(-1)!.links[0]!).searchParams.get('token')!;
}

export const mergeLinkMails = (stack: Stack, email: string) =>
  stack.mail.messages({ to: email, subject: 'Approve linking' }).length;

/** The token of the newest merge approval link mailed to the address, once more than `previous` arrived. */
export async function mergeLinkToken(stack: Stack, email: string, previous = 0): Promise<string> {
  const mails = await stack.mail.waitFor(
    { to: email, subject: 'Approve linking' },
    { timeoutMs: 10_000, count: previous + 1 },
  );
  const link = mails.at(-1)!.links.find((l) => l.includes('/merge-proposals/review'))!;
  return new URL(link).searchParams.get('token')!;
}
