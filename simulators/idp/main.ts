// Runs the IdP simulator as its own process, so a locally started API (or a developer with a browser) can
// sign in through simulated Okta and Google tenants. It creates an `okta` tenant and a `google` tenant (the
// social-login stand-in) on start; users, SPs and OIDC clients are added through the JSON API it prints.
import { startIdpSimulator } from './idp-simulator.js';

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number between 0 and 65535, got ${JSON.stringify(raw)}`);
  }
  return port;
}

const simulator = await startIdpSimulator({
  host: process.env.IDP_SIM_HOST || '127.0.0.1',
  port: portFromEnv('IDP_SIM_PORT', 8090),
  ...(process.env.IDP_SIM_ISSUER_BASE ? { issuerBase: process.env.IDP_SIM_ISSUER_BASE } : {}),
});
const okta = await simulator.createTenant({ tenantId: 'okta', preset: 'okta' });
const google = await simulator.createTenant({ tenantId: 'google', preset: 'google' });

console.log(`IdP simulator listening on ${simulator.url}`);
console.log(`  JSON API:              ${simulator.apiUrl}/tenants`);
console.log(`  okta SAML entity ID:   ${okta.entityId}`);
console.log(`  okta SAML metadata:    ${okta.metadataUrl}`);
console.log(`  okta SAML SSO:         ${okta.ssoUrl}`);
console.log(`  okta OIDC issuer:      ${okta.oidcIssuer}`);
console.log(`  google OIDC issuer:    ${google.oidcIssuer}`);
console.log(
  `Add a user: curl -X POST ${simulator.apiUrl}/tenants/okta/users -H 'content-type: application/json' ` +
    `-d '{"email":"ada@example.com","groups":["anthropic-example-admin"]}'`,
);

let shuttingDown = false;
const shutdown = (signal: NodeJS.Signals): void => {
  // A second signal means the operator wants out now, not another graceful attempt.
  if (shuttingDown) process.exit(1);
  shuttingDown = true;
  console.log(`IdP simulator received ${signal}, shutting down`);
  simulator.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error('IdP simulator failed to close cleanly', error);
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
