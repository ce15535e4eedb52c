// The authorization matrix (DESIGN rules 18-19; threats GQ-01..GQ-03). The schema is loaded from code and
// walked: every Query, Mutation and Subscription root field, and every field of the types that expose
// sensitive data, must have a row below, or this test fails naming the field (default deny: adding a field
// forces a decision on who may call it). Each row calls its field, built from the schema with a selection
// of scalar leaves, as seven personas and asserts what each gets. A foreign id must read exactly like a
// random missing one, and a refused mutation must leave the database as it was.
import { randomBytes } from 'node:crypto';
import {
  getNamedType,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  isLeafType,
  isNonNullType,
  isObjectType,
  parse,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdpTenant } from '../../simulators/idp/index.js';
import { graphqlSchema } from '../../src/graphql/schema.js';
import { uuidv7 } from '../../src/lib/ids.js';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import { type CapturedParent, capturedParent, samlConnection } from '../support/identity.js';
import {
  createOrg,
  invitationToken,
  join,
  mergeLinkMails,
  mergeLinkToken,
  type Person,
  person,
} from '../support/orgs.js';
import { type GraphQLResult, type Stack, startStack, uniqueEmail } from '../support/stack.js';

const PERSONAS = [
  'anonymous',
  /** MEMBER of the target organization A. */
  'member',
  /** ADMIN of B, a Console organization merged into A's parent P: an identity admin of P. */
  'siblingAdmin',
  /** Primary owner of an Enterprise organization under another parent Q. */
  'otherParentAdmin',
  'sales',
  'accountManager',
  /** Primary owner of A: the legitimate caller of A's and P's settings. */
  'admin',
] as const;
type Persona = (typeof PERSONAS)[number];
/** Members of the target parent: they may learn that its objects exist (FORBIDDEN), nobody else may. */
const INSIDERS: ReadonlySet<Persona> = new Set(['member', 'siblingAdmin', 'admin']);

type ErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND';
/** A top-level error code, `data` (a value, no userErrors), `null`, or a userError code (authorised, refused by a business rule). */
type Outcome = ErrorCode | 'data' | 'null' | `userError:${string}`;
type Expectations = Record<Persona, Outcome>;
type Vars = Record<string, unknown>;

const U = 'UNAUTHENTICATED';
const F = 'FORBIDDEN';
const NF = 'NOT_FOUND';
const OK = 'data';

const ORG_ADMIN: Expectations = {
  anonymous: U,
  member: F,
  siblingAdmin: NF,
  otherParentAdmin: NF,
  sales: NF,
  accountManager: NF,
  admin: OK,
};
const ORG_MEMBER: Expectations = { ...ORG_ADMIN, member: OK };
const PARENT_ADMIN: Expectations = { ...ORG_ADMIN, siblingAdmin: OK };
const PARENT_MEMBER: Expectations = { ...PARENT_ADMIN, member: OK };
const PUBLIC = expectAll(OK);
const SIGNED_IN: Expectations = { ...PUBLIC, anonymous: U };
const STAFF_SALES: Expectations = { ...expectAll(F), anonymous: U, sales: OK };
const STAFF_AM: Expectations = { ...expectAll(F), anonymous: U, accountManager: OK };
const STAFF_ANY: Expectations = { ...STAFF_SALES, accountManager: OK };
/** Merge proposals: account managers and the proposal's approvers (the owner of A); others read it as missing. */
const MERGE_VIEWERS: Expectations = { ...expectAll(NF), anonymous: U, accountManager: OK, admin: OK };

function expectAll(outcome: Outcome): Expectations {
  return Object.fromEntries(PERSONAS.map((p) => [p, outcome])) as Expectations;
}
/** The same refusals; the allowed personas get `allowed` instead of data. */
function allowedGet(base: Expectations, allowed: Outcome): Expectations {
  return Object.fromEntries(PERSONAS.map((p) => [p, base[p] === OK ? allowed : base[p]])) as Expectations;
}
const isAllowed = (outcome: Outcome) => outcome === OK || outcome === 'null';
const missingId = () => uuidv7();
const hex = () => randomBytes(4).toString('hex');

/** The fixtures every row draws its arguments from. */
interface World {
  stack: Stack;
  people: Record<Exclude<Persona, 'anonymous'>, Person>;
  target: CapturedParent;
  /** A's parent. */
  parentId: string;
  orgA: { id: string; slug: string };
  orgB: { id: string };
  otherParentId: string;
  domainId: string;
  ssoConnectionId: string;
  directoryId: string;
  tenant: IdpTenant;
  /** An admin of Console organizations proposed for merging into P. */
  incomingAdmin: Person;
  /** A pending proposal (incoming C into P) and the owner's approval link for it. */
  proposal: { id: string; ownerToken: string };
  /** Another pending proposal, for the subscription, and its incoming side's link. */
  liveProposal: { id: string; incomingToken: string };
  /** A pending "contact sales" request. */
  requestId: string;
  adminSessionId: string;
}

