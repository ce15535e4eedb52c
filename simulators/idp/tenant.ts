// One simulated IdP organisation (an Okta org, a Google Workspace, an Entra tenant...): its users and groups,
// signing keys and their rotation, settings and fault switches, the SAML responses it issues and the OIDC
// provider it runs. HTTP routing lives in idp-simulator.ts; this file holds the tenant's state and rules.
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { AuthnRequestInfo } from './authn-request.js';
import { escapeXml } from './html.js';
import { generateSigningKey, type SigningKey } from './keys.js';
import { OidcTenant, type OidcClientInput, type OidcFaults } from './oidc.js';
import {
  ENTRA_GROUPS_LINK_CLAIM,
  ENTRA_NAME_CLAIM,
  NAMEID_EMAIL,
  NAMEID_PERSISTENT,
  PRESET_DEFINITIONS,
  guidFor,
  type AttributeNames,
  type Preset,
  type PresetDefinition,
} from './presets.js';
import {
  DOCTYPE_PREFIX,
  assertionXml,
  hideSignedAssertionInSignatureObject,
  insertCommentInText,
  responseXml,
  signElement,
  type AssertionContent,
  type SamlAttribute,
} from './saml-response.js';
import {
  ScimClient,
  type ScimError,
  type ScimPushSummary,
  type ScimRequestRecord,
  type ScimStatus,
} from './scim-client.js';
import {
  assignedSchema,
  groupNameSchema,
  oidcClientSchema,
  oidcFaultsSchema,
  rotateSchema,
  samlFaultsSchema,
  scimConfigSchema,
  samlResponseOptionsSchema,
  serviceProviderSchema,
  settingsPatchSchema,
  userInputSchema,
  userPatchSchema,
  type CreateTenantOptions,
  type RotateSigningKeyOptions,
  type SamlFaults,
  type ScimConfigInput,
  type SamlResponseOptions,
  type ServiceProviderInput,
  type SettingsPatch,
  type TenantSettings,
  type UserInput,
  type UserPatch,
} from './schemas.js';

export interface IdpUser {
  subject: string;
  /** As given: IdPs send mixed-case e-mails (Entra does), so the SP must normalise, not the simulator. */
  email: string;
  firstName: string;
  lastName: string;
  groups: string[];
  emailVerified: boolean;
  hostedDomain?: string;
  /** Assigned to the SSO application: what SCIM provisions. Unassigning deprovisions (deactivates). */
  assigned: boolean;
}

/** A group of the tenant: every group a user has, plus empty ones added explicitly. */
export interface IdpGroup {
  /** Stable across renames (Okta "00g..." ids, GUIDs elsewhere); Entra sends it as the SCIM externalId. */
  id: string;
  name: string;
  /** E-mails of the users in the group, assigned to the app or not. */
  members: string[];
}

/** The fields a browser would POST to the ACS. */
export interface SamlFormPost {
  acsUrl: string;
  SAMLResponse: string;
  RelayState?: string;
}

export interface SamlPost extends SamlFormPost {
  responseId: string;
  /** The first Assertion's ID (the signed one, for wrapping variants). */
  assertionId: string;
  /** The decoded Response XML, exactly the bytes inside SAMLResponse. */
  xml: string;
}

export interface TenantUrls {
  entityId: string;
  metadataUrl: string;
  ssoUrl: string;
  launchUrl: string;
  /** The app tile: redirects to appLoginUrl when set, else starts IdP-initiated SSO. */
  appUrl: string;
  oidcIssuer: string;
}

export interface TenantInfo extends TenantUrls {
  id: string;
  preset: Preset;
  settings: TenantSettings;
  /** PEM certificates currently in metadata, the active (signing) one first. */
  signingCertificates: string[];
  serviceProviders: ServiceProviderInput[];
  oidcClients: string[];
}

export interface RotatedSigningKey {
  certificatePem: string;
  privateKeyPem: string;
  /** Every certificate now in metadata, the new one first. */
  publishedCertificates: string[];
}

