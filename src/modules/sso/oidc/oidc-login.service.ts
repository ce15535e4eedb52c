// SP-initiated sign-in through an OIDC connection: the authorization request (its state, PKCE verifier and
// nonce kept in a pending request bound to this browser), and the callback, a pipeline of named checks:
//   connection       the connection exists and speaks OIDC
//   state            the response carries a state
//   pendingRequest   the state is a pending request of this connection and this browser, live and unused
//   consume          claimed once, atomically, before anything is redeemed (a replay finds it consumed)
//   idpResponse      the IdP did not answer with `error=`
//   pkceVerifier     the pending request holds its verifier and nonce
//   tokenEndpoint / idToken / authorizationResponse   openid-client's checks of the code and the ID token
//   subject / email / emailVerified                   the profile
// then the shared SSO completion (verified-domain rule, test or login, JIT, session).
import type { EntityManager } from '@mikro-orm/postgresql';
import { addSeconds, type Clock } from '../../../lib/clock.js';
import type { Logger } from '../../../lib/logger.js';
import type { Scope } from '../../../lib/scope.js';
import { constantTimeEqual, sha256 } from '../../../lib/secrets.js';
import { User } from '../../sessions/user.entity.js';
import { SsoConnection, SsoConnectionState, SsoProtocol } from '../sso-connection.entity.js';
import type { SsoConnectionService } from '../sso-connection.service.js';
import { SsoLoginPurpose, SsoLoginRequest } from '../sso-login-request.entity.js';
import { signInEntityManager, type SsoLoginService, type SsoOutcome } from '../sso-login.service.js';
import { SsoRefusal, SsoRefusedError } from '../sso.errors.js';
import { profileFromClaims } from './oidc-claims.js';
import type { OidcClients } from './oidc-client.js';

const PENDING_LOGIN_SECONDS = 600;
/** The longest state we ever issue, with room; anything longer is not ours and is not looked up. */
const MAX_STATE_LENGTH = 64;

export class OidcLoginService {
  constructor(
    private readonly clock: Clock,
    private readonly connections: SsoConnectionService,
    private readonly ssoLogin: SsoLoginService,
    private readonly clients: OidcClients,
    private readonly logger: Logger,
  ) {}

