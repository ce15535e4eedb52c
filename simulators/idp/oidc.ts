// One OpenID Provider per tenant, built on oidc-provider and mounted under `/<tenant>/oidc` of the
// simulator's single HTTP server (the prefix is stripped and `originalUrl` kept, as express mounting does, so
// the provider builds its URLs with the prefix). Code flow with mandatory S256 PKCE; no consent UI: the
// tenant's "login as" user is signed in automatically, or an e-mail form is shown. Faulty ID tokens are made
// by rewriting the token endpoint's answer, because oidc-provider (rightly) cannot be told to issue them.
import { generateKeyPair, randomBytes, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SignJWT, decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import Provider, { type Adapter, type AdapterPayload } from 'oidc-provider';
import { loginForm } from './html.js';
import { readBody, sendHtml } from './http-util.js';

export interface OidcClientInput {
  clientId: string;
  /** Required unless tokenEndpointAuthMethod is 'none'. */
  clientSecret?: string;
  redirectUris: string[];
  /** Default 'client_secret_basic' (the spec's default); the token endpoint accepts only the registered one. */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'none';
}

export interface OidcFaults {
  /** `iss` is not the tenant's issuer (true: https://wrong-issuer.example). */
  wrongIssuer?: boolean | string;
  /** `aud` is not the client id (true: another-client). */
  wrongAudience?: boolean | string;
  /** `nonce` differs from the one in the authorization request. */
  badNonce?: boolean;
  /** An unsigned ID token: header {"alg":"none"} and an empty signature. */
  algNone?: boolean;
  /** `iat` two hours and `exp` one hour in the past. */
  expiredIdToken?: boolean;
}

export interface OidcUser {
  subject: string;
  email: string;
}

/** What the provider needs from its tenant; the tenant stays the single owner of users and settings. */
export interface OidcDirectory {
  findBySubject(subject: string): OidcUser | undefined;
  findByEmail(email: string): OidcUser | undefined;
  loginAs(): OidcUser | undefined;
  claims(subject: string): Record<string, unknown> | undefined;
  faults(): OidcFaults;
}

interface StoredEntry {
  payload: AdapterPayload;
  expiresAt: number;
}

const MAX_STORED_ENTRIES = 10_000;
const FAULT_ISSUER = 'https://wrong-issuer.example';
const FAULT_AUDIENCE = 'another-client';

async function generateRsaKey(): Promise<{ privateKey: KeyObject; jwk: Record<string, unknown> }> {
  const { privateKey } = await new Promise<{ privateKey: KeyObject }>((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: 2048 }, (err, _publicKey, key) => {
      if (err) reject(err);
      else resolve({ privateKey: key });
    });
  });
  const kid = randomBytes(8).toString('hex');
  return { privateKey, jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

interface Running {
  provider: Provider;
  signingKey: KeyObject;
  kid: string;
}

export class OidcTenant {
  private readonly clients = new Map<string, Record<string, unknown>>();
  private readonly store = new Map<string, StoredEntry>();
  // Started on the first OIDC request: most tenants in a test run only speak SAML, and an RSA key per
  // tenant that never signs would be the bulk of tenant creation time.
  private running: Promise<Running> | undefined;

  constructor(
    readonly issuer: string,
    private readonly mountPath: string,
    private readonly directory: OidcDirectory,
  ) {}

  private start(): Promise<Running> {
    this.running ??= this.createProvider().catch((err: unknown) => {
      this.running = undefined;
      throw err;
    });
    return this.running;
  }

  private async createProvider(): Promise<Running> {
    const { privateKey, jwk } = await generateRsaKey();
    const { directory, mountPath } = this;
    const provider = new Provider(this.issuer, {
      adapter: this.adapterClass(),
      jwks: { keys: [jwk] },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      claims: {
        openid: ['sub', 'hd'],
        email: ['email', 'email_verified'],
        profile: ['name', 'given_name', 'family_name', 'groups'],
        groups: ['groups'],
      },
      scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
      responseTypes: ['code'],
      // Claims of the granted scopes go into the ID token itself, as Okta, Entra and Google put them there.
      conformIdTokenClaims: false,
      features: { devInteractions: { enabled: false } },
      pkce: { required: () => true },
      clientBasedCORS: () => true,
      interactions: { url: (_ctx, interaction) => `${mountPath}/interaction/${interaction.uid}` },
      findAccount: async (_ctx, sub) => {
        if (!directory.findBySubject(sub)) return undefined;
        return { accountId: sub, claims: () => directory.claims(sub) ?? { sub } };
      },
      ttl: {
        AccessToken: 3600,
        AuthorizationCode: 60,
        IdToken: 3600,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
      },
    });
    // Behind a TLS-terminating proxy (issuerBase https://...), trust X-Forwarded-* for the URLs it publishes.
    provider.proxy = true;
    const running: Running = { provider, signingKey: privateKey, kid: String(jwk.kid) };
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.oidc?.route !== 'token' || ctx.status !== 200) return;
      const body = ctx.body as Record<string, unknown> | undefined;
      if (typeof body?.id_token !== 'string') return;
      ctx.body = { ...body, id_token: await this.applyFaults(running, body.id_token) };
    });
    return running;
  }

  registerClient(input: OidcClientInput): void {
    const method = input.tokenEndpointAuthMethod ?? 'client_secret_basic';
    if (method !== 'none' && !input.clientSecret) throw new TypeError('clientSecret is required');
    if (input.redirectUris.length === 0) throw new TypeError('redirectUris must not be empty');
    this.clients.set(input.clientId, {
      client_id: input.clientId,
      ...(method === 'none' ? {} : { client_secret: input.clientSecret }),
      redirect_uris: input.redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: method,
    });
  }

  clientIds(): string[] {
    return [...this.clients.keys()];
  }

  /** Serves one request whose path starts with the mount path. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const rest = url.pathname.slice(this.mountPath.length) || '/';
    if (rest.startsWith('/interaction/')) {
      await this.interaction(req, res);
      return;
    }
    const { provider } = await this.start();
    const original = req.url ?? '/';
    // Mounted like express does it: the provider sees its own paths, and originalUrl tells it the prefix.
    Object.assign(req, { originalUrl: original, url: rest + url.search });
    try {
      await provider.callback()(req, res);
    } finally {
      req.url = original;
    }
  }

  /** Logs the "login as" user in (or the e-mail posted by the form) and grants the requested scopes. */
  private async interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { provider } = await this.start();
    const details = await provider.interactionDetails(req, res);
    let user: OidcUser | undefined;
    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      user = this.directory.findByEmail(form.get('email') ?? '');
      if (!user) {
        sendHtml(res, 401, loginForm(req.url ?? '', {}, 'No such user at this identity provider.'));
        return;
      }
    } else {
      user = this.directory.loginAs();
      if (!user) {
        sendHtml(res, 200, loginForm(req.url ?? '', {}));
        return;
      }
    }
    const clientId = String(details.params.client_id);
    const grant =
      (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ??
      new provider.Grant({ accountId: user.subject, clientId });
    grant.addOIDCScope(String(details.params.scope ?? 'openid'));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.subject }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  private async applyFaults(running: Running, idToken: string): Promise<string> {
    const faults = this.directory.faults();
    const active =
      faults.wrongIssuer ||
      faults.wrongAudience ||
      faults.badNonce ||
      faults.algNone ||
      faults.expiredIdToken;
    if (!active) return idToken;
    const payload: JWTPayload = { ...decodeJwt(idToken) };
    if (faults.wrongIssuer) payload.iss = faults.wrongIssuer === true ? FAULT_ISSUER : faults.wrongIssuer;
    if (faults.wrongAudience)
      payload.aud = faults.wrongAudience === true ? FAULT_AUDIENCE : faults.wrongAudience;
    if (faults.badNonce) payload.nonce = randomBytes(16).toString('base64url');
    if (faults.expiredIdToken) {
      const now = Math.floor(Date.now() / 1000);
      payload.iat = now - 7200;
      payload.exp = now - 3600;
      if (typeof payload.auth_time === 'number') payload.auth_time = now - 7200;
    }
    if (faults.algNone) return `${base64urlJson({ alg: 'none', typ: 'JWT' })}.${base64urlJson(payload)}.`;
    const header = decodeProtectedHeader(idToken);
    return new SignJWT(payload)
      .setProtectedHeader({ ...header, alg: 'RS256', kid: running.kid })
      .sign(running.signingKey);
  }

  // oidc-provider instantiates its adapter per model name ("Session", "Client", ...). Clients come from the
  // tenant's registrations (oidc-provider caches them by content hash, so re-registering takes effect);
  // everything else lives in this tenant's own map, so tenants never see each other's sessions or codes.
  private adapterClass(): new (name: string) => Adapter {
    const tenant = () => this;
    return class TenantAdapter implements Adapter {
      constructor(private readonly name: string) {}

      private key(id: string) {
        return `${this.name}:${id}`;
      }

      private entries() {
        return tenant().store;
      }

      async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
        const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY;
        const entries = this.entries();
        // A long-running simulator sweeps expired artefacts now and then instead of growing forever.
        if (entries.size > MAX_STORED_ENTRIES) {
          const now = Date.now();
          for (const [key, entry] of entries) if (entry.expiresAt <= now) entries.delete(key);
        }
        entries.set(this.key(id), { payload: { ...payload }, expiresAt });
      }

      async find(id: string) {
        if (this.name === 'Client') return tenant().clients.get(id);
        const entry = this.entries().get(this.key(id));
        if (!entry) return undefined;
        if (entry.expiresAt <= Date.now()) {
          this.entries().delete(this.key(id));
          return undefined;
        }
        return entry.payload;
      }

      async findByUid(uid: string) {
        return this.findBy((payload) => payload.uid === uid);
      }

      async findByUserCode(userCode: string) {
        return this.findBy((payload) => payload.userCode === userCode);
      }

      async consume(id: string) {
        const entry = this.entries().get(this.key(id));
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      }

      async destroy(id: string) {
        this.entries().delete(this.key(id));
      }

      async revokeByGrantId(grantId: string) {
        for (const [key, entry] of this.entries()) {
          if (entry.payload.grantId === grantId) this.entries().delete(key);
        }
      }

      private findBy(match: (payload: AdapterPayload) => boolean) {
        const prefix = `${this.name}:`;
        const now = Date.now();
        for (const [key, entry] of this.entries()) {
          if (key.startsWith(prefix) && entry.expiresAt > now && match(entry.payload)) return entry.payload;
        }
        return undefined;
      }
    };
  }
}
