// The relying-party half of OpenID Connect, shared by SSO connections and Google sign-in: discovery (cached
// a few minutes per client), the authorization request (code flow, PKCE S256, state, nonce) and the code
// redemption, whose failures become stable refusal codes. Every request to the IdP goes through one fetch
// port that refuses plain http and private or loopback targets unless the deployment allows them (the
// bundled IdP simulator), because the issuer is a URL an admin typed in.
import {
  allowInsecureRequests,
  authorizationCodeGrant,
  AuthorizationResponseError,
  buildAuthorizationUrl,
  calculatePKCECodeChallenge,
  ClientError,
  ClientSecretBasic,
  type Configuration,
  customFetch,
  type CustomFetch,
  discovery,
  enableNonRepudiationChecks,
  randomNonce,
  randomPKCECodeVerifier,
  ResponseBodyError,
} from 'openid-client';
import type { Clock } from '../../../lib/clock.js';
import { randomToken } from '../../../lib/secrets.js';
import { outboundRefusal } from '../../../lib/outbound-url.js';
import { SsoRefusal, SsoRefusedError } from '../sso.errors.js';

const DISCOVERY_TTL_MS = 5 * 60_000;
const HTTP_TIMEOUT_SECONDS = 10;

/** Scopes every login asks for; `groups` is added when the IdP advertises it (Okta does, Google does not). */
const BASE_SCOPES = ['openid', 'email', 'profile'];

export interface OidcClientSettings {
  /** What the cached configuration belongs to and its version, e.g. a connection id and its updatedAt. */
  cacheKey: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/** What a login must remember until its callback: all three are single-use secrets of this browser. */
export interface PendingAuthorization {
  state: string;
  codeVerifier: string;
  nonce: string;
}

export type IdTokenClaims = Record<string, unknown> & { sub: string };

export class OidcClients {
  private readonly cache = new Map<string, { expiresAt: number; configuration: Promise<Configuration> }>();

  constructor(
    private readonly options: {
      /** Loopback, private addresses and plain http allowed: only for the simulators (SSO_ALLOW_PRIVATE_METADATA_URLS). */
      allowPrivate: boolean;
      /** The HTTP port; the global fetch, looked up at call time. */
      fetch?: typeof fetch;
    },
    private readonly clock: Clock,
  ) {}

  /** The discovered configuration of a client, from the cache when it is fresh. */
  async configuration(settings: OidcClientSettings): Promise<Configuration> {
    const now = this.clock.now().getTime();
    const key = JSON.stringify([settings.cacheKey, settings.issuer, settings.clientId]);
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > now) return cached.configuration;
    for (const [k, entry] of this.cache) if (entry.expiresAt <= now) this.cache.delete(k);
    const entry = { expiresAt: now + DISCOVERY_TTL_MS, configuration: this.discover(settings) };
    this.cache.set(key, entry);
    // A failed discovery is not remembered: the next login tries again.
    entry.configuration.catch(() => {
      if (this.cache.get(key) === entry) this.cache.delete(key);
    });
    return entry.configuration;
  }

  /** Where to send the browser, and what to remember for the callback. */
  async authorizationRequest(
    configuration: Configuration,
    redirectUri: string,
    loginHint?: string | null,
  ): Promise<{ url: string; pending: PendingAuthorization }> {
    const pending: PendingAuthorization = {
      // 256 bits; it is also the pending request's id.
      state: randomToken(32),
      codeVerifier: randomPKCECodeVerifier(),
      nonce: randomNonce(),
    };
    const supported = configuration.serverMetadata().scopes_supported;
    const scopes = supported?.includes('groups') ? [...BASE_SCOPES, 'groups'] : BASE_SCOPES;
    const parameters: Record<string, string> = {
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: scopes.join(' '),
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
    };
    if (loginHint) parameters.login_hint = loginHint;
    return { url: buildAuthorizationUrl(configuration, parameters).href, pending };
  }

  /**
   * Redeems the code of an authorization response for a validated ID token: response `iss` and `state`,
   * PKCE verifier, then the ID token's signature, `iss`, `aud`, `azp`, `exp`, `iat` and `nonce`.
   */
  async redeem(
    configuration: Configuration,
    redirectUri: string,
    query: URLSearchParams,
    pending: PendingAuthorization,
  ): Promise<IdTokenClaims> {
    // The registered redirect URI plus the parameters received: never the Host header of the request.
    const currentUrl = new URL(redirectUri);
    currentUrl.search = query.toString();
    try {
      const tokens = await authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new SsoRefusedError(SsoRefusal.TOKEN_INVALID, 'idToken', 'no ID token');
      return claims as IdTokenClaims;
    } catch (error) {
      throw refusalOf(error) ?? error;
    }
  }

