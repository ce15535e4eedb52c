// "Sign in with Google": an OpenID Connect login against Google (the IdP simulator's stand-in locally),
// with PKCE, state and nonce. Its pending state lives in the browser, in a short-lived HttpOnly cookie
// sealed (AES-256-GCM) under a key derived from SECRET_KEY, so it needs no table and cannot be read or
// forged by the browser. Rule 8: an address on a captured domain of a parent with active SSO is refused
// with the business error SSO_REQUIRED naming its SSO route, as the guide asks of Google Workspace users.
import { createHmac } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../../config/config.js';
import type { Clock } from '../../../lib/clock.js';
import type { Logger } from '../../../lib/logger.js';
import type { Scope } from '../../../lib/scope.js';
import { secretBox, type SecretBox } from '../../../lib/secret-box.js';
import { constantTimeEqual } from '../../../lib/secrets.js';
import type { AuditService } from '../../audit/audit.service.js';
import { SessionErrorCode } from '../../sessions/session.errors.js';
import type { IssuedSession, SessionService } from '../../sessions/session.service.js';
import { AuthMethod } from '../../sessions/session.entity.js';
import { User } from '../../sessions/user.entity.js';
import { refuseIfSsoRequired } from '../sso-routing.js';
import { SsoRefusal, SsoRefusedError } from '../sso.errors.js';
import { verifiedEmail } from './oidc-claims.js';
import type { OidcClients, PendingAuthorization } from './oidc-client.js';

/** How long a browser has to come back from Google. */
export const GOOGLE_PENDING_SECONDS = 600;

interface SealedPending extends PendingAuthorization {
  expiresAt: number;
}

export class GoogleLoginService {
  private readonly box: SecretBox;

  constructor(
    private readonly config: Pick<Config, 'publicUrl' | 'google' | 'secretKey'>,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly sessions: SessionService,
    private readonly clients: OidcClients,
    private readonly logger: Logger,
  ) {
    // A key of its own: a sealed client secret from the database is no valid pending-login cookie.
    this.box = secretBox(createHmac('sha256', config.secretKey).update('google-login-pending').digest());
  }

  get enabled(): boolean {
    return Boolean(this.config.google);
  }

  get redirectUri(): string {
    return `${this.config.publicUrl}/auth/google/callback`;
  }

  /** The Google authorization URL, and the sealed pending state the browser keeps until the callback. */
  async start(loginHint?: string): Promise<{ url: string; pendingCookie: string }> {
    const configuration = await this.clients.configuration(this.clientSettings());
    const { url, pending } = await this.clients.authorizationRequest(
      configuration,
      this.redirectUri,
      loginHint,
    );
    const sealed: SealedPending = {
      ...pending,
      expiresAt: this.clock.now().getTime() + GOOGLE_PENDING_SECONDS * 1000,
    };
    return { url, pendingCookie: this.box.seal(JSON.stringify(sealed)) };
  }

  /**
   * The callback: the pending state of this browser, the code redeemed for a validated ID token, a verified
   * e-mail not captured by SSO; then the account (created on first sign-in) and a session.
   */
  async finish(
    scope: Scope,
    query: URLSearchParams,
    pendingCookie: string | undefined,
  ): Promise<IssuedSession> {
    try {
      const pending = this.pendingOf(pendingCookie);
      const state = query.get('state');
      if (!state || !constantTimeEqual(state, pending.state))
        throw new SsoRefusedError(SsoRefusal.STATE_MISMATCH, 'state');
      const idpError = query.get('error');
      if (idpError !== null)
        throw new SsoRefusedError(SsoRefusal.IDP_ERROR, 'idpResponse', idpError.slice(0, 100));
      const configuration = await this.clients.configuration(this.clientSettings());
      const claims = await this.clients.redeem(configuration, this.redirectUri, query, pending);
      const email = verifiedEmail(claims, 'email', { requireVerified: true });
      await refuseIfSsoRequired(scope.em, this.config.publicUrl, email, SessionErrorCode.SSO_REQUIRED);
      return await scope.em.transactional((em) => this.signIn(em, scope, email));
    } catch (error) {
      if (error instanceof SsoRefusedError) {
        this.logger.warn(
          { reason: error.reason, check: error.check, detail: error.message },
          'Google sign-in refused',
        );
      }
      throw error;
    }
  }

  private async signIn(em: EntityManager, scope: Scope, email: string): Promise<IssuedSession> {
    let user = await em.findOne(User, { email });
    if (!user) {
      user = new User(email, this.clock.now());
      em.persist(user);
      this.audit.record(em, scope, {
        action: 'user.created',
        targetType: 'User',
        targetId: user.id,
        after: { email, method: AuthMethod.GOOGLE },
      });
    }
    return this.sessions.issue(em, scope, user, AuthMethod.GOOGLE);
  }

  /** The browser's pending login; missing, unreadable or expired reads as unsolicited. */
  private pendingOf(cookie: string | undefined): SealedPending {
    let pending: Partial<SealedPending> | null;
    try {
      pending = cookie ? (JSON.parse(this.box.open(cookie)) as Partial<SealedPending>) : null;
    } catch {
      // Not sealed by us (or by a rotated key): as good as absent.
      pending = null;
    }
    if (
      !pending ||
      typeof pending.state !== 'string' ||
      typeof pending.codeVerifier !== 'string' ||
      typeof pending.nonce !== 'string' ||
      typeof pending.expiresAt !== 'number' ||
      pending.expiresAt <= this.clock.now().getTime()
    ) {
      throw new SsoRefusedError(SsoRefusal.UNSOLICITED, 'pendingRequest');
    }
    return pending as SealedPending;
  }

  private clientSettings() {
    const google = this.config.google;
    if (!google) throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'google');
    return {
      cacheKey: 'google',
      issuer: google.issuer,
      clientId: google.clientId,
      clientSecret: google.clientSecret,
    };
  }
}