interface Row {
  expect: Expectations;
  /** Arguments naming the target objects (A, P and their settings). */
  args: (w: World, persona: Persona) => Vars | Promise<Vars>;
  /** The same call naming a random object of the same kind that does not exist. */
  missing?: (w: World) => Vars;
  /** Mutations whose target does not survive success: fresh arguments for each allowed persona. */
  fresh?: (w: World, persona: Persona) => Promise<Vars>;
  /** The call ends the caller's session: allowed personas make it with a new one. */
  freshSession?: boolean;
  /** Subscriptions: causes an event that allowed subscribers must receive. */
  trigger?: (w: World) => Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Root fields. Keys are "Type.field"; a field missing here fails the coverage test.
// ---------------------------------------------------------------------------------------------------------

const byOrg = (w: World) => ({ organizationId: w.orgA.id });
const byMissingOrg = () => ({ organizationId: missingId() });
const byParent = (w: World) => ({ parentId: w.parentId });
const byMissingParent = () => ({ parentId: missingId() });
const byId = (id: (w: World) => string) => (w: World) => ({ id: id(w) });
const byMissingId = () => ({ id: missingId() });

const ROOT: Record<string, Row> = {
  // Queries --------------------------------------------------------------------------------------------
  'Query.advancedGroupMappingsPreview': { expect: ORG_ADMIN, args: byOrg, missing: byMissingOrg },
  'Query.auditEvents': { expect: ORG_ADMIN, args: byOrg, missing: byMissingOrg },
  'Query.directories': { expect: PARENT_ADMIN, args: byParent, missing: byMissingParent },
  'Query.directory': { expect: PARENT_ADMIN, args: byId((w) => w.directoryId), missing: byMissingId },
  'Query.domain': { expect: PARENT_ADMIN, args: byId((w) => w.domainId), missing: byMissingId },
  'Query.domainMemberships': { expect: PARENT_ADMIN, args: byParent, missing: byMissingParent },
  'Query.domains': { expect: PARENT_ADMIN, args: byParent, missing: byMissingParent },
  'Query.groupMappingsDryRun': {
    expect: PARENT_ADMIN,
    args: (w) => ({ parentId: w.parentId, input: { groups: [`ci-${w.orgA.slug}-admin`] } }),
    missing: () => ({ parentId: missingId(), input: { groups: [] } }),
  },
  'Query.identitySettings': { expect: ORG_MEMBER, args: byOrg, missing: byMissingOrg },
  'Query.loginStart': { expect: PUBLIC, args: (w) => ({ email: w.people.admin.email }) },
  'Query.me': { expect: { ...PUBLIC, anonymous: 'null' }, args: () => ({}) },
  'Query.members': { expect: ORG_MEMBER, args: byOrg, missing: byMissingOrg },
  'Query.mergeProposal': { expect: MERGE_VIEWERS, args: byId((w) => w.proposal.id), missing: byMissingId },
  // The e-mailed link is the capability: it shows the proposal to whoever holds it, and approves nothing.
  'Query.mergeProposalReview': { expect: PUBLIC, args: (w) => ({ token: w.proposal.ownerToken }) },
  'Query.mergeProposals': { expect: STAFF_AM, args: () => ({}) },
  'Query.organization': { expect: ORG_MEMBER, args: byId((w) => w.orgA.id), missing: byMissingId },
  'Query.organizations': { expect: SIGNED_IN, args: () => ({}) },
  'Query.parentOrganization': { expect: PARENT_MEMBER, args: byId((w) => w.parentId), missing: byMissingId },
  'Query.parentOrganizationRequests': { expect: STAFF_SALES, args: () => ({}) },
  'Query.sessions': { expect: SIGNED_IN, args: () => ({}) },
  'Query.ssoConnection': {
    expect: PARENT_ADMIN,
    args: byId((w) => w.ssoConnectionId),
    missing: byMissingId,
  },
  'Query.ssoConnections': { expect: PARENT_ADMIN, args: byParent, missing: byMissingParent },
  'Query.staffOrganizationLookup': {
    expect: STAFF_ANY,
    args: (w) => ({ slug: w.orgA.slug }),
    missing: () => ({ slug: `no-such-org-${hex()}` }),
  },

  // Mutations ------------------------------------------------------------------------------------------
  'Mutation.advancedGroupMappingsUpdate': {
    expect: ORG_ADMIN,
    args: (w) => ({ organizationId: w.orgA.id, input: { enabled: false, force: false } }),
    missing: () => ({ organizationId: missingId(), input: { enabled: false, force: false } }),
  },
  'Mutation.directoryCreate': {
    expect: PARENT_ADMIN,
    args: (w, p) => ({ parentId: w.parentId, input: { name: `Directory of ${p}` } }),
    missing: () => ({ parentId: missingId(), input: { name: 'Nowhere' } }),
  },
  'Mutation.directoryDelete': {
    expect: PARENT_ADMIN,
    args: byId((w) => w.directoryId),
    missing: byMissingId,
    fresh: async (w, p) => ({ id: (await newDirectory(w, p)).id }),
  },
  'Mutation.directoryRotateToken': {
    expect: PARENT_ADMIN,
    args: byId((w) => w.directoryId),
    missing: byMissingId,
  },
  'Mutation.directorySync': { expect: PARENT_ADMIN, args: byId((w) => w.directoryId), missing: byMissingId },
  'Mutation.domainAdd': {
    expect: PARENT_ADMIN,
    args: (w, p) => ({ parentId: w.parentId, input: { name: `${p.toLowerCase()}-${hex()}.com` } }),
    missing: () => ({ parentId: missingId(), input: { name: `missing-${hex()}.com` } }),
  },
  'Mutation.domainRefresh': {
    expect: PARENT_ADMIN,
    args: byId((w) => w.domainId),
    missing: byMissingId,
    // A pending claim whose record is published: the refresh verifies it.
    fresh: async (w, p) => {
      const domain = await newDomain(w, p);
      w.stack.dns.setTxt(domain.verificationRecord.name, [domain.verificationRecord.value]);
      return { id: domain.id };
    },
  },
  'Mutation.domainRemove': {
    expect: PARENT_ADMIN,
    args: byId((w) => w.domainId),
    missing: byMissingId,
    fresh: async (w, p) => ({ id: (await newDomain(w, p)).id }),
  },
  'Mutation.domainRestart': {
    // Authorised callers reach the rule: a verified claim has nothing to restart.
    expect: allowedGet(PARENT_ADMIN, 'userError:CLAIM_ACTIVE'),
    args: byId((w) => w.domainId),
    missing: byMissingId,
  },
  // The invitation link is the capability: whoever holds it signs in as the invited address.
  'Mutation.invitationAccept': {
    expect: PUBLIC,
    args: async (w) => {
      const email = uniqueEmail('invited');
      await ok(w, 'Mutation.memberInvite', {
        organizationId: w.orgA.id,
        input: { email, role: 'MEMBER' },
      });
      return { input: { token: await invitationToken(w.stack, email) } };
    },
  },
  'Mutation.loginCodeRequest': { expect: PUBLIC, args: () => ({ input: { email: uniqueEmail('code') } }) },
  'Mutation.loginCodeVerify': {
    expect: PUBLIC,
    args: async (w) => {
      const email = uniqueEmail('verify');
      await ok(w, 'Mutation.loginCodeRequest', { input: { email } }, null);
      const [mail] = await w.stack.mail.waitFor(
        { to: email, subject: 'sign-in code' },
        { timeoutMs: 10_000 },
      );
      return { input: { email, code: /\b(\d{6})\b/.exec(mail!.text)![1]! } };
    },
  },
  'Mutation.logout': { expect: SIGNED_IN, args: () => ({}), freshSession: true },
  'Mutation.memberInvite': {
    expect: ORG_ADMIN,
    args: (w) => ({ organizationId: w.orgA.id, input: { email: uniqueEmail('invitee'), role: 'MEMBER' } }),
    missing: () => ({
      organizationId: missingId(),
      input: { email: uniqueEmail('invitee'), role: 'MEMBER' },
    }),
  },
  'Mutation.memberRemove': {
    expect: ORG_ADMIN,
    args: (w) => ({ organizationId: w.orgA.id, userId: w.people.member.userId }),
    missing: (w) => ({ organizationId: missingId(), userId: w.people.member.userId }),
    fresh: async (w) => ({
      organizationId: w.orgA.id,
      userId: (await join(w.stack, w.orgA.id, 'MEMBER', w.people.admin)).userId,
    }),
  },
  'Mutation.memberRoleUpdate': {
    expect: ORG_ADMIN,
    args: (w) => ({ organizationId: w.orgA.id, userId: w.people.member.userId, role: 'ADMIN' }),
    missing: (w) => ({ organizationId: missingId(), userId: w.people.member.userId, role: 'ADMIN' }),
    fresh: async (w) => ({
      organizationId: w.orgA.id,
      userId: (await join(w.stack, w.orgA.id, 'MEMBER', w.people.admin)).userId,
      role: 'ADMIN',
    }),
  },
  // The link names its approver: any other signed-in user is told so, and nothing changes.
  'Mutation.mergeProposalApprove': {
    expect: { ...expectAll('userError:NOT_THE_APPROVER'), anonymous: U, admin: OK },
    args: (w) => ({ input: { token: w.proposal.ownerToken } }),
  },
  'Mutation.mergeProposalCreate': {
    expect: STAFF_AM,
    args: (w) => ({ input: { incomingOrganizationId: w.orgB.id, targetParentId: w.otherParentId } }),
    fresh: async (w) => ({
      input: {
        incomingOrganizationId: (await createOrg(w.stack, w.incomingAdmin.token, 'API_CONSOLE', 'Proposed'))
          .id,
        targetParentId: w.parentId,
      },
    }),
  },
  'Mutation.mergeProposalDecline': {
    expect: { ...expectAll('userError:NOT_THE_APPROVER'), anonymous: U, admin: OK },
    args: (w) => ({ input: { token: w.proposal.ownerToken } }),
    fresh: async (w) => ({ input: { token: (await propose(w, 'Declined')).ownerToken } }),
  },
  'Mutation.organizationCreate': {
    expect: SIGNED_IN,
    args: (_w, p) => ({ input: { name: `Created by ${p}`, kind: 'API_CONSOLE' } }),
  },
  'Mutation.organizationJitUpdate': {
    expect: ORG_ADMIN,
    args: (w) => ({ id: w.orgA.id, input: { enabled: true, defaultRole: 'MEMBER' } }),
    missing: () => ({ id: missingId(), input: { enabled: true, defaultRole: 'MEMBER' } }),
  },
  'Mutation.parentOrganizationRequest': {
    expect: allowedGet(ORG_ADMIN, 'userError:ALREADY_HAS_PARENT'),
    args: byOrg,
    missing: byMissingOrg,
  },
  'Mutation.parentOrganizationRequestApprove': {
    expect: STAFF_SALES,
    args: byId((w) => w.requestId),
    missing: byMissingId,
    fresh: async (w) => ({ id: await salesRequest(w) }),
  },
  'Mutation.parentOrganizationRequestDecline': {
    expect: STAFF_SALES,
    args: byId((w) => w.requestId),
    missing: byMissingId,
    fresh: async (w) => ({ id: await salesRequest(w) }),
  },
  // Only one's own sessions: the admin's session is a foreign id to everyone else.
  'Mutation.sessionRevoke': {
    expect: { ...expectAll(NF), anonymous: U, admin: OK },
    args: byId((w) => w.adminSessionId),
    missing: byMissingId,
    fresh: async (w) => {
      const second = await w.stack.signIn(w.people.admin.email);
      const sessions = await ok(w, 'Query.sessions', {}, second.token);
      return { id: (sessions.nodes as Array<{ id: string; current: boolean }>).find((s) => s.current)!.id };
    },
  },
  'Mutation.ssoConnectionActivate': {
    // Authorised callers reach the rule: activation needs a successful test login first.
    expect: allowedGet(PARENT_ADMIN, 'userError:NOT_TESTED'),
    args: byId((w) => w.ssoConnectionId),
    missing: byMissingId,
  },
  'Mutation.ssoConnectionCreate': {
    expect: PARENT_ADMIN,
    args: (w) => ({ parentId: w.parentId, input: samlInput(w) }),
    missing: (w) => ({ parentId: missingId(), input: samlInput(w) }),
  },
  'Mutation.ssoConnectionDeactivate': {
    expect: allowedGet(PARENT_ADMIN, 'userError:ALREADY_IN_STATE'),
    args: byId((w) => w.ssoConnectionId),
    missing: byMissingId,
  },
  'Mutation.ssoConnectionDelete': {
    expect: PARENT_ADMIN,
    args: byId((w) => w.ssoConnectionId),
    missing: byMissingId,
    fresh: async (w, p) => {
      const created = await ok(
        w,
        'Mutation.ssoConnectionCreate',
        {
          parentId: w.parentId,
          input: samlInput(w),
        },
        tokenOf(w, p),
      );
      return { id: (created.connection as { id: string }).id };
    },
  },
  'Mutation.ssoConnectionRefreshMetadata': {
    // The connection was made from metadata XML: there is no URL to re-read.
    expect: allowedGet(PARENT_ADMIN, 'userError:INVALID_SETTINGS'),
    args: byId((w) => w.ssoConnectionId),
    missing: byMissingId,
  },
  'Mutation.ssoConnectionTest': {
    expect: PARENT_ADMIN,
    args: byId((w) => w.ssoConnectionId),
    missing: byMissingId,
  },
  'Mutation.ssoConnectionUpdate': {
    expect: PARENT_ADMIN,
    args: (w, p) => ({ id: w.ssoConnectionId, input: { name: `Renamed by ${p}` } }),
    missing: () => ({ id: missingId(), input: { name: 'Renamed' } }),
  },

  // Subscriptions --------------------------------------------------------------------------------------
  'Subscription.directoryStatusChanged': {
    expect: PARENT_ADMIN,
    args: byParent,
    missing: byMissingParent,
    trigger: async (w) => void (await ok(w, 'Mutation.directorySync', { id: w.directoryId })),
  },
  'Subscription.domainStatusChanged': {
    expect: PARENT_ADMIN,
    args: byParent,
    missing: byMissingParent,
    trigger: async (w) => {
      const domain = await newDomain(w, 'admin');
      await ok(w, 'Mutation.domainRemove', { id: domain.id });
    },
  },
  'Subscription.membershipChanged': {
    expect: ORG_ADMIN,
    args: byOrg,
    missing: byMissingOrg,
    trigger: async (w) => void (await join(w.stack, w.orgA.id, 'MEMBER', w.people.admin)),
  },
  'Subscription.mergeProposalUpdated': {
    expect: MERGE_VIEWERS,
    args: byId((w) => w.liveProposal.id),
    missing: byMissingId,
    trigger: async (w) =>
      void (await ok(
        w,
        'Mutation.mergeProposalApprove',
        { input: { token: w.liveProposal.incomingToken } },
        w.incomingAdmin.token,
      )),
  },
};

// ---------------------------------------------------------------------------------------------------------
// Sensitive fields: every field of these types has a row naming the paths that reach it, each with what
// every persona gets there. A new field on one of them fails the coverage test until it is placed here.
// ---------------------------------------------------------------------------------------------------------

interface Probe {
  /** A root field with its arguments, then the fields down to the object that holds the sensitive field. */
  root: string;
  args: (w: World) => Vars;
  path: string[];
  expect: Expectations;
}
interface SensitiveRow {
  /** Each path that reaches the field; a tuple overrides the path's expectations for this field. */
  via: Array<Probe | [Probe, Expectations]>;
  /** Further checks of what an allowed persona sees (the holder object). */
  check?: (holder: Record<string, unknown>, persona: Persona, w: World) => void;
}

const viaMembers: Probe = { root: 'Query.members', args: byOrg, path: ['nodes'], expect: ORG_MEMBER };
const viaMemberUsers: Probe = { ...viaMembers, path: ['nodes', 'user'] };
const viaDomainMemberships: Probe = {
  root: 'Query.domainMemberships',
  args: byParent,
  path: ['nodes'],
  expect: PARENT_ADMIN,
};
const viaDomain: Probe = {
  root: 'Query.domain',
  args: byId((w) => w.domainId),
  path: [],
  expect: PARENT_ADMIN,
};
const viaDomains: Probe = { root: 'Query.domains', args: byParent, path: ['nodes'], expect: PARENT_ADMIN };
const viaDomainRecord: Probe = { ...viaDomain, path: ['verificationRecord'] };
const viaDomainsRecord: Probe = { ...viaDomains, path: ['nodes', 'verificationRecord'] };
const viaSso: Probe = {
  root: 'Query.ssoConnection',
  args: byId((w) => w.ssoConnectionId),
  path: [],
  expect: PARENT_ADMIN,
};
const viaSsoList: Probe = {
  root: 'Query.ssoConnections',
  args: byParent,
  path: ['nodes'],
  expect: PARENT_ADMIN,
};
const viaDirectory: Probe = {
  root: 'Query.directory',
  args: byId((w) => w.directoryId),
  path: [],
  expect: PARENT_ADMIN,
};
const viaDirectories: Probe = {
  root: 'Query.directories',
  args: byParent,
  path: ['nodes'],
  expect: PARENT_ADMIN,
};
const viaAudit: Probe = { root: 'Query.auditEvents', args: byOrg, path: ['nodes'], expect: ORG_ADMIN };
const viaOrganization: Probe = {
  root: 'Query.organization',
  args: byId((w) => w.orgA.id),
  path: [],
  expect: ORG_MEMBER,
};
const viaParent: Probe = {
  root: 'Query.parentOrganization',
  args: byId((w) => w.parentId),
  path: [],
  expect: PARENT_MEMBER,
};
const viaOrganizationParent: Probe = { ...viaOrganization, path: ['parentOrganization'] };
const viaIdentitySettingsParent: Probe = {
  root: 'Query.identitySettings',
  args: byOrg,
  path: ['parentOrganization'],
  expect: ORG_MEMBER,
};
const viaProposalParent: Probe = {
  root: 'Query.mergeProposal',
  args: byId((w) => w.proposal.id),
  path: ['targetParent'],
  expect: MERGE_VIEWERS,
};
const viaReview: Probe = {
  root: 'Query.mergeProposalReview',
  args: (w) => ({ token: w.proposal.ownerToken }),
  path: [],
  expect: PUBLIC,
};
const viaPreviewImpact: Probe = {
  root: 'Query.advancedGroupMappingsPreview',
  args: byOrg,
  path: ['loseAccess'],
  expect: ORG_ADMIN,
};
const viaRequests: Probe = {
  root: 'Query.parentOrganizationRequests',
  args: () => ({}),
  path: ['nodes'],
  expect: STAFF_SALES,
};

/** A parent's organizations: all for its identity admins, only their own for plain members (GQ-03). */
function parentOrganizationsSeen(holder: Record<string, unknown>, persona: Persona, w: World) {
  const ids = ((holder.organizations as { nodes: Array<{ id: string }> }).nodes ?? []).map((n) => n.id);
  if (persona === 'member')
    expect.soft(ids, `${persona} sees only its own organization`).toEqual([w.orgA.id]);
  else
    expect
      .soft(ids, `${persona} sees the parent's organizations`)
      .toEqual(expect.arrayContaining([w.orgA.id, w.orgB.id]));
}

const members = { via: [viaMembers] };
const memberUsers = { via: [viaMemberUsers] };
const domainMemberships = { via: [viaDomainMemberships] };
const domains = { via: [viaDomain, viaDomains] };
const domainRecords = { via: [viaDomainRecord, viaDomainsRecord] };
const sso = { via: [viaSso, viaSsoList] };
const directories = { via: [viaDirectory, viaDirectories] };
const audit = { via: [viaAudit] };
const organizations = { via: [viaOrganization] };
const parents = { via: [viaParent, viaOrganizationParent, viaIdentitySettingsParent, viaProposalParent] };
const review = { via: [viaReview] };
const impacts = { via: [viaPreviewImpact] };
const requests = { via: [viaRequests] };

const SENSITIVE: Record<string, SensitiveRow> = {
  // E-mail addresses of members.
  'Member.createdAt': members,
  'Member.id': members,
  'Member.role': members,
  'Member.source': members,
  'Member.user': members,
  'User.email': memberUsers,
  'User.id': memberUsers,
  'User.name': memberUsers,
  'User.staffRole': memberUsers,
  // Accounts on the parent's domains across the platform.
  'DomainMembership.domain': domainMemberships,
  'DomainMembership.email': domainMemberships,
  'DomainMembership.inParent': domainMemberships,
  'DomainMembership.memberSince': domainMemberships,
  'DomainMembership.organizationId': domainMemberships,
  'DomainMembership.organizationKind': domainMemberships,
  'DomainMembership.organizationName': domainMemberships,
  'DomainMembership.organizationSlug': domainMemberships,
  'DomainMembership.role': domainMemberships,
  'DomainMembership.source': domainMemberships,
  'DomainMembership.userId': domainMemberships,
  // Domain claims and their verification tokens.
  'Domain.claimExpiresAt': domains,
  'Domain.createdAt': domains,
  'Domain.id': domains,
  'Domain.lastCheckDetail': domains,
  'Domain.lastCheckOutcome': domains,
  'Domain.lastCheckedAt': domains,
  'Domain.name': domains,
  'Domain.nextCheckAt': domains,
  'Domain.parentOrganizationId': domains,
  'Domain.status': domains,
  'Domain.verificationRecord': domains,
  'Domain.verifiedAt': domains,
  'DomainVerificationRecord.name': domainRecords,
  'DomainVerificationRecord.type': domainRecords,
  'DomainVerificationRecord.value': domainRecords,
  // SSO connection settings and metadata.
  'SsoConnection.acsUrl': sso,
  'SsoConnection.activatedAt': sso,
  'SsoConnection.attributeMapping': sso,
  'SsoConnection.certificateExpiryWarning': sso,
  'SsoConnection.certificates': sso,
  'SsoConnection.hasClientSecret': sso,
  'SsoConnection.id': sso,
  'SsoConnection.idpEntityId': sso,
  'SsoConnection.idpSsoUrl': sso,
  'SsoConnection.lastTestError': sso,
  'SsoConnection.lastTestSucceeded': sso,
  'SsoConnection.lastTestedAt': sso,
  'SsoConnection.loginUrl': sso,
  'SsoConnection.metadataError': sso,
  'SsoConnection.metadataFetchedAt': sso,
  'SsoConnection.metadataUrl': sso,
  'SsoConnection.name': sso,
  'SsoConnection.oidcClientId': sso,
  'SsoConnection.oidcIssuer': sso,
  'SsoConnection.parentOrganizationId': sso,
  'SsoConnection.protocol': sso,
  'SsoConnection.provider': sso,
  'SsoConnection.redirectUri': sso,
  'SsoConnection.spEntityId': sso,
  'SsoConnection.state': sso,
  // SCIM directories.
  'Directory.activeUserCount': directories,
  'Directory.createdAt': directories,
  'Directory.groupCount': directories,
  'Directory.id': directories,
  'Directory.lastRequestAt': directories,
  'Directory.lastSync': directories,
  'Directory.lastSyncAt': directories,
  'Directory.name': directories,
  'Directory.parentOrganizationId': directories,
  'Directory.provider': directories,
  'Directory.pushUrl': directories,
  'Directory.scimBaseUrl': directories,
  'Directory.userCount': directories,
  // The audit log.
  'AuditEvent.action': audit,
  'AuditEvent.actorEmail': audit,
  'AuditEvent.actorType': audit,
  'AuditEvent.actorUserId': audit,
  'AuditEvent.after': audit,
  'AuditEvent.before': audit,
  'AuditEvent.id': audit,
  'AuditEvent.occurredAt': audit,
  'AuditEvent.requestId': audit,
  'AuditEvent.targetId': audit,
  'AuditEvent.targetType': audit,
  // Organizations, and the way up to their parent.
  'Organization.advancedGroupMappings': organizations,
  'Organization.createdAt': organizations,
  'Organization.groupMappingNames': organizations,
  'Organization.id': organizations,
  'Organization.jitDefaultRole': organizations,
  'Organization.jitEnabled': organizations,
  'Organization.kind': organizations,
  'Organization.name': organizations,
  'Organization.parentOrganization': organizations,
  'Organization.slug': organizations,
  'Organization.viewerRole': organizations,
  // The parent and its other organizations (GQ-03): reached from an organization, from the identity
  // settings and from a merge proposal; the account manager may see the proposal, not the parent's list.
  'ParentOrganization.createdAt': parents,
  'ParentOrganization.id': parents,
  'ParentOrganization.name': parents,
  'ParentOrganization.organizations': {
    via: [
      viaParent,
      viaOrganizationParent,
      viaIdentitySettingsParent,
      [viaProposalParent, { ...MERGE_VIEWERS, accountManager: NF }],
    ],
    check: parentOrganizationsSeen,
  },
  // Who an approval link was sent to.
  'MergeProposalReview.approverEmail': review,
  'MergeProposalReview.proposal': review,
  'MergeProposalReview.side': review,
  // E-mail addresses of the members a change of group mappings affects.
  'GroupMappingImpact.currentRole': impacts,
  'GroupMappingImpact.email': impacts,
  'GroupMappingImpact.groupsKnown': impacts,
  'GroupMappingImpact.newRole': impacts,
  'GroupMappingImpact.userId': impacts,
  // "Contact sales" requests name who asked.
  'ParentOrganizationRequest.createdAt': requests,
  'ParentOrganizationRequest.decidedAt': requests,
  'ParentOrganizationRequest.decisionNote': requests,
  'ParentOrganizationRequest.id': requests,
  'ParentOrganizationRequest.message': requests,
  'ParentOrganizationRequest.organization': requests,
  'ParentOrganizationRequest.parentOrganizationId': requests,
  'ParentOrganizationRequest.requestedBy': requests,
  'ParentOrganizationRequest.status': requests,
};

/** Root fields anonymous callers may use: signing in, and the capability links mailed to a person. */
const PUBLIC_BY_DESIGN = [
  'Query.loginStart',
  'Query.me',
  'Query.mergeProposalReview',
  'Mutation.invitationAccept',
  'Mutation.loginCodeRequest',
  'Mutation.loginCodeVerify',
];

const SENSITIVE_TYPES = [...new Set(Object.keys(SENSITIVE).map((key) => key.split('.')[0]!))];

// ---------------------------------------------------------------------------------------------------------
// Operations built from the schema.
// ---------------------------------------------------------------------------------------------------------

let schema: GraphQLSchema;

function rootField(key: string): {
  kind: 'query' | 'mutation' | 'subscription';
  field: GraphQLField<unknown, unknown>;
} {
  const [typeName, fieldName] = key.split('.') as [string, string];
  const type = schema.getType(typeName) as GraphQLObjectType;
  const field = type.getFields()[fieldName];
  if (!field) throw new Error(`${key} is not in the schema`);
  return { kind: typeName.toLowerCase() as 'query' | 'mutation' | 'subscription', field };
}

/**
 * Scalar leaves of the type, and of the objects `maxDepth` levels down (payloads' userErrors, connections'
 * nodes); `__typename` where nothing else applies. The matrix selects one level: nested objects with their
 * own resolvers are the sensitive rows' business.
 */
function selection(type: GraphQLOutputType, depth = 0, maxDepth = 1): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return '';
  if (!isObjectType(named)) return '{ __typename }';
  const parts: string[] = [];
  for (const field of Object.values(named.getFields())) {
    if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    if (isLeafType(getNamedType(field.type))) parts.push(field.name);
    else if (depth < maxDepth) parts.push(`${field.name} ${selection(field.type, depth + 1, maxDepth)}`);
  }
  return `{ ${parts.length ? parts.join(' ') : '__typename'} }`;
}

