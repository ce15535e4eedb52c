// Identity provider simulator: several independent IdP tenants (Okta, Google Workspace, Entra ID, generic
// SAML, and a Google stand-in for social login) behind one HTTP server. Each tenant is a SAML 2.0 IdP
// (metadata, SP-initiated SSO over HTTP-Redirect/POST, IdP-initiated launch, app tile, key rotation, fault
// switches for every check an SP must make) and an OpenID Provider (code flow + PKCE). Tests drive it
// in-process or through its JSON API. It must never import from src/: an IdP that reused our SAML code
// could not catch our SAML bugs. It never touches samlify's process-global schema validator either.
import http from 'node:http';
import net from 'node:net';
import { ZodError, z } from 'zod';
import { SamlRequestError, parseAuthnRequest, type AuthnRequestInfo } from './authn-request.js';
import {
  followOidcAuthorization,
  followSamlRedirect,
  type FollowOidcOptions,
  type FollowSamlOptions,
} from './browser.js';
import { autoPostForm, errorPage, loginForm } from './html.js';
import { HttpError, readForm, readJson, redirect, sendHtml, sendJson, sendXml } from './http-util.js';
import { generateSigningKey } from './keys.js';
import type { OidcClientInput, OidcFaults } from './oidc.js';
import type { ScimError, ScimPushSummary, ScimRequestRecord, ScimStatus } from './scim-client.js';
import {
  assignedSchema,
  createTenantSchema,
  groupNameSchema,
  scimAutoPushSchema,
  type CreateTenantOptions,
  type RotateSigningKeyOptions,
  type SamlFaults,
  type SamlResponseOptions,
  type ScimConfigInput,
  type ServiceProviderInput,
  type SettingsPatch,
  type TenantSettings,
  type UserInput,
  type UserPatch,
} from './schemas.js';
import {
  NotFoundError,
  Tenant,
  type IdpGroup,
  type IdpUser,
  type RotatedSigningKey,
  type SamlFormPost,
  type SamlPost,
  type TenantInfo,
} from './tenant.js';

export interface IdpSimulatorOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /**
   * Public base URL used in every entity ID, issuer and endpoint the simulator publishes (e.g. when it sits
   * behind a proxy or a container name). Default: http://<host>:<port>.
   */
  issuerBase?: string;
}

/** A tenant's operations, bound to it: what `createTenant` and `tenant(id)` return. */
export interface IdpTenant {
  readonly id: string;
  readonly preset: TenantInfo['preset'];
  readonly entityId: string;
  readonly metadataUrl: string;
  readonly ssoUrl: string;
  readonly launchUrl: string;
  readonly appUrl: string;
  readonly oidcIssuer: string;
  info(): TenantInfo;
  addUser(user: UserInput): IdpUser;
  updateUser(email: string, patch: UserPatch): IdpUser;
  removeUser(email: string): void;
  setGroups(email: string, groups: string[]): IdpUser;
  user(email: string): IdpUser | undefined;
  users(): IdpUser[];
  setLoginAs(email: string | null): void;
  update(settings: SettingsPatch): TenantSettings;
  setSamlFaults(faults: SamlFaults): void;
  setOidcFaults(faults: OidcFaults): void;
  registerServiceProvider(sp: ServiceProviderInput): void;
  registerOidcClient(client: OidcClientInput): void;
  metadataXml(): string;
  signingCertificates(): string[];
  rotateSigningKey(options: RotateSigningKeyOptions): Promise<RotatedSigningKey>;
  samlLoginResponse(options: SamlResponseOptions): SamlPost;
  /** The AuthnRequests this tenant received, oldest first. */
  authnRequests(): AuthnRequestInfo[];
  /** The IdP-initiated launch URL for an ACS and audience (default: the registered SP). */
  launchUrlFor(target?: { acsUrl?: string; audience?: string; relayState?: string }): string;