interface PendingLogin {
  request?: AuthnRequestInfo;
  acsUrl: string;
  audience: string;
  relayState?: string;
  expiresAt: number;
}

const MINUTE_MS = 60_000;
const DEFAULT_GROUP_PREFIX = 'anthropic-';
// Bounds on what a long-running simulator remembers; tests only ever look at recent entries.
const MAX_ISSUED = 500;
const MAX_REQUESTS = 500;
const MAX_PENDING = 1000;
const PENDING_TTL_MS = 10 * MINUTE_MS;
const FAULT_VALUES = {
  audience: 'https://wrong-audience.example/sp',
  recipient: 'https://wrong-recipient.example/acs',
  destination: 'https://wrong-destination.example/acs',
  issuer: 'https://wrong-issuer.example/saml',
  commentSuffix: '.evil.com',
};

export class NotFoundError extends Error {}

function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function newId(): string {
  // IDs are xs:ID, so they must not start with a digit.
  return `_${randomBytes(20).toString('hex')}`;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function newGroupId(preset: Preset): string {
  if (preset !== 'okta') return randomUUID();
  // Okta group ids: "00g" and 17 base62 characters.
  let out = '00g';
  for (let i = 0; i < 17; i++) out += BASE62[randomInt(BASE62.length)];
  return out;
}

function capitalise(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1);
}

function pick<T>(value: boolean | string | undefined, fallback: T, fault: string): T | string {
  if (value === undefined || value === false) return fallback;
  return value === true ? fault : value;
}

function remember<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.set(key, value);
  if (map.size > max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}

export class Tenant {
  private readonly definition: PresetDefinition;
  private readonly users = new Map<string, IdpUser>();
  /** Group name -> stable group id, in order of first appearance. */
  private readonly groupIds = new Map<string, string>();
  private scim: ScimClient | undefined;
  private readonly serviceProviders = new Map<string, ServiceProviderInput>();
  private readonly issued = new Map<string, SamlPost>();
  private lastIssuedId: string | undefined;
  private readonly requests: AuthnRequestInfo[] = [];
  private readonly pending = new Map<string, PendingLogin>();
  readonly oidc: OidcTenant;
  settings: TenantSettings;

  private constructor(
    readonly id: string,
    readonly preset: Preset,
    readonly urls: TenantUrls,
    /** Active key first; the rest are still published in metadata. */
    private signingKeys: SigningKey[],
    private readonly unknownKey: SigningKey,
    options: CreateTenantOptions,
  ) {
    this.definition = PRESET_DEFINITIONS[preset];
    // Routed by the local path: issuerBase may change scheme, host and port, but the server's paths stay.
    this.oidc = new OidcTenant(urls.oidcIssuer, `/${id}/oidc`, {
      findBySubject: (subject) => this.userBySubject(subject),
      findByEmail: (email) => this.users.get(normalizeEmail(email)),
      loginAs: () => this.loginAsUser(),
      claims: (subject) => this.oidcClaims(subject),
      faults: () => this.settings.oidcFaults,
    });
    this.settings = {
      loginAs: null,
      groupPrefix: options.groupPrefix ?? DEFAULT_GROUP_PREFIX,
      omitGroups: options.omitGroups ?? false,
      appLoginUrl: options.appLoginUrl ?? null,
      signResponse: options.signResponse ?? false,
      attributeNames: { ...this.definition.attributes, ...options.attributeNames },
      samlFaults: {},
      oidcFaults: {},
    };
  }

  static async create(
    id: string,
    baseUrl: string,
    unknownKey: SigningKey,
    options: CreateTenantOptions,
  ): Promise<Tenant> {
    const root = `${baseUrl}/${id}`;
    const urls: TenantUrls = {
      entityId: `${root}/saml`,
      metadataUrl: `${root}/saml/metadata`,
      ssoUrl: `${root}/saml/sso`,
      launchUrl: `${root}/saml/launch`,
      appUrl: `${root}/app`,
      oidcIssuer: `${root}/oidc`,
    };
    const key = await generateSigningKey(urls.entityId, toValidity(options.certificateValidity));
    const tenant = new Tenant(id, options.preset, urls, [key], unknownKey, options);
    for (const user of options.users ?? []) tenant.addUser(user);
    if (options.loginAs) tenant.setLoginAs(options.loginAs);
    if (options.serviceProvider) tenant.registerServiceProvider(options.serviceProvider);
    return tenant;
  }

