// The World of a scenario: one whole application (its own database, the mail, DNS and IdP simulators, a
// Google stand-in), on loopback ports, with the handles a guide step acts through: the GraphQL API over
// HTTP and WebSocket, the protocol endpoints, the simulators' APIs, and the named people of the story.
// It does not depend on Vitest's runner, so the test runner and `npm run demo` build it the same way.
import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startDnsSimulator } from '../../simulators/dns/index.js';
import { type IdpTenant, startIdpSimulator } from '../../simulators/idp/index.js';
import { startMailSimulator } from '../../simulators/mail/index.js';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { freePort } from '../../src/db/embedded.js';
import { createLogger } from '../../src/lib/logger.js';
import type { StaffRole } from '../../src/modules/sessions/user.entity.js';
import { LoginCodeRequestDocument, LoginCodeVerifyDocument } from '../generated/graphql.js';
import type { GraphQLResult, Stack } from '../support/stack.js';

/** Someone of the story, as the demo prints them for `--keep`. */
export interface Actor {
  role: string;
  email: string;
  /** How this person signs in by hand ("e-mailed code", "SSO (Okta tenant …)"). */
  signInWith: string;
}

export interface World extends Stack {
  /** The Google stand-in (a tenant of the IdP simulator) the app's "Sign in with Google" uses. */
  google: IdpTenant;
  /** The people of the story, by name, for the narration and `--keep`. */
  readonly actors: Map<string, Actor>;
  cast(name: string, actor: Actor): void;
}

export interface WorldOptions {
  databaseUrl: string;
  env?: Record<string, string>;
  logLevel?: string;
  /** Runs after everything the world started is closed (drops the database, stops the server). */
  onClose?: () => Promise<void>;
}

export function uniqueEmail(prefix = 'user', domain = 'example.com'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}@${domain}`;
}

export async function buildWorld(options: WorldOptions): Promise<World> {
  const [mail, dns, idp] = await Promise.all([
    startMailSimulator(),
    startDnsSimulator(),
    startIdpSimulator(),
  ]);
  // Google must exist before the app's configuration is read.
  const google = await idp.createTenant({ preset: 'google' });
  const googleClientId = 'console-identity.apps.googleusercontent.example';
  const googleClientSecret = randomBytes(24).toString('base64url');
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    SMTP_HOST: mail.host,
    SMTP_PORT: String(mail.smtpPort),
    DNS_SERVERS: dns.server,
    JOB_POLL_SECONDS: '0.5',
    MAIL_RETRY_BASE_SECONDS: '1',
    MAIL_RETRY_MAX_SECONDS: '2',
    DOMAIN_REFRESH_MIN_SECONDS: '1',
    LOG_LEVEL: options.logLevel ?? 'silent',
    SSO_ALLOW_PRIVATE_METADATA_URLS: 'true',
    GOOGLE_ISSUER: google.oidcIssuer,
    GOOGLE_CLIENT_ID: googleClientId,
    GOOGLE_CLIENT_SECRET: googleClientSecret,
    ...options.env,
  });
  const app = await createApp({
    config,
    databaseUrl: options.databaseUrl,
    logger: createLogger(config.logLevel),
  });
  const url = await app.listen();
  google.registerOidcClient({
    clientId: googleClientId,
    clientSecret: googleClientSecret,
    redirectUris: [`${url}/auth/google/callback`],
  });
  const clients: Client[] = [];
  const actors = new Map<string, Actor>();

  const gql: Stack['gql'] = async (document, variables, token) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: print(document), variables }),
    });
    const body = (await response.json()) as Omit<GraphQLResult<never>, 'status'>;
    return { ...body, status: response.status } as GraphQLResult<never>;
  };

  const world: World = {
    url,
    app,
    mail,
    dns,
    idp,
    google,
    databaseUrl: options.databaseUrl,
    actors,
    cast(name, actor) {
      actors.set(name, actor);
    },
    gql,
    async gqlOk<T, V>(document: TypedDocumentNode<T, V>, variables?: V, token?: string): Promise<T> {
      const result = await gql(document, variables, token);
      if (result.errors?.length || !result.data)
        throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data;
    },
    // The e-mailed code of this request: the inbox is shared by every step, so nothing is cleared and the
    // newest code mail to the address is the one just sent.
    async signIn(email) {
      const before = mail.messages({ to: email, subject: 'sign-in code' }).length;
      const requested = await world.gqlOk(LoginCodeRequestDocument, { input: { email } });
      if (!requested.loginCodeRequest.sent)
        throw new Error(JSON.stringify(requested.loginCodeRequest.userErrors));
      const messages = await mail.waitFor(
        { to: email, subject: 'sign-in code' },
        { timeoutMs: 10_000, count: before + 1 },
      );
      const code = /\b(\d{6})\b/.exec(messages.at(-1)!.text)![1]!;
      const verified = await world.gqlOk(LoginCodeVerifyDocument, { input: { email, code } });
      const signIn = verified.loginCodeVerify;
      if (!signIn.token || !signIn.user) throw new Error(JSON.stringify(signIn.userErrors));
      return { token: signIn.token, userId: signIn.user.id };
    },
    // Staff roles are granted by the operator's `npm run admin -- create-staff`, outside the public API;
    // this is the same service call that command makes.
    async signInStaff(email: string, role: StaffRole) {
      await app.services.staff.grantRole(
        { em: app.orm.em.fork(), viewer: null, requestId: 'scenario:create-staff' },
        email,
        role,
      );
      return world.signIn(email);
    },
    ws(token) {
      const client = createClient({
        url: `${url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: token ? { authorization: `Bearer ${token}` } : {},
        retryAttempts: 0,
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.dispose()));
      await app.close();
      await Promise.all([mail.close(), dns.close(), idp.close()]);
      await options.onClose?.();
    },
  };
  return world;
}