  // ---- app assignment, groups and SCIM provisioning ----
  /** "Add users to / remove users from the SSO application in your IdP"; users are assigned by default. */
  assignUser(email: string, assigned: boolean): IdpUser;
  groups(): IdpGroup[];
  group(name: string): IdpGroup | undefined;
  addGroup(name: string): IdpGroup;
  renameGroup(from: string, to: string): IdpGroup;
  removeGroup(name: string): void;
  /** Points the tenant's SCIM client at a server (Okta or Entra wire format); see scim-client.ts. */
  configureScim(config: ScimConfigInput): ScimStatus;
  disableScim(): void;
  scimStatus(): ScimStatus | null;
  setScimAutoPush(autoPush: boolean): void;
  /** Full reconcile ("Push Now"): look up every assigned user and pushed group, create or update, deactivate. */
  scimPushAll(): Promise<ScimPushSummary>;
  /** Resolves once every queued push has finished. */
  scimIdle(): Promise<void>;
  /** Every SCIM request sent, oldest first. */
  scimLog(): ScimRequestRecord[];
  scimErrors(): ScimError[];
  /** Forgets the log and the errors (not the links to pushed resources). */
  clearScimLog(): void;
}

export interface IdpSimulator {
  readonly host: string;
  readonly port: number;
  /** Where the server listens, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  /** The base of every published identifier (issuerBase, or url). */
  readonly baseUrl: string;
  /** The JSON API root, `<url>/api`. */
  readonly apiUrl: string;
  createTenant(options: CreateTenantOptions): Promise<IdpTenant>;
  /** Throws when there is no such tenant. */
  tenant(tenantId: string): IdpTenant;
  tenants(): TenantInfo[];
  removeTenant(tenantId: string): void;
  samlLoginResponse(tenantId: string, options: SamlResponseOptions): SamlPost;
  registerOidcClient(tenantId: string, client: OidcClientInput): void;
  followSamlRedirect(url: string, options?: FollowSamlOptions): Promise<SamlFormPost>;
  followOidcAuthorization(url: string, options: FollowOidcOptions): Promise<URL>;
  close(): Promise<void>;
}

const groupsSchema = z.object({ groups: z.array(z.string()) }).strict();
const loginAsSchema = z.object({ email: z.string().min(1).nullable() }).strict();

// Paths under the root that are not tenants.
const RESERVED_IDS = new Set(['api', 'healthz']);

function formatHost(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}

function bindTenant(tenant: Tenant): IdpTenant {
  return {
    id: tenant.id,
    preset: tenant.preset,
    ...tenant.urls,
    info: () => tenant.info(),
    addUser: (user) => tenant.addUser(user),
    updateUser: (email, patch) => tenant.updateUser(email, patch),
    removeUser: (email) => tenant.removeUser(email),
    setGroups: (email, groups) => tenant.setGroups(email, groups),
    user: (email) => tenant.getUser(email),
    users: () => tenant.listUsers(),
    setLoginAs: (email) => tenant.setLoginAs(email),
    update: (settings) => tenant.update(settings),
    setSamlFaults: (faults) => tenant.setSamlFaults(faults),
    setOidcFaults: (faults) => tenant.setOidcFaults(faults),
    registerServiceProvider: (sp) => tenant.registerServiceProvider(sp),
    registerOidcClient: (client) => tenant.registerOidcClient(client),
    metadataXml: () => tenant.metadataXml(),
    signingCertificates: () => tenant.signingCertificates(),
    rotateSigningKey: (options) => tenant.rotateSigningKey(options),
    samlLoginResponse: (options) => tenant.samlLoginResponse(options),
    authnRequests: () => tenant.authnRequests(),
    launchUrlFor: (target = {}) => {
      const url = new URL(tenant.urls.launchUrl);
      if (target.acsUrl) url.searchParams.set('acs', target.acsUrl);
      if (target.audience) url.searchParams.set('audience', target.audience);
      if (target.relayState !== undefined) url.searchParams.set('RelayState', target.relayState);
      return url.href;
    },
    assignUser: (email, assigned) => tenant.assignUser(email, assigned),
    groups: () => tenant.listGroups(),
    group: (name) => tenant.getGroup(name),
    addGroup: (name) => tenant.addGroup(name),
    renameGroup: (from, to) => tenant.renameGroup(from, to),
    removeGroup: (name) => tenant.removeGroup(name),
    configureScim: (config) => tenant.configureScim(config),
    disableScim: () => tenant.disableScim(),
    scimStatus: () => tenant.scimStatus(),
    setScimAutoPush: (autoPush) => tenant.setScimAutoPush(autoPush),
    scimPushAll: () => tenant.scimPushAll(),
    scimIdle: () => tenant.scimIdle(),
    scimLog: () => tenant.scimLog(),
    scimErrors: () => tenant.scimErrors(),
    clearScimLog: () => tenant.clearScimLog(),
  };
}

