// SP-initiated sign-in through a connection, and what follows a verified response: the account (found by
// its identity at this connection, linked or created only through an e-mail on the parent's verified
// domains), JIT memberships, and a session. Also the routing that sends captured e-mails to SSO.
import { type EntityData, FlushMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config/config.js';
import { writeAsOneStatement, type WriteGuard } from '../../db/one-statement-write.js';
import { entitiesOf, preparedRows, type SqlPart, sqlValue } from '../../db/plain-reads.js';
import { addSeconds, type Clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { canonicalEmail, InvalidEmailError, parseEmail } from '../../lib/names.js';
import type { Scope } from '../../lib/scope.js';
import { randomToken, sha256 } from '../../lib/secrets.js';
import type { AuditService } from '../audit/audit.service.js';
import { Membership, MembershipSource } from '../members/membership.entity.js';
import { Organization } from '../organizations/organization.entity.js';
import type { IssuedSession, SessionService } from '../sessions/session.service.js';
import { AuthMethod } from '../sessions/session.entity.js';
import { User } from '../sessions/user.entity.js';
import type { GroupMappingService } from '../mappings/group-mapping.service.js';
import { narrowToDirectory } from '../mappings/group-mapping.js';
import { ConsumedAssertion } from './consumed-assertion.entity.js';
import { consumeSamlResponse } from './saml/acs-checks.js';
import { authnRequestUrl } from './saml/saml-entities.js';
import type { SamlSchemaValidator } from './saml/schema-validator.js';
import { SsoConnection, SsoConnectionState, SsoProtocol } from './sso-connection.entity.js';
import type { SsoConnectionService } from './sso-connection.service.js';
import { SsoIdentity } from './sso-identity.entity.js';
import { SsoLoginPurpose, SsoLoginRequest } from './sso-login-request.entity.js';
import { onVerifiedDomainExpression, ssoLoginUrl, ssoRouteFor } from './sso-routing.js';
import { SsoRefusal, SsoRefusedError } from './sso.errors.js';

const PENDING_LOGIN_SECONDS = 600;

export enum LoginRoute {
  SSO = 'SSO',
  EMAIL_CODE = 'EMAIL_CODE',
}

/** What the IdP said about the user, whatever the protocol. */
export interface IdpProfile {
  subject: string;
  email: string;
  firstName?: string;
  lastName?: string;
  /** null when the IdP sent no groups claim at all (overage), [] when it sent an empty one. */
  groups: string[] | null;
}

export type SsoOutcome =
  | { kind: 'login'; issued: IssuedSession; connection: SsoConnection }
  | { kind: 'test'; connection: SsoConnection; email: string };

/** What completing a sign-in reads about the asserted identity, read by signInContext. */
interface SignInContext {
  /** The identity of (connection, subject), with its account. */
  identity: SsoIdentity | null;
  /** Without an identity, the account with the asserted e-mail. */
  account: User | null;
  /** The account is deactivated in one of the parent's directories. */
  deactivated: boolean;
  /** The parent's organizations that provision first sign-ins (JIT on, no group mappings)... */
  jitOrganizations: Organization[];
  /** ...and the account's memberships in them, removed ones included. */
  memberships: Membership[];
  /** The parent's organizations with group mappings. */
  mappedOrganizations: Organization[];
  /** The account's groups in the parent's SCIM directories; null when the parent has no directory. */
  directoryGroups: string[] | null;
}

/** What readSignIn's statement returns. */
interface SignInRow {
  captured: boolean;
  identity: EntityData<SsoIdentity> | null;
  account: EntityData<User> | null;
  deactivated: boolean;
  organizations: Array<EntityData<Organization>>;
  memberships: Array<EntityData<Membership>>;
  mapped_organizations: Array<EntityData<Organization>>;
  directory_groups: string[] | null;
}

/** The pending request a SAML response answers, and what claiming it records (claimGuard). */
interface Claim {
  requestId: string;
  connectionId: string;
  browserHash: string;
  now: Date;
  assertionId: string;
  notOnOrAfter: Date;
}

/** The pending request a claim is of: this connection's, this browser's, not expired and not used. */
function pendingCondition(claim: Claim): SqlPart {
  return {
    sql: `id = ? and connection_id = ? and browser_hash = ? and expires_at > ? and consumed_at is null`,
    params: [claim.requestId, claim.connectionId, claim.browserHash, claim.now],
  };
}

/** The CTE `pending`: the pending request a claim is of, read and not claimed; PENDING_COLUMN selects it. */
function pendingCte(claim: Claim): SqlPart {
  const pending = pendingCondition(claim);
  return {
    sql: `pending as (select * from sso_login_requests where ${pending.sql})`,
    params: pending.params,
  };
}

/**
 * The guard of a sign-in's writes: the CTEs `claimed` (the pending request, consumed) and `recorded` (the
 * assertion ID, single use). The sign-in's rows are written only with the claim, in the same statement.
 */
function claimGuard(claim: Claim): WriteGuard {
  const pending = pendingCondition(claim);
  return {
    name: 'claimed',
    sql: `claimed as (update sso_login_requests set consumed_at = ? where ${pending.sql}
                      returning connection_id),
          recorded as (insert into sso_consumed_assertions (connection_id, assertion_id, expires_at)
                       select connection_id, ?, ? from claimed)`,
    params: [claim.now, ...pending.params, claim.assertionId, claim.notOnOrAfter],
  };
}

/** PostgreSQL's unique violation: an assertion ID recorded before is a replay. */
const UNIQUE_VIOLATION = '23505';

/** Refuses as a replay the unique violation of an assertion ID recorded before. */
async function refusingReplays<T>(claiming: () => Promise<T>): Promise<T> {
  try {
    return await claiming();
  } catch (error) {
    const { code, constraint } = error as { code?: string; constraint?: string };
    if (code === UNIQUE_VIOLATION && constraint === 'sso_consumed_assertions_pkey')
      throw new SsoRefusedError(SsoRefusal.REPLAY, 'replay');
    throw error;
  }
}

/**
 * The pending request, selected as JSON: a prepared statement whose columns a migration changed fails,
 * and this one's shape stays.
 */
const PENDING_COLUMN = '(select to_jsonb(p) from pending p) as pending';

/**
 * Everything a sign-in reads before it writes, in one statement: a round trip per read was most of an
 * ACS's database time. Prepared, which took a third off its database time; its columns are booleans and
 * JSON, so a migration that adds a column changes what it returns, never its shape. The context is null
 * when the e-mail is not on a verified domain of the connection's parent. With `claim`, the same statement
 * reads the pending request (SAML), and `pending` is the request, null if there is none to claim.
 */
async function readSignIn(
  em: EntityManager,
  connection: SsoConnection,
  profile: IdpProfile,
  claim?: Claim,
): Promise<{ pending: EntityData<SsoLoginRequest> | null; context: SignInContext | null }> {
  const parentId = connection.parent.id;
  const onVerifiedDomain = onVerifiedDomainExpression(sqlValue(parentId), profile.email);
  if (!onVerifiedDomain && !claim) return { pending: null, context: null };
  const captured = onVerifiedDomain ?? { sql: 'false', params: [] };
  const pending = claim ? pendingCte(claim) : undefined;
  const [row] = await preparedRows<SignInRow & { pending?: EntityData<SsoLoginRequest> | null }>(
    em,
    `with ${pending ? `${pending.sql},` : ''}
          identity as (select * from sso_identities where connection_id = ? and subject = ?),
          account as (select * from users where id = (select user_id from identity)
                      union all
                      select * from users where email = ? and not exists (select 1 from identity)),
          jit as (select * from organizations
                   where parent_id = ? and jit_enabled and not advanced_group_mappings),
          mapped as (select * from organizations where parent_id = ? and advanced_group_mappings)
     select ${pending ? `${PENDING_COLUMN},` : ''}
            ${captured.sql} as captured,
            (select to_jsonb(i) from identity i) as identity,
            (select to_jsonb(a) from account a) as account,
            exists (select 1 from directory_users du join directories d on d.id = du.directory_id
                     where du.user_id = (select id from account) and not du.active and d.parent_id = ?)
              as deactivated,
            (select coalesce(jsonb_agg(o), '[]') from jit o) as organizations,
            (select coalesce(jsonb_agg(m), '[]') from memberships m
              where m.user_id = (select id from account) and m.organization_id in (select id from jit))
              as memberships,
            (select coalesce(jsonb_agg(o), '[]') from mapped o) as mapped_organizations,
            case when exists (select 1 from directories where parent_id = ?) then
              (select coalesce(jsonb_agg(g.display_name), '[]')
                 from directory_group_members gm
                 join directory_users du on du.id = gm.member_id
                 join directories d on d.id = du.directory_id
                 join directory_groups g on g.id = gm.group_id
                where du.user_id = (select id from account) and du.active and d.parent_id = ?)
            end as directory_groups`,
    [
      ...(pending?.params ?? []),
      connection.id,
      profile.subject,
      profile.email,
      parentId,
      parentId,
      ...captured.params,
      parentId,
      parentId,
      parentId,
    ],
  );
  return { pending: row?.pending ?? null, context: row ? signInContext(em, row) : null };
}

/** The entities of what readSignIn read; null when the e-mail is not on a verified domain of the parent. */
function signInContext(em: EntityManager, row: SignInRow): SignInContext | null {
  if (!row.captured) return null;
  // The account first, so that the identity's user is that loaded account, not a reference to load.
  const account = row.account ? entitiesOf(em, User, [row.account])[0]! : null;
  const jitOrganizations = entitiesOf(em, Organization, row.organizations);
  return {
    identity: row.identity ? entitiesOf(em, SsoIdentity, [row.identity])[0]! : null,
    account: row.identity ? null : account,
    deactivated: row.deactivated,
    jitOrganizations,
    memberships: entitiesOf(em, Membership, row.memberships),
    mappedOrganizations: entitiesOf(em, Organization, row.mapped_organizations),
    directoryGroups: row.directory_groups,
  };
}

/**
 * What a sign-in reads into and writes from (SsoLoginService.complete): outside transactions, since its
 * writes are one statement, and flushed by that statement only. It holds what `scope.em` has read (the
 * connection).
 */
export function signInEntityManager(scope: Scope): EntityManager {
  return scope.em.fork({ clear: false, flushMode: FlushMode.COMMIT });
}

export class SsoLoginService {
  constructor(
    private readonly config: Pick<Config, 'publicUrl' | 'saml'>,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly sessions: SessionService,
    private readonly connections: SsoConnectionService,
    private readonly schemaValidator: () => Promise<SamlSchemaValidator>,
    private readonly mappings: GroupMappingService,
    private readonly logger: Logger,
  ) {}

  /** Which route an address must sign in by (the login page asks this first). */
  async loginStart(
    em: EntityManager,
    rawEmail: string,
  ): Promise<{ route: LoginRoute; ssoUrl: string | null }> {
    const email = parseEmail(rawEmail);
    const route = await ssoRouteFor(em, email);
    return route
      ? { route: LoginRoute.SSO, ssoUrl: ssoLoginUrl(this.config.publicUrl, route.connection, email) }
      : { route: LoginRoute.EMAIL_CODE, ssoUrl: null };
  }

  /**
   * Starts a sign-in at the IdP: records the pending request bound to this browser and returns the IdP
   * URL. Only an ACTIVE connection signs people in; a test (by an admin) works in any state.
   */
  async start(
    em: EntityManager,
    connectionId: string,
    browserNonce: string,
    options: { purpose: SsoLoginPurpose; tester?: User; loginHint?: string },
  ): Promise<string> {
    const connection = await em.findOne(SsoConnection, connectionId);
    if (
      !connection ||
      (options.purpose === SsoLoginPurpose.LOGIN && connection.state !== SsoConnectionState.ACTIVE)
    ) {
      throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'start');
    }
    if (connection.protocol !== SsoProtocol.SAML)
      throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'start', 'not SAML');
    const now = this.clock.now();
    const relayState = randomToken(16);
    const { id, url } = authnRequestUrl(
      { entityId: this.connections.spEntityId(connection), acsUrl: this.connections.acsUrl(connection) },
      connection,
      relayState,
    );
    const request = new SsoLoginRequest(
      id,
      connection,
      sha256(browserNonce),
      options.purpose,
      now,
      addSeconds(now, PENDING_LOGIN_SECONDS),
    );
    request.tester = options.tester ?? null;
    request.loginHint = options.loginHint ?? null;
    await em.persistAndFlush(request);
    return url;
  }

  /** An admin's test login: any state, bound to the admin, changes no session. */
  async startTest(scope: Scope, connectionId: string, browserNonce: string): Promise<string> {
    const connection = await this.connections.requireConnection(scope, connectionId, scope.em);
    const tester = await scope.em.findOneOrFail(User, scope.viewer!.userId);
    return this.start(scope.em, connection.id, browserNonce, { purpose: SsoLoginPurpose.TEST, tester });
  }

  /** The ACS: every check of rule 10, then the login (or the test result). */
  async finishSaml(
    scope: Scope,
    connectionId: string,
    samlResponse: string,
    browserNonce: string | undefined,
  ): Promise<SsoOutcome> {
    // Prepared: it starts every sign-in.
    const [connection] = entitiesOf(
      scope.em,
      SsoConnection,
      await preparedRows(scope.em, 'select * from sso_connections where id = ?', [connectionId]),
    );
    if (!connection || connection.protocol !== SsoProtocol.SAML)
      throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'connection');
    const validator = await this.schemaValidator();
    // The request the response answers, once read: a refused test is recorded as the connection's.
    const answered: { request?: SsoLoginRequest } = {};
    try {
      const result = await consumeSamlResponse({
        connection,
        samlResponse,
        spEntityId: this.connections.spEntityId(connection),
        acsUrl: this.connections.acsUrl(connection),
        now: this.clock.now(),
        clockSkewSeconds: this.config.saml.clockSkewSeconds,
        maxBytes: this.config.saml.maxResponseBytes,
        validateSchema: (xml) => validator.validate(xml),
      });
      if (!browserNonce) throw new SsoRefusedError(SsoRefusal.UNSOLICITED, 'pendingRequest');
      const claim: Claim = {
        requestId: result.inResponseTo,
        connectionId: connection.id,
        browserHash: sha256(browserNonce),
        now: this.clock.now(),
        assertionId: result.assertionId,
        notOnOrAfter: result.notOnOrAfter,
      };
      // Claimed only with the sign-in's writes, in their statement: a refusal before it leaves the request
      // pending, and the browser may try again. The pending request and the sign-in's reads are one
      // statement.
      const em = signInEntityManager(scope);
      let profile: IdpProfile;
      try {
        profile = this.profileOf(connection, result);
      } catch (error) {
        answered.request = await this.readPending(em, claim);
        throw error;
      }
      const read = await readSignIn(em, connection, profile, claim);
      const pending = (answered.request = await this.answered(em, claim, read.pending));
      return await this.complete(em, scope, connection, pending, profile, read.context, claim);
    } catch (error) {
      if (error instanceof SsoRefusedError) {
        this.logger.warn(
          { connectionId, reason: error.reason, check: error.check, detail: error.message },
          'SSO response refused',
        );
        // A replay is not this test's result: the post that claimed the request recorded it.
        if (answered.request?.purpose === SsoLoginPurpose.TEST && error.reason !== SsoRefusal.REPLAY)
          await this.recordTest(scope.em, connection.id, false, error.reason);
      }
      throw error;
    }
  }

  /**
   * After the protocol checks: a test records success; a login finds the identity by (connection,
   * subject), else links the account of a verified-domain e-mail or creates it, updates the profile,
   * provisions JIT memberships and issues a session. `em` is a signInEntityManager; `read`: the sign-in's
   * context, if already read. With `claim`, everything is written only if the pending request can still be
   * claimed (SAML: its claim is this statement's); a request claimed meanwhile is refused as a replay.
   */
  async complete(
    em: EntityManager,
    scope: Scope,
    connection: SsoConnection,
    pending: SsoLoginRequest,
    profile: IdpProfile,
    read?: SignInContext | null,
    claim?: Claim,
  ): Promise<SsoOutcome> {
    const context = read === undefined ? (await readSignIn(em, connection, profile)).context : read;
    if (!context) {
      throw new SsoRefusedError(SsoRefusal.EMAIL_NOT_IN_VERIFIED_DOMAIN, 'verifiedDomain', profile.email);
    }
    if (pending.purpose === SsoLoginPurpose.TEST) {
      this.connections.recordTest(connection, true, null);
      await this.audit.recordForParent(em, { ...scope, viewer: null }, connection.parent.id, {
        action: 'sso_connection.tested',
        targetType: 'SsoConnection',
        targetId: connection.id,
        after: { succeeded: true, testerUserId: pending.tester?.id ?? null, email: profile.email },
      });
      await this.write(em, claim);
      return { kind: 'test', connection, email: profile.email };
    }
    if (connection.state !== SsoConnectionState.ACTIVE)
      throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'complete');
    const now = this.clock.now();
    let identity = context.identity;
    let user: User;
    if (identity) {
      user = identity.user;
      identity.email = profile.email;
      identity.lastLoginAt = now;
    } else {
      user = context.account ?? this.newUser(em, profile.email, now);
      identity = new SsoIdentity(connection, profile.subject, user, profile.email, now);
      em.persist(identity);
    }
    if (context.deactivated) throw new SsoRefusedError(SsoRefusal.DEPROVISIONED, 'directory', profile.email);
    identity.profile = {
      firstName: profile.firstName ?? null,
      lastName: profile.lastName ?? null,
      groups: profile.groups,
    };
    const name = [profile.firstName, profile.lastName].filter(Boolean).join(' ').slice(0, 200);
    if (name && user.name !== name) {
      user.name = name;
      user.updatedAt = now;
    }
    const actor = {
      ...scope,
      viewer: { userId: user.id, email: user.email, staffRole: user.staffRole ?? null, sessionId: '' },
    };
    this.provisionJit(em, actor, connection, user, now, context);
    const groups = narrowToDirectory(profile.groups, context.directoryGroups);
    await this.mappings.applyForUser(
      em,
      actor,
      connection.parent.id,
      user,
      groups,
      context.mappedOrganizations,
    );
    const issued = this.sessions.issue(em, scope, user, AuthMethod.SSO);
    await this.write(em, claim);
    return { kind: 'login', issued, connection };
  }

  /**
   * The sign-in's writes (identity, account, memberships, session, audit, the claim) in one statement: as a
   * flush's statement each, they took a quarter of a sign-in, and a transaction around them two more round
   * trips.
   */
  private async write(em: EntityManager, claim: Claim | undefined): Promise<void> {
    if (claim) {
      const wrote = await refusingReplays(() => writeAsOneStatement(em, claimGuard(claim)));
      // Claimed by another post since it was read: refused, as answered refuses a request not pending.
      if (!wrote) await this.answered(em, claim, null);
    } else await writeAsOneStatement(em);
  }

  /**
   * Rule 11 without group mappings: the user joins each organization of the parent that has JIT on, with
   * its default role. Organizations with group mappings are left to the mappings.
   */
  private provisionJit(
    em: EntityManager,
    scope: Scope,
    connection: SsoConnection,
    user: User,
    now: Date,
    { jitOrganizations, memberships }: SignInContext,
  ): void {
    for (const organization of jitOrganizations) {
      const existing = memberships.find((m) => m.organization.id === organization.id);
      if (existing && !existing.removedAt) continue;
      const membership =
        existing ??
        new Membership(organization, user, organization.jitDefaultRole, MembershipSource.JIT, now);
      if (existing) {
        existing.removedAt = null;
        existing.removalReason = null;
        existing.role = organization.jitDefaultRole;
        existing.source = MembershipSource.JIT;
        existing.updatedAt = now;
      } else {
        em.persist(membership);
      }
      this.audit.record(em, scope, {
        action: 'member.provisioned',
        targetType: 'Membership',
        targetId: membership.id,
        organizationId: organization.id,
        parentOrganizationId: connection.parent.id,
        after: {
          userId: user.id,
          email: user.email,
          role: membership.role,
          source: MembershipSource.JIT,
          connectionId: connection.id,
        },
      });
    }
  }

  private newUser(em: EntityManager, email: string, now: Date): User {
    const user = new User(email, now);
    em.persist(user);
    return user;
  }

  /** What the SAML response says about the user. */
  private profileOf(
    connection: SsoConnection,
    result: { nameId: string; attributes: Map<string, string[]> },
  ): IdpProfile {
    return {
      subject: result.nameId,
      email: this.emailOf(connection, result.nameId, result.attributes),
      firstName: result.attributes.get(connection.attributeMapping.firstName)?.[0]?.trim(),
      lastName: result.attributes.get(connection.attributeMapping.lastName)?.[0]?.trim(),
      groups: result.attributes.has(connection.attributeMapping.groups)
        ? result.attributes.get(connection.attributeMapping.groups)!
        : null,
    };
  }

  /** The e-mail the IdP asserted: the mapped attribute, else an e-mail-shaped NameID. */
  private emailOf(connection: SsoConnection, nameId: string, attributes: Map<string, string[]>): string {
    const raw =
      attributes.get(connection.attributeMapping.email)?.[0] ?? (nameId.includes('@') ? nameId : undefined);
    if (!raw) throw new SsoRefusedError(SsoRefusal.NO_EMAIL, 'email');
    try {
      return canonicalEmail(raw);
    } catch (error) {
      if (error instanceof InvalidEmailError) throw new SsoRefusedError(SsoRefusal.NO_EMAIL, 'email', raw);
      throw error;
    }
  }

  /** The pending request this response answers (as answered), for a response refused before the reads. */
  private async readPending(em: EntityManager, claim: Claim): Promise<SsoLoginRequest> {
    const pending = pendingCte(claim);
    const [row] = await preparedRows<{ pending: EntityData<SsoLoginRequest> | null }>(
      em,
      `with ${pending.sql} select ${PENDING_COLUMN}`,
      pending.params,
    );
    return this.answered(em, claim, row?.pending ?? null);
  }

  /**
   * The pending request a response answers; none is refused. Only then is the request read again, to tell
   * a replay from a response nobody here asked for.
   */
  private async answered(
    em: EntityManager,
    claim: Claim,
    pending: EntityData<SsoLoginRequest> | null,
  ): Promise<SsoLoginRequest> {
    if (pending) return entitiesOf(em, SsoLoginRequest, [pending])[0]!;
    const used = await em.count(SsoLoginRequest, {
      id: claim.requestId,
      connection: claim.connectionId,
      browserHash: claim.browserHash,
      expiresAt: { $gt: claim.now },
    });
    throw new SsoRefusedError(used ? SsoRefusal.REPLAY : SsoRefusal.UNSOLICITED, 'pendingRequest');
  }

  private async recordTest(
    em: EntityManager,
    connectionId: string,
    succeeded: boolean,
    error: string,
  ): Promise<void> {
    await em.fork().transactional(async (tx) => {
      const connection = await tx.findOneOrFail(SsoConnection, connectionId);
      this.connections.recordTest(connection, succeeded, error);
    });
  }

  /** Housekeeping: assertion IDs past their validity cannot be replayed anyway, and stale pending logins are dead. */
  async purgeExpired(em: EntityManager): Promise<{ assertions: number; requests: number }> {
    const now = this.clock.now();
    const assertions = await em.nativeDelete(ConsumedAssertion, { expiresAt: { $lt: now } });
    const requests = await em.nativeDelete(SsoLoginRequest, { expiresAt: { $lt: addSeconds(now, -3600) } });
    return { assertions, requests };
  }
}