  private async discover(settings: OidcClientSettings): Promise<Configuration> {
    const execute = [enableNonRepudiationChecks];
    if (this.options.allowPrivate) execute.push(allowInsecureRequests);
    try {
      return await discovery(
        new URL(settings.issuer),
        settings.clientId,
        settings.clientSecret,
        // The spec's default client authentication, and what Okta, Entra and Google register by default.
        ClientSecretBasic(settings.clientSecret),
        { execute, [customFetch]: this.guardedFetch(), timeout: HTTP_TIMEOUT_SECONDS },
      );
    } catch (error) {
      const refusal = refusalOf(error);
      throw refusal?.check === 'endpoint'
        ? refusal
        : new SsoRefusedError(SsoRefusal.IDP_ERROR, 'discovery', describe(error));
    }
  }

  private guardedFetch(): CustomFetch {
    return async (url, init) => {
      if (!this.options.allowPrivate) await assertPublicEndpoint(new URL(url));
      const fetchImpl = this.options.fetch ?? globalThis.fetch;
      // openid-client's body types are the fetch standard's; Node's lib typing of BodyInit lags behind.
      return fetchImpl(url, init as RequestInit);
    };
  }
}

/** An IdP endpoint must be https on a public address (server-side request forgery otherwise). */
async function assertPublicEndpoint(url: URL): Promise<void> {
  const refusal = await outboundRefusal(url, false);
  if (refusal) throw new SsoRefusedError(SsoRefusal.IDP_ERROR, 'endpoint', `${url.origin}: ${refusal}`);
}

/** openid-client's errors as our refusal codes; null for what is not a protocol failure (a bug: rethrown). */
export function refusalOf(error: unknown): SsoRefusedError | null {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof SsoRefusedError) return e;
  }
  if (error instanceof ResponseBodyError) {
    // The token endpoint said no: invalid_grant (a used, foreign or PKCE-mismatched code), invalid_client...
    return new SsoRefusedError(SsoRefusal.TOKEN_INVALID, 'tokenEndpoint', error.error);
  }
  if (error instanceof AuthorizationResponseError) {
    return new SsoRefusedError(SsoRefusal.IDP_ERROR, 'authorizationResponse', error.error);
  }
  if (error instanceof ClientError) {
    const cause = error.cause as { cause?: { claim?: unknown; parameters?: unknown } } | undefined;
    const claim = typeof cause?.cause?.claim === 'string' ? cause.cause.claim : undefined;
    switch (error.code) {
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
        return new SsoRefusedError(
          SsoRefusal.TOKEN_INVALID,
          'idToken',
          `claim ${claim ?? '?'}: ${message(error)}`,
        );
      case 'OAUTH_INVALID_RESPONSE':
        // The authorization response itself (its `state` or RFC 9207 `iss`) does not answer our request.
        if (cause?.cause?.parameters instanceof URLSearchParams)
          return new SsoRefusedError(SsoRefusal.STATE_MISMATCH, 'authorizationResponse', message(error));
        return new SsoRefusedError(SsoRefusal.TOKEN_INVALID, 'idToken', message(error));
      case 'OAUTH_TIMEOUT':
      case 'OAUTH_ABORT':
        return new SsoRefusedError(SsoRefusal.IDP_ERROR, 'tokenEndpoint', message(error));
      default:
        if (!error.code && error.cause instanceof TypeError)
          return new SsoRefusedError(SsoRefusal.IDP_ERROR, 'tokenEndpoint', error.cause.message);
        return new SsoRefusedError(SsoRefusal.TOKEN_INVALID, 'tokenEndpoint', message(error));
    }
  }
  // fetch() itself: the IdP is unreachable.
  if (error instanceof TypeError && error.message === 'fetch failed') {
    return new SsoRefusedError(SsoRefusal.IDP_ERROR, 'tokenEndpoint', describe(error));
  }
  return null;
}

function message(error: ClientError): string {
  const inner = error.cause instanceof Error ? error.cause.message : undefined;
  return inner && inner !== error.message ? `${error.message}: ${inner}` : error.message;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause =
    error.cause instanceof Error && error.cause.message !== error.message ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`.slice(0, 300);
}