export async function startIdpSimulator(options: IdpSimulatorOptions = {}): Promise<IdpSimulator> {
  const host = options.host ?? '127.0.0.1';
  const tenants = new Map<string, Tenant>();
  const reserved = new Set<string>();
  // One key outside every metadata, for the signWithUnknownKey fault; made once, it is never trusted.
  const unknownKey = await generateSigningKey('unknown-signer.example');

  let baseUrl = '';
  const requireTenant = (tenantId: string): Tenant => {
    const tenant = tenants.get(tenantId);
    if (!tenant) throw new NotFoundError(`no tenant ${tenantId}`);
    return tenant;
  };

  const createTenant = async (input: CreateTenantOptions): Promise<Tenant> => {
    const parsed = createTenantSchema.parse(input);
    let id = parsed.tenantId;
    if (id === undefined) {
      id = parsed.preset;
      for (let n = 2; tenants.has(id) || reserved.has(id); n++) id = `${parsed.preset}-${n}`;
    } else if (tenants.has(id) || reserved.has(id) || RESERVED_IDS.has(id)) {
      throw new TypeError(`tenant id ${id} is taken`);
    }
    // Reserved before the key generation awaits, so two concurrent creations cannot pick the same id.
    reserved.add(id);
    try {
      const tenant = await Tenant.create(id, baseUrl, unknownKey, parsed);
      tenants.set(id, tenant);
      return tenant;
    } finally {
      reserved.delete(id);
    }
  };

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => sendError(req, res, err));
  });

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter((part) => part !== '');
    const [first] = parts;
    if (first === 'healthz' && parts.length === 1) {
      sendJson(res, 200, { ok: true });
      return;
    }
    if (first === 'api') {
      await routeApi(req, res, parts.slice(1).map(decodeSegment));
      return;
    }
    const tenant = first === undefined ? undefined : tenants.get(first);
    if (!tenant) throw new HttpError(404, 'unknown_tenant', `no tenant at ${url.pathname}`);
    if (parts[1] === 'oidc') {
      await tenant.oidc.handle(req, res);
      return;
    }
    await routeTenant(tenant, req, res, url, parts.slice(1).join('/'));
  };

  // ---- browser-facing SAML endpoints ----

  const routeTenant = async (
    tenant: Tenant,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    path: string,
  ): Promise<void> => {
    const method = req.method ?? 'GET';
    if (path === 'saml/metadata' && method === 'GET') {
      sendXml(res, tenant.metadataXml());
    } else if (path === 'saml/sso' && (method === 'GET' || method === 'POST')) {
      await singleSignOn(tenant, req, res, url);
    } else if (path === 'saml/login' && method === 'POST') {
      await formLogin(tenant, req, res);
    } else if (path === 'saml/launch' && method === 'GET') {
      launch(tenant, res, url);
    } else if (path === 'app' && method === 'GET') {
      // The app tile in the IdP's dashboard: with a login URL set it just opens the SP's page (the SP then
      // starts SP-initiated SSO), otherwise it posts an unsolicited response.
      redirect(res, tenant.settings.appLoginUrl ?? tenant.urls.launchUrl);
    } else {
      throw new HttpError(404, 'not_found', `no route ${method} ${url.pathname}`);
    }
  };

  const answerWith = (tenant: Tenant, res: http.ServerResponse, options: SamlResponseOptions): void => {
    const post = tenant.samlLoginResponse(options);
    sendHtml(
      res,
      200,
      autoPostForm(post.acsUrl, { SAMLResponse: post.SAMLResponse, RelayState: post.RelayState }),
    );
  };

  const showLoginForm = (
    tenant: Tenant,
    res: http.ServerResponse,
    key: string,
    status = 200,
    error?: string,
  ) => {
    sendHtml(res, status, loginForm(`/${tenant.id}/saml/login`, { pending: key }, error));
  };

  const singleSignOn = async (
    tenant: Tenant,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
  ): Promise<void> => {
    const post = req.method === 'POST';
    const params = post ? await readForm(req) : url.searchParams;
    const encoded = params.get('SAMLRequest');
    if (!encoded) throw new HttpError(400, 'missing_saml_request', 'SAMLRequest is missing');
    const relayState = params.get('RelayState') ?? undefined;
    const request = parseAuthnRequest(encoded, post ? 'post' : 'redirect', {
      ...(relayState === undefined ? {} : { relayState }),
      signed: params.has('Signature'),
    });
    tenant.recordAuthnRequest(request);
    let target: { acsUrl: string; audience: string };
    try {
      target = tenant.destinationFor(request);
    } catch (err) {
      throw new HttpError(400, 'unknown_destination', (err as Error).message);
    }
    const login = { request, ...target, ...(relayState === undefined ? {} : { relayState }) };
    const user = tenant.loginAsUser();
    // Like an IdP with a live session: a "login as" user is signed in without a page (ForceAuthn included).
    if (user) answerWith(tenant, res, { requestId: request.id, ...target, email: user.email, relayState });
    else showLoginForm(tenant, res, tenant.parkLogin(login));
  };

  const formLogin = async (
    tenant: Tenant,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> => {
    const form = await readForm(req);
    const key = form.get('pending') ?? '';
    const login = tenant.parkedLogin(key);
    if (!login) throw new HttpError(400, 'login_expired', 'this sign-in page has expired; start again');
    const email = form.get('email')?.trim() ?? '';
    if (!tenant.hasUser(email)) {
      showLoginForm(tenant, res, key, 401, 'No such user at this identity provider.');
      return;
    }
    tenant.consumeParkedLogin(key);
    answerWith(tenant, res, {
      ...(login.request ? { requestId: login.request.id } : {}),
      acsUrl: login.acsUrl,
      audience: login.audience,
      email,
      relayState: login.relayState,
    });
  };

  const launch = (tenant: Tenant, res: http.ServerResponse, url: URL): void => {
    const sp = tenant.defaultServiceProvider();
    const acsUrl = url.searchParams.get('acs') ?? sp?.acsUrl;
    const audience = url.searchParams.get('audience') ?? sp?.entityId;
    if (!acsUrl || !audience) {
      throw new HttpError(
        400,
        'no_service_provider',
        'pass acs and audience, or register a service provider',
      );
    }
    const relayState = url.searchParams.get('RelayState') ?? undefined;
    const user = tenant.loginAsUser();
    if (user) answerWith(tenant, res, { acsUrl, audience, email: user.email, relayState });
    else {
      const key = tenant.parkLogin({ acsUrl, audience, ...(relayState === undefined ? {} : { relayState }) });
      showLoginForm(tenant, res, key);
    }
  };

  // ---- JSON API ----
  // Same operations as the in-process handles, for a simulator running in another process:
  //   GET|POST        /api/tenants                               list | create (CreateTenantOptions)
  //   GET|PATCH|DELETE /api/tenants/:t                           info | settings (SettingsPatch) | remove
  //   GET|POST        /api/tenants/:t/users                      list | add (UserInput)
  //   GET|PATCH|DELETE /api/tenants/:t/users/:email              one | update (UserPatch) | remove
  //   PUT             /api/tenants/:t/users/:email/groups        { groups }
  //   PUT             /api/tenants/:t/login-as                   { email | null }
  //   PUT             /api/tenants/:t/saml-faults | oidc-faults  SamlFaults | OidcFaults ({} clears)
  //   GET             /api/tenants/:t/signing-keys               { certificates }
  //   POST            /api/tenants/:t/signing-keys/rotate        { keepOld } -> RotatedSigningKey
  //   POST            /api/tenants/:t/service-providers          { entityId, acsUrl }
  //   POST            /api/tenants/:t/oidc-clients               OidcClientInput
  //   POST            /api/tenants/:t/saml-responses             SamlResponseOptions -> SamlPost
  //   GET             /api/tenants/:t/authn-requests             { requests }
  //   PUT             /api/tenants/:t/users/:email/assigned      { assigned } (assignment to the SSO app)
  //   GET|POST        /api/tenants/:t/groups                     { groups } | add { name }
  //   PATCH|DELETE    /api/tenants/:t/groups/:name               rename { name } | remove
  //   GET|PUT|DELETE  /api/tenants/:t/scim                       status | configure (ScimConfigInput) | disable
  //   PUT             /api/tenants/:t/scim/auto-push             { autoPush }
  //   POST            /api/tenants/:t/scim/push                  "Sync now": full push -> ScimPushSummary
  //   GET             /api/tenants/:t/scim/log | scim/errors     { requests } | { errors }, once pushes are idle
  //   DELETE          /api/tenants/:t/scim/log                   clears the log and the errors

  const routeApi = async (req: http.IncomingMessage, res: http.ServerResponse, parts: string[]) => {
    const method = req.method ?? 'GET';
    const [resource, tenantId, sub, subId, subSub] = parts;
    if (resource !== 'tenants') throw new HttpError(404, 'not_found', `no API route /${parts.join('/')}`);
    const body = async <T>() => (await readJson(req)) as T;

    if (tenantId === undefined) {
      if (method === 'GET')
        return sendJson(res, 200, { tenants: [...tenants.values()].map((t) => t.info()) });
      if (method === 'POST')
        return sendJson(res, 201, (await createTenant(await body<CreateTenantOptions>())).info());
      throw methodNotAllowed(method);
    }
    const tenant = requireTenant(tenantId);

    if (sub === undefined) {
      if (method === 'GET') return sendJson(res, 200, tenant.info());
      if (method === 'PATCH') {
        tenant.update(await body<SettingsPatch>());
        return sendJson(res, 200, tenant.info());
      }
      if (method === 'DELETE') {
        tenants.delete(tenant.id);
        return sendJson(res, 200, { removed: tenant.id });
      }
      throw methodNotAllowed(method);
    }

    switch (sub) {
      case 'users': {
        if (subId === undefined) {
          if (method === 'GET') return sendJson(res, 200, { users: tenant.listUsers() });
          if (method === 'POST') return sendJson(res, 201, tenant.addUser(await body<UserInput>()));
          throw methodNotAllowed(method);
        }
        if (subSub === 'groups' && method === 'PUT') {
          const { groups } = groupsSchema.parse(await readJson(req));
          return sendJson(res, 200, tenant.setGroups(subId, groups));
        }
        if (subSub === 'assigned' && method === 'PUT') {
          const { assigned } = assignedSchema.parse(await readJson(req));
          return sendJson(res, 200, tenant.assignUser(subId, assigned));
        }
        if (subSub !== undefined) break;
        if (method === 'GET') {
          const user = tenant.getUser(subId);
          if (!user) throw new NotFoundError(`no user ${subId}`);
          return sendJson(res, 200, user);
        }
        if (method === 'PATCH' || method === 'PUT') {
          return sendJson(res, 200, tenant.updateUser(subId, await body<UserPatch>()));
        }
        if (method === 'DELETE') {
          tenant.removeUser(subId);
          return sendJson(res, 200, { removed: subId });
        }
        throw methodNotAllowed(method);
      }
      case 'login-as':
        if (method !== 'PUT') throw methodNotAllowed(method);
        tenant.setLoginAs(loginAsSchema.parse(await readJson(req)).email);
        return sendJson(res, 200, { loginAs: tenant.settings.loginAs });
      case 'saml-faults':
        if (method !== 'PUT') throw methodNotAllowed(method);
        tenant.setSamlFaults(await body<SamlFaults>());
        return sendJson(res, 200, { samlFaults: tenant.settings.samlFaults });
      case 'oidc-faults':
        if (method !== 'PUT') throw methodNotAllowed(method);
        tenant.setOidcFaults(await body<OidcFaults>());
        return sendJson(res, 200, { oidcFaults: tenant.settings.oidcFaults });
      case 'signing-keys':
        if (subId === undefined && method === 'GET') {
          return sendJson(res, 200, { certificates: tenant.signingCertificates() });
        }
        if (subId === 'rotate' && method === 'POST') {
          return sendJson(res, 200, await tenant.rotateSigningKey(await body<RotateSigningKeyOptions>()));
        }
        break;
      case 'service-providers':
        if (method !== 'POST') throw methodNotAllowed(method);
        tenant.registerServiceProvider(await body<ServiceProviderInput>());
        return sendJson(res, 201, { serviceProviders: tenant.info().serviceProviders });
      case 'oidc-clients':
        if (method !== 'POST') throw methodNotAllowed(method);
        tenant.registerOidcClient(await body<OidcClientInput>());
        return sendJson(res, 201, { oidcClients: tenant.oidc.clientIds() });
      case 'saml-responses':
        if (method !== 'POST') throw methodNotAllowed(method);
        return sendJson(res, 200, tenant.samlLoginResponse(await body<SamlResponseOptions>()));
      case 'authn-requests':
        if (method !== 'GET') throw methodNotAllowed(method);
        return sendJson(res, 200, { requests: tenant.authnRequests() });
      case 'groups': {
        if (subSub !== undefined) break;
        if (subId === undefined) {
          if (method === 'GET') return sendJson(res, 200, { groups: tenant.listGroups() });
          if (method === 'POST') {
            return sendJson(res, 201, tenant.addGroup(groupNameSchema.parse(await readJson(req)).name));
          }
          throw methodNotAllowed(method);
        }
        if (method === 'GET') {
          const group = tenant.getGroup(subId);
          if (!group) throw new NotFoundError(`no group ${subId}`);
          return sendJson(res, 200, group);
        }
        if (method === 'PATCH') {
          return sendJson(
            res,
            200,
            tenant.renameGroup(subId, groupNameSchema.parse(await readJson(req)).name),
          );
        }
        if (method === 'DELETE') {
          tenant.removeGroup(subId);
          return sendJson(res, 200, { removed: subId });
        }
        throw methodNotAllowed(method);
      }
      case 'scim':
        return routeScim(tenant, req, res, method, subId, subSub);
    }
    throw new HttpError(404, 'not_found', `no API route /${parts.join('/')}`);
  };

  const routeScim = async (
    tenant: Tenant,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    action: string | undefined,
    extra: string | undefined,
  ): Promise<void> => {
    if (extra !== undefined)
      throw new HttpError(404, 'not_found', `no API route for scim/${action}/${extra}`);
    switch (action) {
      case undefined: {
        if (method === 'GET') return sendJson(res, 200, { scim: tenant.scimStatus() });
        if (method === 'PUT') {
          return sendJson(res, 200, { scim: tenant.configureScim((await readJson(req)) as ScimConfigInput) });
        }
        if (method === 'DELETE') {
          tenant.disableScim();
          return sendJson(res, 200, { scim: null });
        }
        throw methodNotAllowed(method);
      }
      case 'auto-push':
        if (method !== 'PUT') throw methodNotAllowed(method);
        tenant.setScimAutoPush(scimAutoPushSchema.parse(await readJson(req)).autoPush);
        return sendJson(res, 200, { scim: tenant.scimStatus() });
      case 'push':
        if (method !== 'POST') throw methodNotAllowed(method);
        return sendJson(res, 200, await tenant.scimPushAll());
      case 'log':
        if (method === 'GET') {
          await tenant.scimIdle();
          return sendJson(res, 200, { requests: tenant.scimLog() });
        }
        if (method === 'DELETE') {
          tenant.clearScimLog();
          return sendJson(res, 200, { requests: [] });
        }
        throw methodNotAllowed(method);
      case 'errors':
        if (method !== 'GET') throw methodNotAllowed(method);
        await tenant.scimIdle();
        return sendJson(res, 200, { errors: tenant.scimErrors() });
    }
    throw new HttpError(404, 'not_found', `no API route for scim/${action}`);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as net.AddressInfo;
  const url = `http://${formatHost(host)}:${port}`;
  baseUrl = (options.issuerBase ?? url).replace(/\/+$/, '');

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url,
    baseUrl,
    apiUrl: `${url}/api`,
    createTenant: async (opts) => bindTenant(await createTenant(opts)),
    tenant: (tenantId) => bindTenant(requireTenant(tenantId)),
    tenants: () => [...tenants.values()].map((tenant) => tenant.info()),
    removeTenant: (tenantId) => {
      tenants.delete(requireTenant(tenantId).id);
    },
    samlLoginResponse: (tenantId, opts) => requireTenant(tenantId).samlLoginResponse(opts),
    registerOidcClient: (tenantId, client) => requireTenant(tenantId).registerOidcClient(client),
    followSamlRedirect,
    followOidcAuthorization,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'invalid_path', 'path is not valid URL encoding');
  }
}

