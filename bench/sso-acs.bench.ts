// SAML sign-ins per second through our whole ACS path (HTTP form post, schema check, signature, every
// rule-10 check, replay record, JIT lookup, session) against bare samlify validating the same signed
// responses in the same run (samlify's parseLoginResponse with the same compiled schema validator).
// Responses come from the IdP simulator in this process; everything runs on loopback.
import os from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import samlify from 'samlify';
import { startIdpSimulator } from '../simulators/idp/index.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { dropDatabase, ensureDatabase } from '../src/db/database.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../src/db/embedded.js';
import { uuidv7 } from '../src/lib/ids.js';
import { Domain, DomainStatus } from '../src/modules/domains/domain.entity.js';
import { OrganizationKind } from '../src/modules/organizations/roles.js';
import { parseIdpMetadata } from '../src/modules/sso/saml/idp-metadata.js';
import { installSamlSchemaValidator } from '../src/modules/sso/saml/schema-validator.js';
import {
  SsoConnection,
  SsoConnectionState,
  SsoProtocol,
  SsoProvider,
} from '../src/modules/sso/sso-connection.entity.js';
import { SsoLoginPurpose } from '../src/modules/sso/sso-login-request.entity.js';
import { User } from '../src/modules/sessions/user.entity.js';

const LOGINS = 400;
const USERS = 50;
const DOMAIN = 'bench-sso.example';
const DATABASE = 'bench_sso_acs';

export default async function ssoAcs(): Promise<Record<string, unknown>> {
  let embedded: EmbeddedDatabase | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    embedded = await startEmbeddedPostgres({
      dir: path.join(os.tmpdir(), `bench-sso-${process.pid}`),
      persistent: false,
    });
    serverUrl = embedded.url;
  }
  await dropDatabase(serverUrl, DATABASE);
  const databaseUrl = await ensureDatabase(serverUrl, DATABASE);
  const idp = await startIdpSimulator();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    LOG_LEVEL: 'silent',
    SSO_ALLOW_PRIVATE_METADATA_URLS: 'true',
  });
  const app = await createApp({ config, databaseUrl });
  try {
    const url = await app.listen();
    const em = app.orm.em.fork();
    const scope = { em, viewer: null, requestId: 'bench' };
    // The parent, its verified domain and an active connection, set up directly: the bench measures sign-ins.
    const owner = new User(`owner@${DOMAIN}`, new Date());
    await em.persistAndFlush(owner);
    const organization = await app.services.organizations.create(
      { ...scope, viewer: { userId: owner.id, email: owner.email, staffRole: null, sessionId: uuidv7() } },
      { name: 'Bench SSO', kind: OrganizationKind.ENTERPRISE },
    );
    const parent = organization.parent!;
    const domain = new Domain(parent, DOMAIN, uuidv7(), new Date());
    domain.status = DomainStatus.VERIFIED;
    const tenant = await idp.createTenant({ preset: 'okta' });
    for (let i = 0; i < USERS; i++)
      tenant.addUser({ email: `user${i}@${DOMAIN}`, firstName: 'B', lastName: `${i}`, groups: [] });
    const connection = new SsoConnection(
      parent,
      'bench',
      SsoProtocol.SAML,
      SsoProvider.OKTA,
      { email: 'email', firstName: 'firstName', lastName: 'lastName', groups: 'groups' },
      new Date(),
    );
    const metadata = parseIdpMetadata(tenant.metadataXml());
    Object.assign(connection, {
      idpEntityId: metadata.entityId,
      idpSsoUrl: metadata.ssoUrl,
      idpCertificates: metadata.certificates,
      state: SsoConnectionState.ACTIVE,
    });
    await em.persistAndFlush([domain, connection]);
    const acsUrl = app.services.ssoConnections.acsUrl(connection);
    const audience = app.services.ssoConnections.spEntityId(connection);

    // Pending requests and the IdP's responses to them, made before timing.
    const nonce = 'bench-browser-binding-nonce-0123456789';
    const posts: string[] = [];
    for (let i = 0; i < LOGINS; i++) {
      const redirect = await app.services.ssoLogin.start(app.orm.em.fork(), connection.id, nonce, {
        purpose: SsoLoginPurpose.LOGIN,
      });
      const request = inflateRawSync(
        Buffer.from(new URL(redirect).searchParams.get('SAMLRequest')!, 'base64'),
      ).toString();
      const requestId = /ID="([^"]+)"/.exec(request)![1]!;
      posts.push(
        tenant.samlLoginResponse({ requestId, acsUrl, audience, email: `user${i % USERS}@${DOMAIN}` })
          .SAMLResponse,
      );
    }

    // Baseline: bare samlify (signature, its time and issuer checks, extraction) with the same schema validator.
    await installSamlSchemaValidator();
    const sp = samlify.ServiceProvider({
      entityID: audience,
      assertionConsumerService: [{ Binding: samlify.Constants.namespace.binding.post, Location: acsUrl }],
      wantAssertionsSigned: true,
    });
    const idpEntity = samlify.IdentityProvider({ metadata: tenant.metadataXml() });
    await sp.parseLoginResponse(idpEntity, 'post', { body: { SAMLResponse: posts[0]! } });
    const baselineStart = process.hrtime.bigint();
    for (const SAMLResponse of posts)
      await sp.parseLoginResponse(idpEntity, 'post', { body: { SAMLResponse } });
    const baselineSeconds = Number(process.hrtime.bigint() - baselineStart) / 1e9;

    // Figure: the same responses through our ACS over HTTP, one after the other.
    const start = process.hrtime.bigint();
    let ok = 0;
    for (const SAMLResponse of posts) {
      const response = await fetch(`${url}/sso/saml/${connection.id}/acs`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `ci_sso=${nonce}` },
        body: new URLSearchParams({ SAMLResponse }).toString(),
        redirect: 'manual',
      });
      if (response.status === 303 && response.headers.get('location') === '/') ok++;
      await response.arrayBuffer();
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (ok !== LOGINS) throw new Error(`only ${ok} of ${LOGINS} sign-ins succeeded`);

    const figure = LOGINS / seconds;
    const baseline = LOGINS / baselineSeconds;
    const result = {
      logins: LOGINS,
      figure: {
        name: 'sign-ins/s through the ACS (HTTP, checks, JIT, session)',
        value: Number(figure.toFixed(1)),
      },
      baseline: {
        name: 'bare samlify parseLoginResponse/s, same responses',
        value: Number(baseline.toFixed(1)),
      },
      ratio: Number((figure / baseline).toFixed(3)),
      target: 'none set here: the performance issue sets the sign-in target (G3)',
    };
    console.log(`figure   ${result.figure.value} sign-ins/s through the ACS`);
    console.log(`baseline ${result.baseline.value} bare samlify validations/s`);
    console.log(`ratio    ${result.ratio} (${result.target})`);
    return result;
  } finally {
    await app.close();
    await idp.close();
    await dropDatabase(serverUrl, DATABASE).catch(() => {});
    await embedded?.stop();
  }
}
