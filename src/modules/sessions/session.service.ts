// Accounts and sessions: sign-in by an e-mailed one-time code, opaque session tokens stored as hashes,
// and their listing and revocation. A session is read from the database on every request.
import type { EntityManager } from '@mikro-orm/postgresql';
import { preparedRows } from '../../db/plain-reads.js';
import type { Config } from '../../config/config.js';
import { addSeconds, type Clock } from '../../lib/clock.js';
import { AccessError, DomainError, notFound } from '../../lib/errors.js';
import type { RateLimits } from '../../lib/rate-limits.js';
import { isUuid } from '../../lib/ids.js';
import { parseEmail } from '../../lib/names.js';
import { turnBatch } from '../../lib/turn-batch.js';
import { paginate, type PageRequest } from '../../lib/page.js';
import type { Scope, Viewer } from '../../lib/scope.js';
import { constantTimeEqual, randomDigits, randomToken, sha256 } from '../../lib/secrets.js';
import type { MailOutbox } from '../../mail/outbox.js';
import { mailTemplates } from '../../mail/templates.js';
import type { AuditService } from '../audit/audit.service.js';
import type { OrganizationAccess } from '../organizations/organization.access.js';
import { refuseIfSsoRequired } from '../sso/sso-routing.js';
import { LoginCode } from './login-code.entity.js';
import { SessionErrorCode } from './session.errors.js';
import { AuthMethod, Session } from './session.entity.js';
import { type StaffRole, User } from './user.entity.js';

const CODE_DIGITS = 6;

export interface IssuedSession {
  /** The bearer secret; returned once, never stored. */
  token: string;
  session: Session;
  user: User;
}

export class SessionService {
  /** The viewers of the token hashes looked up in one turn of the event loop (authenticate). */
  private readonly lookUp = turnBatch((lookups: Array<{ em: EntityManager; tokenHash: string }>) =>
    this.lookUpSessions(lookups),
  );

  constructor(
    private readonly config: Pick<Config, 'session' | 'loginCode' | 'publicUrl'>,
    private readonly clock: Clock,
    private readonly outbox: MailOutbox,
    private readonly audit: AuditService,
    private readonly access: OrganizationAccess,
    private readonly rateLimits: RateLimits,
  ) {}

  /**
   * Mails a sign-in code to the address, whether or not an account exists (the answer is the same either
   * way). Limited per address and window, and per client address across every e-mail address.
   */
  async requestLoginCode(scope: Scope, rawEmail: string): Promise<void> {
    const email = parseEmail(rawEmail);
    await refuseIfSsoRequired(scope.em, this.config.publicUrl, email, SessionErrorCode.SSO_REQUIRED);
    if (scope.client?.ip) await this.rateLimits.consume('loginCodesPerIp', scope.client.ip);
    const now = this.clock.now();
    await scope.em.transactional(async (em) => {
      const windowStart = addSeconds(now, -this.config.loginCode.windowSeconds);
      // Serialises concurrent requests for one address so the count below cannot be raced past the limit.
      await em.execute('select pg_advisory_xact_lock(hashtext(?))', [`login-code:${email}`]);
      const recent = await em.count(LoginCode, { email, createdAt: { $gt: windowStart } });
      if (recent >= this.config.loginCode.maxPerWindow) {
        throw new AccessError(
          'RATE_LIMITED',
          'Too many sign-in codes were requested for this address. Try again later.',
          {
            retryAfterSeconds: this.config.loginCode.windowSeconds,
          },
        );
      }
      const code = randomDigits(CODE_DIGITS);
      const row = new LoginCode(email, '', now, addSeconds(now, this.config.loginCode.ttlSeconds));
      row.codeHash = sha256(`${row.id}:${code}`);
      em.persist(row);
      this.outbox.enqueue(
        em,
        email,
        mailTemplates.loginCode(code, Math.round(this.config.loginCode.ttlSeconds / 60)),
      );
    });
    await this.outbox.wake();
  }

  /** Exchanges the latest code of the address for a session; creates the account on first sign-in. */
  async verifyLoginCode(scope: Scope, rawEmail: string, code: string): Promise<IssuedSession> {
    const email = parseEmail(rawEmail);
    const invalid = () =>
      new DomainError(SessionErrorCode.INVALID_CODE, 'The code is wrong or has expired.', ['code']);
    const now = this.clock.now();
    const candidate = await scope.em.findOne(
      LoginCode,
      { email, consumedAt: null, expiresAt: { $gt: now } },
      { orderBy: { createdAt: 'desc' } },
    );
    if (!candidate || !/^\d+$/.test(code)) throw invalid();
    // Count the attempt before comparing, atomically, so parallel guesses cannot exceed the limit.
    const counted = await scope.em.nativeUpdate(
      LoginCode,
      { id: candidate.id, attempts: { $lt: this.config.loginCode.maxAttempts }, consumedAt: null },
      { attempts: candidate.attempts + 1 },
    );
    if (counted !== 1 || !constantTimeEqual(sha256(`${candidate.id}:${code}`), candidate.codeHash))
      throw invalid();
    return scope.em.transactional(async (em) => {
      const consumed = await em.nativeUpdate(
        LoginCode,
        { id: candidate.id, consumedAt: null },
        { consumedAt: now },
      );
      if (consumed !== 1) throw invalid();
      let user = await em.findOne(User, { email });
      if (!user) {
        user = new User(email, now);
        em.persist(user);
        this.audit.record(em, scope, {
          action: 'user.created',
          targetType: 'User',
          targetId: user.id,
          after: { email },
        });
      }
      return this.issue(em, scope, user, AuthMethod.EMAIL_CODE);
    });
  }