  /**
   * Starts a sign-in at the IdP: records the pending request bound to this browser and returns the IdP's
   * authorization URL. Only an ACTIVE connection signs people in; a test (by an admin) works in any state.
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
      connection.protocol !== SsoProtocol.OIDC ||
      (options.purpose === SsoLoginPurpose.LOGIN && connection.state !== SsoConnectionState.ACTIVE)
    ) {
      throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'start');
    }
    const configuration = await this.clients.configuration(this.clientSettings(connection)).catch((error) => {
      // The IdP's discovery failed (unreachable, not allowed, issuer mismatch): the admin needs to know why.
      if (error instanceof SsoRefusedError)
        this.logger.warn(
          { connectionId, reason: error.reason, check: error.check, detail: error.message },
          'SSO login not started',
        );
      throw error;
    });
    const { url, pending } = await this.clients.authorizationRequest(
      configuration,
      this.connections.oidcRedirectUri(connection),
      options.loginHint,
    );
    const now = this.clock.now();
    const request = new SsoLoginRequest(
      pending.state,
      connection,
      sha256(browserNonce),
      options.purpose,
      now,
      addSeconds(now, PENDING_LOGIN_SECONDS),
    );
    request.codeVerifier = pending.codeVerifier;
    request.nonce = pending.nonce;
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

  /** The redirect URI: every check above, then the login (or the test result). */
  async finish(
    scope: Scope,
    connectionId: string,
    query: URLSearchParams,
    browserNonce: string | undefined,
  ): Promise<SsoOutcome> {
    const connection = await scope.em.findOne(SsoConnection, connectionId);
    if (!connection || connection.protocol !== SsoProtocol.OIDC)
      throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'connection');
    let pending: SsoLoginRequest | null = null;
    try {
      pending = await this.pendingFor(scope.em, connection, query.get('state'), browserNonce);
      await this.consume(scope.em, pending);
      const idpError = query.get('error');
      if (idpError !== null) {
        const description = query.get('error_description');
        throw new SsoRefusedError(
          SsoRefusal.IDP_ERROR,
          'idpResponse',
          `${idpError.slice(0, 100)}${description ? `: ${description.slice(0, 200)}` : ''}`,
        );
      }
      if (!pending.codeVerifier || !pending.nonce) {
        // Never redeem a code without the PKCE verifier and nonce this browser's request was sent with.
        throw new SsoRefusedError(SsoRefusal.STATE_MISMATCH, 'pkceVerifier');
      }
      const configuration = await this.clients.configuration(this.clientSettings(connection));
      const claims = await this.clients.redeem(
        configuration,
        this.connections.oidcRedirectUri(connection),
        query,
        { state: pending.id, codeVerifier: pending.codeVerifier, nonce: pending.nonce },
      );
      const profile = profileFromClaims(connection.attributeMapping, claims);
      return await this.ssoLogin.complete(signInEntityManager(scope), scope, connection, pending, profile);
    } catch (error) {
      if (error instanceof SsoRefusedError) {
        this.logger.warn(
          { connectionId, reason: error.reason, check: error.check, detail: error.message },
          'SSO response refused',
        );
        if (pending?.purpose === SsoLoginPurpose.TEST)
          await this.recordFailedTest(scope.em, connection.id, error);
      }
      throw error;
    }
  }

  private clientSettings(connection: SsoConnection) {
    if (!connection.oidcIssuer || !connection.oidcClientId)
      throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'settings', 'no issuer or client id');
    return {
      // A changed connection (a new secret) gets a fresh configuration at once.
      cacheKey: `${connection.id}@${connection.updatedAt.getTime()}`,
      issuer: connection.oidcIssuer,
      clientId: connection.oidcClientId,
      clientSecret: this.connections.clientSecret(connection),
    };
  }

  /**
   * The pending request the response answers: same connection, same browser, not expired, not used. A
   * browser that is waiting for another state was handed someone else's response (login CSRF); a browser
   * that waits for nothing here got an unsolicited one.
   */
  private async pendingFor(
    em: EntityManager,
    connection: SsoConnection,
    state: string | null,
    browserNonce: string | undefined,
  ): Promise<SsoLoginRequest> {
    if (!state) throw new SsoRefusedError(SsoRefusal.STATE_MISMATCH, 'state', 'no state parameter');
    const now = this.clock.now();
    const browserHash = browserNonce ? sha256(browserNonce) : null;
    const pending =
      state.length <= MAX_STATE_LENGTH
        ? await em.findOne(SsoLoginRequest, { id: state, connection }, { populate: ['tester'] })
        : null;
    if (
      pending &&
      browserHash &&
      constantTimeEqual(pending.browserHash, browserHash) &&
      pending.expiresAt > now
    ) {
      if (pending.consumedAt) throw new SsoRefusedError(SsoRefusal.REPLAY, 'pendingRequest');
      return pending;
    }
    if (browserHash && !pending) {
      const waiting = await em.count(SsoLoginRequest, {
        connection,
        browserHash,
        consumedAt: null,
        expiresAt: { $gt: now },
      });
      if (waiting > 0) throw new SsoRefusedError(SsoRefusal.STATE_MISMATCH, 'state', 'not the pending state');
    }
    throw new SsoRefusedError(SsoRefusal.UNSOLICITED, 'pendingRequest');
  }

  /** Single use across instances: only one callback claims the row, before the code is redeemed. */
  private async consume(em: EntityManager, pending: SsoLoginRequest): Promise<void> {
    const claimed = await em.nativeUpdate(
      SsoLoginRequest,
      { id: pending.id, consumedAt: null },
      { consumedAt: this.clock.now() },
    );
    if (claimed !== 1) throw new SsoRefusedError(SsoRefusal.REPLAY, 'consume');
  }

  private async recordFailedTest(em: EntityManager, connectionId: string, error: SsoRefusedError) {
    await em.fork().transactional(async (tx) => {
      const connection = await tx.findOneOrFail(SsoConnection, connectionId);
      this.connections.recordTest(connection, false, error.reason);
    });
  }
}
