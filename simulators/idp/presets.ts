// What makes each simulated IdP product look like itself on the wire: attribute names, NameID choice, XML
// namespace style, subject identifier shape. The service provider must cope with all of these differences.
import { createHash, randomBytes, randomInt } from 'node:crypto';

export const PRESETS = ['okta', 'google-workspace', 'entra-id', 'generic', 'google'] as const;
export type Preset = (typeof PRESETS)[number];

export function isPreset(value: unknown): value is Preset {
  return typeof value === 'string' && (PRESETS as readonly string[]).includes(value);
}

export const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
export const NAMEID_PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
export const ATTRNAME_BASIC = 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
export const ATTRNAME_URI = 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri';

/** The SAML attribute names a tenant sends; a tenant may override any of them. */
export interface AttributeNames {
  email: string;
  firstName: string;
  lastName: string;
  groups: string;
}

/**
 * How a product writes its XML. Prefixes differ between vendors (Okta `saml2p:`, Entra default namespaces),
 * and an SP that matches on prefixes instead of namespaces breaks on one of them.
 */
export interface Dialect {
  /** '' means a default namespace declaration instead of a prefix. */
  protocolPrefix: string;
  assertionPrefix: string;
  signaturePrefix: string;
  /** Whether AttributeValue carries xsi:type="xs:string" (Okta, Google) or is plain text (Entra). */
  typedValues: boolean;
}

export interface PresetDefinition {
  attributes: AttributeNames;
  /** NameFormat written on each Attribute; Entra writes none. */
  nameFormat?: string;
  /** FriendlyName per attribute key, for IdPs that follow the SAML X.500/LDAP attribute profile. */
  friendlyNames?: Partial<AttributeNames>;
  /** 'email': NameID is the e-mail; 'persistent': NameID is the opaque subject and e-mail is an attribute. */
  nameId: 'email' | 'persistent';
  dialect: Dialect;
  /** A fresh subject identifier in the product's own shape. */
  newSubject(): string;
  /** Whether the OIDC ID token may carry a groups claim (Google never sends one). */
  oidcGroups: boolean;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += BASE62[randomInt(BASE62.length)];
  return out;
}

function googleSubject(): string {
  // Google subjects are 21-digit decimal strings.
  let out = String(1 + randomInt(9));
  for (let i = 1; i < 21; i++) out += String(randomInt(10));
  return out;
}

const ENTRA_CLAIMS = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims';

const GOOGLE_STYLE: Omit<PresetDefinition, 'newSubject' | 'oidcGroups'> = {
  // Google Workspace sends no attributes by default: the admin maps directory fields to app attribute names
  // of the SP's choosing. These are the names our setup guide asks for; groups come from "Group membership".
  attributes: { email: 'email', firstName: 'first_name', lastName: 'last_name', groups: 'groups' },
  nameFormat: ATTRNAME_BASIC,
  nameId: 'email',
  dialect: { protocolPrefix: 'saml2p', assertionPrefix: 'saml2', signaturePrefix: 'ds', typedValues: true },
};

export const PRESET_DEFINITIONS: Record<Preset, PresetDefinition> = {
  okta: {
    // Okta's attribute statements as its SAML app wizard suggests them, and the "groups" Group Attribute
    // Statement with a "Starts with" filter.
    attributes: { email: 'email', firstName: 'firstName', lastName: 'lastName', groups: 'groups' },
    nameFormat: ATTRNAME_BASIC,
    nameId: 'email',
    dialect: { protocolPrefix: 'saml2p', assertionPrefix: 'saml2', signaturePrefix: 'ds', typedValues: true },
    // Okta user ids: "00u" and 17 base62 characters.
    newSubject: () => `00u${base62(17)}`,
    oidcGroups: true,
  },
  'google-workspace': { ...GOOGLE_STYLE, newSubject: googleSubject, oidcGroups: false },
  google: { ...GOOGLE_STYLE, newSubject: googleSubject, oidcGroups: false },
  'entra-id': {
    attributes: {
      email: `${ENTRA_CLAIMS}/emailaddress`,
      firstName: `${ENTRA_CLAIMS}/givenname`,
      lastName: `${ENTRA_CLAIMS}/surname`,
      groups: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
    },
    nameId: 'persistent',
    dialect: { protocolPrefix: '', assertionPrefix: '', signaturePrefix: '', typedValues: false },
    // Entra's persistent NameID is a pairwise opaque value, 43 base64 characters.
    newSubject: () => randomBytes(32).toString('base64').slice(0, 43),
    oidcGroups: true,
  },
  generic: {
    // A standards-minded IdP (Shibboleth, SimpleSAMLphp, Keycloak with the LDAP profile): OID names per the
    // SAML X.500/LDAP attribute profile, with FriendlyName; groups as eduPerson isMemberOf.
    attributes: {
      email: 'urn:oid:0.9.2342.19200300.100.1.3',
      firstName: 'urn:oid:2.5.4.42',
      lastName: 'urn:oid:2.5.4.4',
      groups: 'urn:oid:1.3.6.1.4.1.5923.1.5.1.1',
    },
    nameFormat: ATTRNAME_URI,
    friendlyNames: { email: 'mail', firstName: 'givenName', lastName: 'sn', groups: 'isMemberOf' },
    nameId: 'email',
    dialect: { protocolPrefix: 'samlp', assertionPrefix: 'saml', signaturePrefix: 'ds', typedValues: true },
    newSubject: () => `u-${randomBytes(12).toString('hex')}`,
    oidcGroups: true,
  },
};

/** Entra's extra claims: the UPN in `name` and, on group overage, the Graph link instead of the groups. */
export const ENTRA_NAME_CLAIM = `${ENTRA_CLAIMS}/name`;
export const ENTRA_GROUPS_LINK_CLAIM = 'http://schemas.microsoft.com/claims/groups.link';

/** A stable GUID per subject, for places where Entra shows object ids. */
export function guidFor(value: string): string {
  const hex = createHash('sha256').update(value).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