  info(): TenantInfo {
    return {
      id: this.id,
      preset: this.preset,
      ...this.urls,
      settings: structuredClone(this.settings),
      signingCertificates: this.signingCertificates(),
      serviceProviders: [...this.serviceProviders.values()].map((sp) => ({ ...sp })),
      oidcClients: this.oidc.clientIds(),
    };
  }

  // ---- users and groups ----

  addUser(input: UserInput): IdpUser {
    const parsed = userInputSchema.parse(input);
    const key = normalizeEmail(parsed.email);
    if (this.users.has(key)) throw new TypeError(`user ${parsed.email} already exists`);
    const subject = parsed.subject ?? this.definition.newSubject();
    if (this.userBySubject(subject)) throw new TypeError(`subject ${subject} is already taken`);
    const user: IdpUser = {
      subject,
      email: parsed.email,
      firstName: parsed.firstName ?? capitalise(parsed.email.split('@')[0] ?? ''),
      lastName: parsed.lastName ?? 'User',
      groups: [...(parsed.groups ?? [])],
      emailVerified: parsed.emailVerified ?? true,
      ...(parsed.hostedDomain ? { hostedDomain: parsed.hostedDomain } : {}),
      assigned: parsed.assigned ?? true,
    };
    this.users.set(key, user);
    this.registerGroups(user.groups);
    this.scim?.changed();
    return { ...user, groups: [...user.groups] };
  }

  /** Changes a user in place; the subject stays unless given, so an e-mail change keeps the identity. */
  updateUser(email: string, patch: UserPatch): IdpUser {
    const parsed = userPatchSchema.parse(patch);
    const user = this.requireUser(email);
    const oldKey = normalizeEmail(user.email);
    const newKey = parsed.email === undefined ? oldKey : normalizeEmail(parsed.email);
    if (newKey !== oldKey && this.users.has(newKey))
      throw new TypeError(`user ${parsed.email} already exists`);
    if (
      parsed.subject !== undefined &&
      parsed.subject !== user.subject &&
      this.userBySubject(parsed.subject)
    ) {
      throw new TypeError(`subject ${parsed.subject} is already taken`);
    }
    const hostedDomain = parsed.hostedDomain ?? user.hostedDomain;
    const updated: IdpUser = {
      subject: parsed.subject ?? user.subject,
      email: parsed.email ?? user.email,
      firstName: parsed.firstName ?? user.firstName,
      lastName: parsed.lastName ?? user.lastName,
      groups: [...(parsed.groups ?? user.groups)],
      emailVerified: parsed.emailVerified ?? user.emailVerified,
      ...(hostedDomain ? { hostedDomain } : {}),
      assigned: parsed.assigned ?? user.assigned,
    };
    this.users.delete(oldKey);
    this.users.set(normalizeEmail(updated.email), updated);
    if (this.settings.loginAs !== null && normalizeEmail(this.settings.loginAs) === oldKey) {
      this.settings.loginAs = updated.email;
    }
    this.registerGroups(updated.groups);
    this.scim?.changed();
    return { ...updated, groups: [...updated.groups] };
  }

  removeUser(email: string): void {
    const key = normalizeEmail(this.requireUser(email).email);
    this.users.delete(key);
    if (this.settings.loginAs !== null && normalizeEmail(this.settings.loginAs) === key) {
      this.settings.loginAs = null;
    }
    this.scim?.changed();
  }

  setGroups(email: string, groups: string[]): IdpUser {
    return this.updateUser(email, { groups });
  }