/** oidc-provider's errors (e.g. an expired interaction) carry the spec's code and an HTTP status. */
function isOidcError(err: unknown): err is Error & { status: number; error: string } {
  const candidate = err as { status?: unknown; error?: unknown } | undefined;
  return typeof candidate?.status === 'number' && typeof candidate.error === 'string';
}

function methodNotAllowed(method: string): HttpError {
  return new HttpError(405, 'method_not_allowed', `${method} is not supported here`);
}

function sendError(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
  let status = 500;
  let code = 'internal_error';
  let message = err instanceof Error ? err.message : String(err);
  let issues: unknown;
  if (err instanceof HttpError) ({ status, code } = err);
  else if (err instanceof SamlRequestError) [status, code] = [400, err.code];
  else if (err instanceof NotFoundError) [status, code] = [404, 'not_found'];
  else if (err instanceof ZodError) {
    [status, code, issues] = [400, 'invalid_input', err.issues];
    message = err.issues.map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`).join('; ');
  } else if (err instanceof TypeError) [status, code] = [400, 'invalid_input'];
  else if (isOidcError(err)) [status, code] = [err.status, err.error];
  else console.error('IdP simulator error', err);
  if (res.headersSent) {
    res.end();
    return;
  }
  // Browsers get a page, API callers JSON; both carry the same stable code.
  const path = req.url ?? '';
  if (path.startsWith('/api/') || path === '/api') sendJson(res, status, { error: code, message, issues });
  else sendHtml(res, status, errorPage(code, message));
}
