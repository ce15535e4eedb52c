// The World of a scenario: one whole application (its own database, the mail, DNS and IdP simulators, a
// Google stand-in), on loopback ports, with the handles a guide step acts through: the GraphQL API over
// HTTP and WebSocket, the protocol endpoints, the simulators' APIs, and the named people of the story.
// It does not depend on Vitest's runner, so the test runner and `npm run demo` build it the same way.
import { randomBytes } from 'node:crypto';
import { startDnsSimulator } from '../../simulators/dns/index.js';
import { type IdpTenant, startIdpSimulator } from '../../simulators/idp/index.js';
import { startMailSimulator } from '../../simulators/mail/index.js';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { PER_ADDRESS_LIMITS_FOR_ONE_HOST } from '../support/one-host.js';
import { freePort } from '../../src/db/embedded.js';
import { createLogger } from '../../src/lib/logger.js';
import { apiClient, type Stack } from '../support/stack.js';

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
    ...PER_ADDRESS_LIMITS_FOR_ONE_HOST,
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
  const actors = new Map<string, Actor>();
  // The inbox is shared by every step of the story: it is never cleared.
  const client = apiClient(url, app, mail, { clearInboxAfterSignIn: false });

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
    ...client.api,
    async close() {
      await client.dispose();
      await app.close();
      await Promise.all([mail.close(), dns.close(), idp.close()]);
      await options.onClose?.();
    },
  };
  return world;
}