  /** "Add users to / remove users from the SSO application in your IdP": unassigning deprovisions via SCIM. */
  assignUser(email: string, assigned: boolean): IdpUser {
    return this.updateUser(email, assignedSchema.parse({ assigned }));
  }

  listGroups(): IdpGroup[] {
    return [...this.groupIds].map(([name, id]) => this.groupInfo(name, id));
  }

  getGroup(name: string): IdpGroup | undefined {
    const id = this.groupIds.get(name);
    return id === undefined ? undefined : this.groupInfo(name, id);
  }

  /** A group with no members yet (groups also appear when a user is given one). */
  addGroup(name: string): IdpGroup {
    const parsed = groupNameSchema.parse({ name }).name;
    if (this.groupIds.has(parsed)) throw new TypeError(`group ${parsed} already exists`);
    this.registerGroups([parsed]);
    this.scim?.changed();
    return this.requireGroup(parsed);
  }

  /** Renames a group for all its members; it keeps its id, so SCIM renames it instead of re-creating it. */
  renameGroup(from: string, to: string): IdpGroup {
    const id = this.groupIds.get(from);
    if (id === undefined) throw new NotFoundError(`no group ${from} in tenant ${this.id}`);
    const name = groupNameSchema.parse({ name: to }).name;
    if (name !== from && this.groupIds.has(name)) throw new TypeError(`group ${name} already exists`);
    for (const user of this.users.values())
      user.groups = user.groups.map((group) => (group === from ? name : group));
    this.groupIds.delete(from);
    this.groupIds.set(name, id);
    this.scim?.changed();
    return this.requireGroup(name);
  }

  /** Deletes a group: its members lose it, and a pushed group is deleted from the SCIM server. */
  removeGroup(name: string): void {
    if (!this.groupIds.has(name)) throw new NotFoundError(`no group ${name} in tenant ${this.id}`);
    for (const user of this.users.values()) user.groups = user.groups.filter((group) => group !== name);
    this.groupIds.delete(name);
    this.scim?.changed();
  }

  private registerGroups(groups: string[]): void {
    for (const group of groups)
      if (!this.groupIds.has(group)) this.groupIds.set(group, newGroupId(this.preset));
  }

  private requireGroup(name: string): IdpGroup {
    const group = this.getGroup(name);
    if (!group) throw new NotFoundError(`no group ${name} in tenant ${this.id}`);
    return group;
  }

  private groupInfo(name: string, id: string): IdpGroup {
    const members = [...this.users.values()].filter((user) => user.groups.includes(name));
    return { id, name, members: members.map((user) => user.email) };
  }

  // ---- SCIM provisioning ----

  /**
   * Points this tenant's SCIM client at a server. Nothing is pushed until the next change (with auto-push)
   * or scimPushAll(); reconfiguring the same base URL and mode keeps the links to resources already pushed.
   */
  configureScim(config: ScimConfigInput): ScimStatus {
    const parsed = scimConfigSchema.parse(config);
    if (this.scim) this.scim.configure(parsed);
    else {
      this.scim = new ScimClient(
        {
          users: () => [...this.users.values()],
          groups: () => [...this.groupIds].map(([name, id]) => ({ id, name })),
        },
        parsed,
      );
    }
    return this.scim.status();
  }

  /** Stops provisioning and forgets the links (the log and errors too). */
  disableScim(): void {
    this.scim = undefined;
  }

  scimStatus(): ScimStatus | null {
    return this.scim?.status() ?? null;
  }

  /** Off: changes pile up until scimPushAll() (our "Sync now") or the next change after turning it back on. */
  setScimAutoPush(autoPush: boolean): void {
    this.requireScim().setAutoPush(autoPush);
  }

  /** A full reconcile push, queued behind pushes in flight. */
  scimPushAll(): Promise<ScimPushSummary> {
    return this.requireScim().pushAll();
  }

  /** Resolves once every queued push has finished. */
  scimIdle(): Promise<void> {
    return this.scim?.idle() ?? Promise.resolve();
  }