  /** Creates a session in the caller's transaction; used by every sign-in route (code, invitation, SSO). */
  issue(
    em: EntityManager,
    scope: Pick<Scope, 'requestId' | 'client'>,
    user: User,
    method: AuthMethod,
  ): IssuedSession {
    const now = this.clock.now();
    const token = randomToken(32);
    const session = new Session(
      user,
      sha256(token),
      method,
      now,
      addSeconds(now, this.config.session.ttlSeconds),
    );
    session.userAgent = scope.client?.userAgent?.slice(0, 400) ?? null;
    session.ip = scope.client?.ip ?? null;
    em.persist(session);
    this.audit.record(
      em,
      {
        requestId: scope.requestId,
        viewer: {
          userId: user.id,
          email: user.email,
          staffRole: user.staffRole ?? null,
          sessionId: session.id,
        },
      },
      { action: 'session.created', targetType: 'Session', targetId: session.id, after: { method } },
    );
    return { token, session, user };
  }

  /**
   * Resolves a bearer token to its viewer, or null when unknown, expired or revoked: read from the
   * database for every request (never cached), in one query with the other requests of the same turn of
   * the event loop.
   */
  authenticate(em: EntityManager, token: string | undefined): Promise<Viewer | null> {
    // The query serves other requests too: it must not see one transaction's uncommitted work.
    if (em.isInTransaction()) throw new Error('authenticate runs outside transactions.');
    if (!token || token.length > 200) return Promise.resolve(null);
    return this.lookUp({ em, tokenHash: sha256(token) });
  }

  /**
   * One indexed query for every lookup of a turn, prepared once per connection, read into plain values
   * (mapping the account into the identity map cost a tenth of an authenticated request; the few resolvers
   * that need the whole account read it).
   */
  private async lookUpSessions(
    lookups: Array<{ em: EntityManager; tokenHash: string }>,
  ): Promise<Array<Viewer | null>> {
    const rows = await preparedRows<{
      token_hash: string;
      id: string;
      user_id: string;
      email: string;
      staff_role: StaffRole | null;
    }>(
      lookups[0]!.em,
      `select s.token_hash, s.id, u.id as user_id, u.email, u.staff_role
         from sessions s join users u on u.id = s.user_id
        where s.token_hash = any(?) and s.revoked_at is null and s.expires_at > ?`,
      [lookups.map((lookup) => lookup.tokenHash), this.clock.now()],
    );
    const byHash = new Map(rows.map((row) => [row.token_hash, row]));
    return lookups.map(({ tokenHash }) => {
      const row = byHash.get(tokenHash);
      return row
        ? { userId: row.user_id, email: row.email, staffRole: row.staff_role, sessionId: row.id }
        : null;
    });
  }

  async me(scope: Scope): Promise<User> {
    const viewer = this.access.requireViewer(scope);
    return scope.em.findOneOrFail(User, { id: viewer.userId });
  }

  async logout(scope: Scope): Promise<void> {
    const viewer = this.access.requireViewer(scope);
    await this.revoke(scope, viewer.sessionId);
  }

  async listSessions(scope: Scope, page: PageRequest) {
    const viewer = this.access.requireViewer(scope);
    return paginate(
      scope.em,
      Session,
      { user: viewer.userId, revokedAt: null, expiresAt: { $gt: this.clock.now() } },
      page,
      {
        orderBy: { id: 'desc' },
      },
    );
  }

  /** Revokes one of the caller's own sessions; another user's session id reads as not found. */
  async revoke(scope: Scope, sessionId: string): Promise<Session> {
    const viewer = this.access.requireViewer(scope);
    if (!isUuid(sessionId)) throw notFound('Session');
    return scope.em.transactional(async (em) => {
      const session = await em.findOne(Session, { id: sessionId, user: viewer.userId });
      if (!session) throw notFound('Session');
      if (!session.revokedAt) {
        session.revokedAt = this.clock.now();
        this.audit.record(em, scope, {
          action: 'session.revoked',
          targetType: 'Session',
          targetId: session.id,
        });
      }
      return session;
    });
  }

  /** Ends every session of the user now (deprovisioning); live connections close when `announceRevoked` runs after commit. */
  async revokeAllForUser(em: EntityManager, userId: string): Promise<number> {
    const now = this.clock.now();
    return em.nativeUpdate(
      Session,
      { user: userId, revokedAt: null, expiresAt: { $gt: now } },
      { revokedAt: now },
    );
  }
}