/** `query($a: T!) { field(a: $a) <inner> }` for the variables given; a required argument without one fails. */
function operation(key: string, vars: Vars, inner?: string): string {
  const { kind, field } = rootField(key);
  for (const arg of field.args) {
    if (isNonNullType(arg.type) && arg.defaultValue === undefined && !(arg.name in vars))
      throw new Error(`${key}: the fixture gives no value for the required argument ${arg.name}`);
  }
  const given = field.args.filter((a) => a.name in vars);
  const declared = given.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const passed = given.map((a) => `${a.name}: $${a.name}`).join(', ');
  return `${kind}${declared ? `(${declared})` : ''} { ${field.name}${passed ? `(${passed})` : ''} ${
    inner ?? selection(field.type)
  } }`;
}

function tokenOf(w: World, persona: Persona): string | undefined {
  return persona === 'anonymous' ? undefined : w.people[persona].token;
}

async function call(w: World, query: string, vars: Vars, token: string | undefined) {
  return w.stack.gql(parse(query), vars, token) as Promise<GraphQLResult<Record<string, unknown>>>;
}

/** Calls a root field as the given token (the admin's by default) and returns its value; fails on any error. */
async function ok(
  w: World,
  key: string,
  vars: Vars,
  token: string | null = w.people.admin.token,
  inner = selection(rootField(key).field.type, 0, 2),
) {
  const result = await call(w, operation(key, vars, inner), vars, token ?? undefined);
  const value = result.data?.[rootField(key).field.name] as Record<string, unknown> | undefined;
  const userErrors = (value?.userErrors as unknown[] | undefined) ?? [];
  if (result.errors?.length || !value || userErrors.length)
    throw new Error(`${key}: ${JSON.stringify(result.errors ?? userErrors)}`);
  return value;
}