  scimLog(): ScimRequestRecord[] {
    return this.scim?.requests() ?? [];
  }

  scimErrors(): ScimError[] {
    return this.scim?.recordedErrors() ?? [];
  }

  clearScimLog(): void {
    this.scim?.clearLog();
  }

  private requireScim(): ScimClient {
    if (!this.scim) throw new TypeError(`SCIM is not configured for tenant ${this.id}`);
    return this.scim;
  }

  listUsers(): IdpUser[] {
    return [...this.users.values()].map((user) => ({ ...user, groups: [...user.groups] }));
  }

  getUser(email: string): IdpUser | undefined {
    const user = this.users.get(normalizeEmail(email));
    return user ? { ...user, groups: [...user.groups] } : undefined;
  }

  setLoginAs(email: string | null): void {
    this.settings.loginAs = email === null ? null : this.requireUser(email).email;
  }

  private requireUser(email: string): IdpUser {
    const user = this.users.get(normalizeEmail(email));
    if (!user) throw new NotFoundError(`no user ${email} in tenant ${this.id}`);
    return user;
  }

  private userBySubject(subject: string): IdpUser | undefined {
    for (const user of this.users.values()) if (user.subject === subject) return user;
    return undefined;
  }

  loginAsUser(): IdpUser | undefined {
    return this.settings.loginAs === null ? undefined : this.users.get(normalizeEmail(this.settings.loginAs));
  }

  /** The groups a login sends, or undefined when the attribute/claim is left out. */
  private sentGroups(user: IdpUser): string[] | undefined {
    if (this.settings.omitGroups) return undefined;
    return user.groups.filter((group) => group.startsWith(this.settings.groupPrefix));
  }

  // ---- settings ----

  update(patch: SettingsPatch): TenantSettings {
    const parsed = settingsPatchSchema.parse(patch);
    if (parsed.loginAs !== undefined) this.setLoginAs(parsed.loginAs);
    if (parsed.groupPrefix !== undefined) this.settings.groupPrefix = parsed.groupPrefix;
    if (parsed.omitGroups !== undefined) this.settings.omitGroups = parsed.omitGroups;
    if (parsed.appLoginUrl !== undefined) this.settings.appLoginUrl = parsed.appLoginUrl;
    if (parsed.signResponse !== undefined) this.settings.signResponse = parsed.signResponse;
    if (parsed.attributeNames) {
      this.settings.attributeNames = { ...this.settings.attributeNames, ...parsed.attributeNames };
    }
    if (parsed.samlFaults) this.settings.samlFaults = parsed.samlFaults;
    if (parsed.oidcFaults) this.settings.oidcFaults = parsed.oidcFaults;
    return structuredClone(this.settings);
  }

  setSamlFaults(faults: SamlFaults): void {
    this.settings.samlFaults = samlFaultsSchema.parse(faults);
  }

  setOidcFaults(faults: OidcFaults): void {
    this.settings.oidcFaults = oidcFaultsSchema.parse(faults);
  }

  // ---- service providers and OIDC clients ----

  registerServiceProvider(sp: ServiceProviderInput): void {
    const parsed = serviceProviderSchema.parse(sp);
    this.serviceProviders.set(parsed.entityId, parsed);
  }

  registerOidcClient(client: OidcClientInput): void {
    this.oidc.registerClient(oidcClientSchema.parse(client));
  }

