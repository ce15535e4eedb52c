// Start-up: read the environment, start the embedded PostgreSQL when DATABASE_URL is unset and the
// simulators unless SIMULATORS=false, build the app, print every URL, and shut down cleanly on signals.
import 'reflect-metadata';
import { startDnsSimulator } from '../simulators/dns/index.js';
import { startIdpSimulator } from '../simulators/idp/index.js';
import { startMailSimulator } from '../simulators/mail/index.js';
import { createApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config/config.js';
import { freePort } from './db/embedded.js';
import { openDatabase } from './db/open.js';
import { createLogger } from './lib/logger.js';
import { rejectionHandler } from './lib/rejection-guard.js';
import { randomToken } from './lib/secrets.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
    // PORT=0 asks for any free port; pick it now so PUBLIC_URL (and every mailed link) names the real one.
    if (config.port === 0) config = loadConfig({ ...process.env, PORT: String(await freePort()) });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  process.on(
    'unhandledRejection',
    rejectionHandler(logger, (code) => process.exit(code)),
  );
  const stops: Array<() => Promise<void>> = [];

  if (!config.databaseUrl)
    logger.info(
      { dir: config.embeddedPostgres.dir },
      'DATABASE_URL is not set: using the embedded PostgreSQL',
    );
  const database = await openDatabase(config);
  stops.push(() => database.close());

  const lines: string[] = [];
  if (config.simulators.enabled) {
    const mail = await startMailSimulator({
      smtpPort: config.simulators.smtpPort,
      httpPort: config.simulators.mailHttpPort,
    });
    stops.push(() => mail.close());
    const dns = await startDnsSimulator({
      port: config.simulators.dnsPort,
      httpPort: config.simulators.dnsHttpPort,
    });
    stops.push(() => dns.close());
    const idp = await startIdpSimulator({ port: config.simulators.idpPort });
    stops.push(() => idp.close());
    const okta = await idp.createTenant({
      tenantId: 'okta',
      preset: 'okta',
      appLoginUrl: `${config.publicUrl}/login?sso=true`,
    });
    const google = await idp.createTenant({ tenantId: 'google', preset: 'google' });
    // The Google stand-in answers /auth/google/* unless real Google settings were given.
    const googleClient = { clientId: 'console-identity', clientSecret: randomToken(24) };
    google.registerOidcClient({
      ...googleClient,
      redirectUris: [`${config.publicUrl}/auth/google/callback`],
    });
    config = {
      ...config,
      smtp: { ...config.smtp, host: mail.host, port: mail.smtpPort, secure: false },
      dnsServers: [dns.server],
      google: config.google ?? { issuer: google.oidcIssuer, ...googleClient },
      // The simulated IdPs live on loopback; outside production their metadata URLs may be fetched.
      sso: { allowPrivateMetadataUrls: config.env !== 'production' || config.sso.allowPrivateMetadataUrls },
    };
    lines.push(`Mail simulator: SMTP ${mail.host}:${mail.smtpPort}, inbox ${mail.httpUrl}/messages`);
    lines.push(`DNS simulator:  ${dns.server} (UDP and TCP), records API ${dns.httpUrl}/records`);
    lines.push(
      `IdP simulator:  ${idp.url} (Okta-style SAML metadata ${okta.metadataUrl}, Google stand-in ${google.oidcIssuer})`,
    );
  }

  const app = await createApp({ config, databaseUrl: database.url, logger });
  stops.unshift(() => app.close());
  const url = await app.listen();
  const banner = [
    `Console Identity is running (${config.env}).`,
    `GraphQL:        ${url}/graphql (WebSocket subscriptions on the same path)`,
    `Public URL:     ${config.publicUrl}`,
    `Web console:    ${config.publicUrl}/console (sign in with a code from the mail simulator's inbox)`,
    `Health:         ${url}/healthz  Ready: ${url}/readyz  Metrics: ${url}/metrics`,
    `Database:       ${database.description}`,
    ...lines,
  ];
  console.log(banner.join('\n'));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    for (const stop of stops) {
      await stop().catch((error: unknown) => logger.error({ err: error }, 'error during shutdown'));
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