function outcomeOf(result: GraphQLResult<Record<string, unknown>>, fieldName: string): Outcome {
  const error = result.errors?.[0];
  if (error) return (error.extensions?.code ?? `untyped error: ${error.message}`) as Outcome;
  const value = result.data?.[fieldName] as Record<string, unknown> | null | undefined;
  if (value === null) return 'null';
  if (value === undefined) return 'no data' as Outcome;
  const userErrors = value.userErrors as Array<{ code: string }> | undefined;
  if (userErrors?.length) return `userError:${userErrors[0]!.code}`;
  return OK;
}

const errorOf = (result: GraphQLResult<unknown>) => ({
  code: result.errors?.[0]?.extensions?.code,
  message: result.errors?.[0]?.message,
});

/** Every public table's rows (sessions: only whether each is revoked), as one hash per table. */
async function fingerprint(w: World): Promise<Record<string, string>> {
  const connection = w.stack.app.orm.em.getConnection();
  const tables = (await connection.execute(
    `select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
  )) as Array<{ table_name: string }>;
  // Mail delivery state, sign-in codes, rate-limit counters and the migrations list are bookkeeping that
  // changes beside any request's decision; every table of identity state is compared.
  const skipped = new Set(['mail_outbox', 'login_codes', 'rate_limits', 'mikro_orm_migrations']);
  const parts = tables
    .map((t) => t.table_name)
    .filter((t) => !skipped.has(t))
    .map((t) => {
      const rows = t === 'sessions' ? `(select id, revoked_at from "sessions")` : `"${t}"`;
      return `select '${t}' as t, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from ${rows} x`;
    });
  const hashes = (await connection.execute(parts.join(' union all '))) as Array<{ t: string; h: string }>;
  return Object.fromEntries(hashes.map((r) => [r.t, r.h]));
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures.
// ---------------------------------------------------------------------------------------------------------

function samlInput(w: World) {
  return { protocol: 'SAML', provider: 'OKTA', saml: { metadataXml: w.tenant.metadataXml() } };
}

async function newDomain(w: World, persona: Persona) {
  const added = await ok(
    w,
    'Mutation.domainAdd',
    { parentId: w.parentId, input: { name: `fresh-${hex()}.com` } },
    tokenOf(w, persona),
  );
  return added.domain as { id: string; verificationRecord: { name: string; value: string } };
}

async function newDirectory(w: World, persona: Persona) {
  const created = await ok(
    w,
    'Mutation.directoryCreate',
    { parentId: w.parentId, input: { name: `Fresh ${hex()}` } },
    tokenOf(w, persona),
  );
  return created.directory as { id: string };
}

/** A Console organization of the incoming admin proposed for P; the owner of A's approval link. */
async function propose(w: World, name: string) {
  const incoming = await createOrg(w.stack, w.incomingAdmin.token, 'API_CONSOLE', `${name} ${hex()}`);
  // The inboxes may hold the links of earlier proposals: wait for this one's.
  const approvers = [w.people.admin.email, w.incomingAdmin.email];
  const previous = approvers.map((email) => mergeLinkMails(w.stack, email));
  const created = await ok(
    w,
    'Mutation.mergeProposalCreate',
    { input: { incomingOrganizationId: incoming.id, targetParentId: w.parentId } },
    w.people.accountManager.token,
  );
  const [ownerToken, incomingToken] = await Promise.all(
    approvers.map((email, i) => mergeLinkToken(w.stack, email, previous[i])),
  );
  return {
    id: (created.proposal as { id: string }).id,
    ownerToken: ownerToken!,
    incomingToken: incomingToken!,
  };
}

/** A pending "contact sales" request of a new Console organization. */
async function salesRequest(w: World): Promise<string> {
  const org = await createOrg(w.stack, w.incomingAdmin.token, 'API_CONSOLE', `Asks ${hex()}`);
  const filed = await ok(
    w,
    'Mutation.parentOrganizationRequest',
    { organizationId: org.id },
    w.incomingAdmin.token,
  );
  return (filed.request as { id: string }).id;
}

async function buildWorld(stack: Stack): Promise<World> {
  const sales = await stack.signInStaff(uniqueEmail('sales', 'vendor.example'), StaffRole.SALES);
  const accountManager = await stack.signInStaff(
    uniqueEmail('am', 'vendor.example'),
    StaffRole.ACCOUNT_MANAGER,
  );
  const staffEmail = async (token: string) =>
    ((await stack.gqlOk(parse('{ me { email } }'), {}, token)) as { me: { email: string } }).me.email;
  const target = await capturedParent(stack, 'authz-target.com', 'Target Corp');
  const other = await capturedParent(stack, 'authz-other.com', 'Other Corp');
  const admin = target.owner;
  const w = {
    stack,
    target,
    parentId: target.parentId,
    otherParentId: other.parentId,
    people: {
      admin,
      otherParentAdmin: other.owner,
      sales: { ...sales, email: await staffEmail(sales.token) },
      accountManager: { ...accountManager, email: await staffEmail(accountManager.token) },
    },
  } as unknown as World;
  const orgA = await ok(w, 'Query.organization', { id: target.organizationId });
  w.orgA = { id: orgA.id as string, slug: orgA.slug as string };
  w.people.member = await join(stack, w.orgA.id, 'MEMBER', admin);

  // B joins P through a completed merge: its admin becomes an identity admin of P.
  w.people.siblingAdmin = await person(stack, 'sibling');
  const orgB = await createOrg(stack, w.people.siblingAdmin.token, 'API_CONSOLE', 'Sibling Console');
  w.orgB = { id: orgB.id };
  const merged = await ok(
    w,
    'Mutation.mergeProposalCreate',
    { input: { incomingOrganizationId: orgB.id, targetParentId: w.parentId } },
    accountManager.token,
  );
  for (const approver of [w.people.siblingAdmin, admin]) {
    const token = await mergeLinkToken(stack, approver.email);
    await ok(w, 'Mutation.mergeProposalApprove', { input: { token } }, approver.token);
  }
  expect(
    (
      await ok(
        w,
        'Query.mergeProposal',
        { id: (merged.proposal as { id: string }).id },
        accountManager.token,
        '{ status }',
      )
    ).status,
  ).toBe('COMPLETED');

  w.incomingAdmin = await person(stack, 'incoming');
  w.proposal = await propose(w, 'Pending');
  w.liveProposal = await propose(w, 'Live');
  w.requestId = await salesRequest(w);

  w.domainId = (
    (await ok(w, 'Query.domains', { parentId: w.parentId })).nodes as Array<{ id: string }>
  )[0]!.id;
  w.tenant = await stack.idp.createTenant({ preset: 'okta' });
  w.ssoConnectionId = (await samlConnection(stack, target, w.tenant)).id;
  w.directoryId = (await newDirectory(w, 'admin')).id;
  const sessions = (await ok(w, 'Query.sessions', {})).nodes as Array<{ id: string; current: boolean }>;
  w.adminSessionId = sessions.find((s) => s.current)!.id;
  return w;
}

// ---------------------------------------------------------------------------------------------------------
// Runners.
// ---------------------------------------------------------------------------------------------------------

/** Foreign ids must read like missing ones to everyone outside the target parent, and to anyone told NOT_FOUND. */
function comparesWithMissing(persona: Persona, outcome: Outcome): boolean {
  if (isAllowed(outcome) || outcome.startsWith('userError:')) return false;
  return !(INSIDERS.has(persona) && outcome === F);
}

async function callRow(w: World, key: string, vars: Vars, token: string | undefined) {
  return call(w, operation(key, vars), vars, token);
}

async function assertCall(w: World, key: string, persona: Persona, vars: Vars, token: string | undefined) {
  const row = ROOT[key]!;
  const fieldName = rootField(key).field.name;
  const result = await callRow(w, key, vars, token);
  const outcome = outcomeOf(result, fieldName);
  expect
    .soft(outcome, `${key} as ${persona}: ${JSON.stringify(result.errors ?? '')}`)
    .toBe(row.expect[persona]);
  if (result.errors?.length) {
    // No partial data next to a refusal.
    expect.soft(result.data?.[fieldName] ?? null, `${key} as ${persona} returns no data`).toBeNull();
  }
  if (row.missing && comparesWithMissing(persona, row.expect[persona])) {
    const missing = await callRow(w, key, row.missing(w), token);
    expect
      .soft(errorOf(result), `${key} as ${persona}: a foreign id reads like a missing one`)
      .toEqual(errorOf(missing));
  }
  return result;
}

async function freshToken(w: World, persona: Persona): Promise<string | undefined> {
  if (persona === 'anonymous') return undefined;
  return (await w.stack.signIn(w.people[persona].email)).token;
}

interface Subscriber {
  errors: Array<{ code?: unknown; message?: string }>;
  events: unknown[];
  dispose: () => Promise<void>;
}

function subscribeAs(w: World, persona: Persona, key: string, vars: Vars): Subscriber {
  const client = w.stack.ws(tokenOf(w, persona));
  const state: Subscriber = { errors: [], events: [], dispose: () => client.dispose() as Promise<void> };
  const record = (e: { extensions?: Record<string, unknown>; message?: string }) =>
    state.errors.push({ code: e.extensions?.code, message: e.message });
  client.subscribe(
    { query: operation(key, vars), variables: vars },
    {
      next: (value) => {
        if (value.errors) value.errors.forEach(record);
        else state.events.push(value.data);
      },
      error: (error) => {
        if (Array.isArray(error)) error.forEach(record);
        else
          state.errors.push({
            code: 'SOCKET_CLOSED',
            message: String((error as { reason?: string }).reason ?? error),
          });
      },
      complete: () => {},
    },
  );
  return state;
}

const until = async (ready: () => boolean, timeoutMs = 5_000) => {
  for (const start = Date.now(); !ready() && Date.now() - start < timeoutMs;) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

function holderType(probe: Probe): GraphQLObjectType {
  let type = getNamedType(rootField(probe.root).field.type) as GraphQLObjectType;
  for (const step of probe.path) {
    const next = type.getFields()[step];
    if (!next) throw new Error(`${probe.root}: no field ${step} on ${type.name}`);
    type = getNamedType(next.type) as GraphQLObjectType;
  }
  return type;
}

async function assertProbe(
  w: World,
  probe: Probe,
  fields: string[],
  expectations: Expectations,
  check: SensitiveRow['check'],
) {
  const type = holderType(probe);
  const leaf = `{ ${fields.map((f) => `${f} ${selection(type.getFields()[f]!.type)}`).join(' ')} }`;
  const inner = probe.path.reduceRight((acc, step) => `{ ${step} ${acc} }`, leaf);
  const vars = probe.args(w);
  const query = operation(probe.root, vars, inner);
  const label = `${fields.map((f) => `${type.name}.${f}`).join(', ')} via ${[probe.root, ...probe.path].join('.')}`;
  const results = await Promise.all(PERSONAS.map((p) => call(w, query, vars, tokenOf(w, p))));
  for (const [i, persona] of PERSONAS.entries()) {
    const result = results[i]!;
    let outcome: string;
    let holder: unknown = result.data?.[rootField(probe.root).field.name];
    if (result.errors?.length) outcome = String(result.errors[0]!.extensions?.code);
    else {
      for (const step of probe.path) {
        holder = (holder as Record<string, unknown> | null | undefined)?.[step];
        if (Array.isArray(holder)) holder = holder[0];
      }
      if (Array.isArray(holder)) holder = holder[0];
      const object = holder as Record<string, unknown> | null | undefined;
      outcome =
        object && typeof object === 'object' && fields.every((f) => f in object) ? OK : 'no holder object';
    }
    expect
      .soft(outcome, `${label} as ${persona}: ${JSON.stringify(result.errors ?? '')}`)
      .toBe(expectations[persona]);
    if (outcome === OK && check) check(holder as Record<string, unknown>, persona, w);
  }
}

// ---------------------------------------------------------------------------------------------------------

describe('authorization matrix', () => {
  let stack: Stack;
  let w: World;
  const keys = (prefix: string) => Object.keys(ROOT).filter((k) => k.startsWith(prefix));

  beforeAll(async () => {
    schema = await graphqlSchema();
    stack = await startStack();
    w = await buildWorld(stack);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('has a row for every root field and every field of a sensitive type, and none for fields that are gone', () => {
    const fieldsOf = (typeName: string) => {
      const type = schema.getType(typeName);
      return type && isObjectType(type) ? Object.keys(type.getFields()).map((f) => `${typeName}.${f}`) : [];
    };
    const roots = ['Query', 'Mutation', 'Subscription'].flatMap(fieldsOf);
    const sensitive = SENSITIVE_TYPES.flatMap(fieldsOf);
    expect(
      roots.filter((k) => !(k in ROOT)),
      'root fields without a row',
    ).toEqual([]);
    expect(
      sensitive.filter((k) => !(k in SENSITIVE)),
      'sensitive fields without a row',
    ).toEqual([]);
    expect(
      Object.keys(ROOT).filter((k) => !roots.includes(k)),
      'rows for root fields that are gone',
    ).toEqual([]);
    expect(
      Object.keys(SENSITIVE).filter((k) => !sensitive.includes(k)),
      'rows for sensitive fields that are gone',
    ).toEqual([]);
    // Every row proves the call can succeed for someone; anonymous callers are refused unless listed.
    expect(
      Object.keys(ROOT).filter((k) => ROOT[k]!.expect.anonymous !== U),
      'fields open to anonymous callers',
    ).toEqual(PUBLIC_BY_DESIGN);
    for (const [key, row] of Object.entries(ROOT)) {
      expect(
        PERSONAS.some(
          (p) => isAllowed(row.expect[p]) || (INSIDERS.has(p) && row.expect[p].startsWith('userError:')),
        ),
        `${key} succeeds for someone`,
      ).toBe(true);
      if (key.startsWith('Subscription.')) expect(row.trigger, `${key} has a trigger`).toBeDefined();
    }
    for (const row of Object.values(SENSITIVE))
      for (const via of row.via) holderType(Array.isArray(via) ? via[0] : via);
  });

  it('answers every query as the table says, and foreign ids read like missing ones', async () => {
    await Promise.all(
      keys('Query.').flatMap((key) =>
        PERSONAS.map(async (p) => assertCall(w, key, p, await ROOT[key]!.args(w, p), tokenOf(w, p))),
      ),
    );
  });

  it('guards every field of the sensitive types on every path that reaches it', async () => {
    const groups = new Map<Probe, string[]>();
    const solo: Array<{ probe: Probe; field: string; expect: Expectations; check: SensitiveRow['check'] }> =
      [];
    for (const [key, row] of Object.entries(SENSITIVE)) {
      const field = key.split('.')[1]!;
      for (const via of row.via) {
        if (Array.isArray(via) || row.check) {
          const [probe, expectations] = Array.isArray(via) ? via : [via, via.expect];
          solo.push({ probe, field, expect: expectations, check: row.check });
        } else groups.set(via, [...(groups.get(via) ?? []), field]);
      }
    }
    await Promise.all([
      ...[...groups].map(([probe, fields]) => assertProbe(w, probe, fields, probe.expect, undefined)),
      ...solo.map((s) => assertProbe(w, s.probe, [s.field], s.expect, s.check)),
    ]);
  });

  it('refuses every mutation as the table says and leaves the database unchanged', async () => {
    let before = await fingerprint(w);
    for (const key of keys('Mutation.')) {
      const row = ROOT[key]!;
      const refused = PERSONAS.filter((p) => !isAllowed(row.expect[p]));
      if (refused.length === 0) continue;
      await Promise.all(refused.map(async (p) => assertCall(w, key, p, await row.args(w, p), tokenOf(w, p))));
      const after = await fingerprint(w);
      const changed = Object.keys(before).filter((t) => before[t] !== after[t]);
      expect.soft(changed, `${key}: tables changed by refused calls`).toEqual([]);
      before = after;
    }
  });

  it('refuses subscriptions to anonymous and foreign callers and delivers to the allowed ones', async () => {
    for (const key of keys('Subscription.')) {
      const row = ROOT[key]!;
      const vars = await row.args(w, 'admin');
      const subscribers = Object.fromEntries(
        PERSONAS.map((p) => [p, subscribeAs(w, p, key, vars)]),
      ) as Record<Persona, Subscriber>;
      const refused = PERSONAS.filter((p) => !isAllowed(row.expect[p]));
      const allowed = PERSONAS.filter((p) => isAllowed(row.expect[p]));
      await until(() => refused.every((p) => subscribers[p].errors.length > 0));
      await new Promise((resolve) => setTimeout(resolve, 300));
      await row.trigger!(w);
      await until(() => allowed.every((p) => subscribers[p].events.length > 0));
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const persona of PERSONAS) {
        const s = subscribers[persona];
        if (isAllowed(row.expect[persona])) {
          expect.soft(s.errors, `${key} as ${persona}: no error`).toEqual([]);
          expect.soft(s.events.length, `${key} as ${persona}: receives the event`).toBeGreaterThan(0);
        } else {
          expect.soft(s.errors[0]?.code, `${key} as ${persona}`).toBe(row.expect[persona]);
          expect.soft(s.events, `${key} as ${persona}: receives nothing`).toEqual([]);
          if (row.missing && comparesWithMissing(persona, row.expect[persona])) {
            const missing = subscribeAs(w, persona, key, row.missing(w));
            await until(() => missing.errors.length > 0);
            expect
              .soft(s.errors[0], `${key} as ${persona}: a foreign id reads like a missing one`)
              .toEqual(missing.errors[0]);
            await missing.dispose();
          }
        }
      }
      await Promise.all(Object.values(subscribers).map((s) => s.dispose()));
    }
  });

  it('lets the legitimate callers run every mutation', async () => {
    for (const key of keys('Mutation.')) {
      const row = ROOT[key]!;
      const succeed = async (persona: Persona) => {
        const vars = row.fresh ? await row.fresh(w, persona) : await row.args(w, persona);
        const token = row.freshSession ? await freshToken(w, persona) : tokenOf(w, persona);
        await assertCall(w, key, persona, vars, token);
      };
      const allowed = PERSONAS.filter((p) => isAllowed(row.expect[p]));
      // Sign-ins clear the shared test inbox, so they run one at a time.
      if (row.freshSession) for (const persona of allowed) await succeed(persona);
      else await Promise.all(allowed.map(succeed));
    }
  });
});