  /**
   * Where a response to this AuthnRequest goes and for whom. A registered SP pins its ACS URL (an IdP never
   * posts assertions to a URL its admin did not configure); an unknown SP is taken at its word.
   */
  destinationFor(request: AuthnRequestInfo): { acsUrl: string; audience: string } {
    // Signed or not, a request addressed to another endpoint was meant for another IdP (saml-core 3.2.1).
    if (request.destination !== undefined && request.destination !== this.urls.ssoUrl) {
      throw new TypeError(`Destination ${request.destination} is not this IdP's SSO URL ${this.urls.ssoUrl}`);
    }
    const registered = request.issuer ? this.serviceProviders.get(request.issuer) : undefined;
    if (registered) {
      if (request.acsUrl && request.acsUrl !== registered.acsUrl) {
        throw new TypeError(
          `AssertionConsumerServiceURL ${request.acsUrl} is not the one registered for ${registered.entityId}`,
        );
      }
      return { acsUrl: registered.acsUrl, audience: registered.entityId };
    }
    if (!request.issuer) throw new TypeError('the AuthnRequest has no Issuer and no SP is registered for it');
    if (!request.acsUrl)
      throw new TypeError(`no AssertionConsumerServiceURL and ${request.issuer} is not registered`);
    return { acsUrl: request.acsUrl, audience: request.issuer };
  }

  /** The SP an app tile or a launch without parameters talks to: the only (or first) registered one. */
  defaultServiceProvider(): ServiceProviderInput | undefined {
    return this.serviceProviders.values().next().value;
  }

  // ---- keys and metadata ----

  signingCertificates(): string[] {
    return this.signingKeys.map((key) => key.certificatePem);
  }

  async rotateSigningKey(options: RotateSigningKeyOptions): Promise<RotatedSigningKey> {
    const parsed = rotateSchema.parse(options);
    const key = await generateSigningKey(this.urls.entityId, toValidity(parsed.certificateValidity));
    this.signingKeys = parsed.keepOld ? [key, ...this.signingKeys] : [key];
    return {
      certificatePem: key.certificatePem,
      privateKeyPem: key.privateKeyPem,
      publishedCertificates: this.signingCertificates(),
    };
  }

  metadataXml(): string {
    const keyDescriptors = this.signingKeys
      .map(
        (key) =>
          '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">' +
          `<ds:X509Data><ds:X509Certificate>${key.certificateBase64}</ds:X509Certificate></ds:X509Data>` +
          '</ds:KeyInfo></md:KeyDescriptor>',
      )
      .join('');
    const nameIdFormats = (
      this.definition.nameId === 'persistent' ? [NAMEID_PERSISTENT, NAMEID_EMAIL] : [NAMEID_EMAIL]
    )
      .map((format) => `<md:NameIDFormat>${format}</md:NameIDFormat>`)
      .join('');
    const sso = escapeXml(this.urls.ssoUrl);
    return (
      '<?xml version="1.0" encoding="UTF-8"?>' +
      `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${escapeXml(this.urls.entityId)}">` +
      '<md:IDPSSODescriptor WantAuthnRequestsSigned="false" ' +
      'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">' +
      keyDescriptors +
      nameIdFormats +
      `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${sso}"/>` +
      `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${sso}"/>` +
      '</md:IDPSSODescriptor></md:EntityDescriptor>'
    );
  }

  // ---- SAML ----

  recordAuthnRequest(request: AuthnRequestInfo): void {
    this.requests.push(request);
    if (this.requests.length > MAX_REQUESTS) this.requests.splice(0, this.requests.length - MAX_REQUESTS);
  }

  authnRequests(): AuthnRequestInfo[] {
    return this.requests.map((request) => ({ ...request }));
  }

  /** Parks a login until the form is posted; the key goes into the form, never the request itself. */
  parkLogin(login: Omit<PendingLogin, 'expiresAt'>): string {
    const key = randomBytes(16).toString('base64url');
    const now = Date.now();
    for (const [k, entry] of this.pending) if (entry.expiresAt <= now) this.pending.delete(k);
    remember(this.pending, key, { ...login, expiresAt: now + PENDING_TTL_MS }, MAX_PENDING);
    return key;
  }

  /** Reads a parked login; it is consumed only once a known user signs in, so a typo can be retried. */
  parkedLogin(key: string): PendingLogin | undefined {
    const entry = this.pending.get(key);
    return entry && entry.expiresAt > Date.now() ? entry : undefined;
  }

  consumeParkedLogin(key: string): void {
    this.pending.delete(key);
  }

  hasUser(email: string): boolean {
    return this.users.has(normalizeEmail(email));
  }

  samlLoginResponse(options: SamlResponseOptions): SamlPost {
    const parsed = samlResponseOptionsSchema.parse(options);
    const faults: SamlFaults = { ...this.settings.samlFaults, ...stripUndefined(parsed) };
    if (faults.replayOf) return this.replay(faults.replayOf, parsed.relayState);

    const emailToUse = parsed.email ?? this.settings.loginAs;
    if (!emailToUse) throw new TypeError(`no email given and no "login as" user set in tenant ${this.id}`);
    const user = this.requireUser(emailToUse);

    const now = Date.now();
    const shift =
      (faults.clockSkewSeconds ?? 0) * 1000 +
      (faults.expired ? -10 * MINUTE_MS : 0) +
      (faults.notYetValid ? 10 * MINUTE_MS : 0);
    const at = (offsetMs: number) => new Date(now + shift + offsetMs);
    const bounded = !faults.noTimeBounds;

    const commentSuffix = pick(faults.commentInNameId, undefined, FAULT_VALUES.commentSuffix);
    const signedEmail = commentSuffix === undefined ? user.email : user.email + commentSuffix;
    const issuer = pick(faults.wrongIssuer, this.urls.entityId, FAULT_VALUES.issuer);
    const acsUrl = parsed.acsUrl;
    const sessionIndex = newId();

    const assertionFor = (who: IdpUser, email: string): AssertionContent => ({
      id: newId(),
      issuer,
      issueInstant: at(0),
      nameId:
        this.definition.nameId === 'persistent'
          ? { format: NAMEID_PERSISTENT, value: who.subject }
          : { format: NAMEID_EMAIL, value: email },
      ...(parsed.requestId ? { inResponseTo: parsed.requestId } : {}),
      recipient: pick(faults.wrongRecipient, acsUrl, FAULT_VALUES.recipient),
      ...(bounded
        ? {
            subjectNotOnOrAfter: at(5 * MINUTE_MS),
            notBefore: at(-MINUTE_MS),
            notOnOrAfter: at(5 * MINUTE_MS),
          }
        : {}),
      audience: pick(faults.wrongAudience, parsed.audience, FAULT_VALUES.audience),
      authnInstant: at(-5000),
      sessionIndex,
      attributes: this.samlAttributes(who, email),
    });

    const dialect = this.definition.dialect;
    const signed = !faults.unsigned;
    const key = faults.signWithUnknownKey ? this.unknownKey : this.signingKeys[0];
    if (!key) throw new Error('tenant has no signing key');
    const render = (content: AssertionContent) => {
      const xml = assertionXml(content, dialect);
      return signed ? signElement(xml, content.id, key, dialect) : xml;
    };

    const main = assertionFor(user, signedEmail);
    const mainXml = render(main);
    let assertions = [mainXml];
    let extensions: string | undefined;
    if (faults.twoAssertions) assertions.push(render(assertionFor(user, signedEmail)));
    if (faults.signatureWrapping) {
      const victimEmail = faults.wrapAs ?? `admin@${user.email.split('@')[1] ?? 'example.com'}`;
      const victim = this.users.get(normalizeEmail(victimEmail)) ?? {
        ...user,
        subject: this.definition.newSubject(),
        email: victimEmail,
        firstName: 'Evil',
        lastName: 'Twin',
      };
      const evil = assertionXml(assertionFor(victim, victim.email), dialect);
      switch (faults.signatureWrapping) {
        case 'evil-assertion-before':
          assertions = [evil, mainXml];
          break;
        case 'evil-assertion-after':
          assertions = [mainXml, evil];
          break;
        case 'signed-assertion-in-extensions':
          extensions = mainXml;
          assertions = [evil];
          break;
        case 'signed-assertion-in-signature-object':
          assertions = [hideSignedAssertionInSignatureObject(mainXml, evil)];
          break;
      }
    }

    const responseId = newId();
    let xml = responseXml(
      {
        id: responseId,
        issuer,
        issueInstant: at(0),
        destination: pick(faults.wrongDestination, acsUrl, FAULT_VALUES.destination),
        ...(parsed.requestId ? { inResponseTo: parsed.requestId } : {}),
      },
      dialect,
      { assertions, ...(extensions === undefined ? {} : { extensions }) },
    );
    // A wrapping attacker edits a response after the IdP signed it, so there is no valid Response signature.
    if (signed && this.settings.signResponse && !faults.signatureWrapping) {
      xml = signElement(xml, responseId, key, dialect);
    }
    if (commentSuffix !== undefined) xml = insertCommentInText(xml, user.email, commentSuffix);
    const rootTag = dialect.protocolPrefix ? `${dialect.protocolPrefix}:Response` : 'Response';
    xml =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      (faults.doctype ? DOCTYPE_PREFIX.replace('Response', rootTag) : '') +
      xml;

    const post: SamlPost = {
      acsUrl,
      SAMLResponse: Buffer.from(xml, 'utf8').toString('base64'),
      ...(parsed.relayState === undefined ? {} : { RelayState: parsed.relayState }),
      responseId,
      assertionId: main.id,
      xml,
    };
    remember(this.issued, responseId, post, MAX_ISSUED);
    this.lastIssuedId = responseId;
    return { ...post };
  }

  private replay(ref: string, relayState: string | undefined): SamlPost {
    const id = ref === 'last' ? this.lastIssuedId : ref;
    const earlier = id === undefined ? undefined : this.issued.get(id);
    if (!earlier) throw new NotFoundError(`no earlier response ${ref} in tenant ${this.id}`);
    const { RelayState: _ignored, ...rest } = earlier;
    return { ...rest, ...(relayState === undefined ? {} : { RelayState: relayState }) };
  }

  private samlAttributes(user: IdpUser, email: string): SamlAttribute[] {
    const names: AttributeNames = this.settings.attributeNames;
    const { nameFormat, friendlyNames } = this.definition;
    const attribute = (key: keyof AttributeNames, values: string[]): SamlAttribute => ({
      name: names[key],
      ...(nameFormat ? { nameFormat } : {}),
      ...(friendlyNames?.[key] ? { friendlyName: friendlyNames[key] } : {}),
      values,
    });
    const attributes = [
      attribute('email', [email]),
      attribute('firstName', [user.firstName]),
      attribute('lastName', [user.lastName]),
    ];
    const groups = this.sentGroups(user);
    if (groups) attributes.push(attribute('groups', groups));
    if (this.preset === 'entra-id') {
      attributes.push({ name: ENTRA_NAME_CLAIM, values: [email] });
      if (!groups) {
        // What Entra sends instead of groups past its 150-group limit: a Graph link to fetch them.
        attributes.push({
          name: ENTRA_GROUPS_LINK_CLAIM,
          values: [
            `https://graph.windows.net/${guidFor(this.id)}/users/${guidFor(user.subject)}/getMemberObjects`,
          ],
        });
      }
    }
    return attributes;
  }

  // ---- OIDC ----

  private oidcClaims(subject: string): Record<string, unknown> | undefined {
    const user = this.userBySubject(subject);
    if (!user) return undefined;
    const groups = this.definition.oidcGroups ? this.sentGroups(user) : undefined;
    return {
      sub: user.subject,
      email: user.email,
      email_verified: user.emailVerified,
      given_name: user.firstName,
      family_name: user.lastName,
      name: `${user.firstName} ${user.lastName}`.trim(),
      ...(groups ? { groups } : {}),
      ...(this.preset === 'google' && user.hostedDomain ? { hd: user.hostedDomain } : {}),
    };
  }
}

function toValidity(validity: { notBefore?: Date | string; notAfter?: Date | string } | undefined) {
  if (!validity) return {};
  return {
    ...(validity.notBefore ? { notBefore: new Date(validity.notBefore) } : {}),
    ...(validity.notAfter ? { notAfter: new Date(validity.notAfter) } : {}),
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
