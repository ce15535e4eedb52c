// The simulator's public input types and their zod schemas. In-process calls and the JSON API go through the
// same schemas, so a typo in a fault name fails loudly in both instead of silently sending a valid response.
import { z } from 'zod';
import { PRESETS, type AttributeNames, type Preset } from './presets.js';
import { SIGNATURE_WRAPPING_VARIANTS, type SignatureWrappingVariant } from './saml-response.js';
import type { OidcClientInput, OidcFaults } from './oidc.js';

export interface UserInput {
  /** The IdP's stable user id (OIDC `sub`, Entra's persistent NameID). Default: a fresh one in the preset's shape. */
  subject?: string;
  email: string;
  /** Default: the e-mail's local part, capitalised. */
  firstName?: string;
  /** Default: "User". */
  lastName?: string;
  /** Every group the user belongs to; the tenant's prefix filter decides which ones are sent. */
  groups?: string[];
  /** OIDC `email_verified`; default true. */
  emailVerified?: boolean;
  /** Google's `hd` claim (Workspace domain); sent by the `google` preset only. */
  hostedDomain?: string;
  /** Assigned to the SSO application (what SCIM provisions); default true. */
  assigned?: boolean;
}

export type UserPatch = Partial<UserInput>;

export interface SamlFaults {
  /** Issued ten minutes ago: every NotOnOrAfter is five minutes in the past. */
  expired?: boolean;
  /** The IdP's clock is ten minutes ahead: NotBefore is in the future. */
  notYetValid?: boolean;
  /** Shifts every timestamp by this many seconds (a skewed IdP clock); combines with the two above. */
  clockSkewSeconds?: number;
  /** No NotBefore/NotOnOrAfter on Conditions and no NotOnOrAfter on SubjectConfirmationData. */
  noTimeBounds?: boolean;
  /** Audience is not the SP's entity ID (true: https://wrong-audience.example/sp). */
  wrongAudience?: boolean | string;
  /** SubjectConfirmationData Recipient is not the ACS URL (true: https://wrong-recipient.example/acs). */
  wrongRecipient?: boolean | string;
  /** Response Destination is not the ACS URL (true: https://wrong-destination.example/acs). */
  wrongDestination?: boolean | string;
  /** Response and Assertion Issuer are not the tenant's entity ID (true: https://wrong-issuer.example/saml). */
  wrongIssuer?: boolean | string;
  /** No signature anywhere. */
  unsigned?: boolean;
  /** Signed by a key that is not in the metadata, with that key's certificate in KeyInfo. */
  signWithUnknownKey?: boolean;
  /** Two signed assertions in one Response. */
  twoAssertions?: boolean;
  /** A DOCTYPE with internal entities before the root element. */
  doctype?: boolean;
  /**
   * The NameID/e-mail signed as `<email><suffix>` (an account the attacker may own), then delivered as
   * `<email><!----><suffix>`: the signature still verifies. true: suffix ".evil.com".
   */
  commentInNameId?: boolean | string;
  signatureWrapping?: SignatureWrappingVariant;
  /** Whom the evil assertion of a wrapping attack claims to be; default admin@<the user's domain>. */
  wrapAs?: string;
  /** Returns the exact bytes of an earlier response of this tenant: 'last' or its Response ID. */
  replayOf?: string;
}

export interface SamlResponseOptions extends SamlFaults {
  /** The AuthnRequest ID; absent for an unsolicited (IdP-initiated) response. */
  requestId?: string;
  acsUrl: string;
  /** The SP's entity ID. */
  audience: string;
  /** Default: the tenant's "login as" user. */
  email?: string;
  relayState?: string;
}

export interface ServiceProviderInput {
  entityId: string;
  acsUrl: string;
}

export interface TenantSettings {
  /** The user signed in automatically (an existing IdP session); null shows the e-mail login form. */
  loginAs: string | null;
  /** Only groups starting with this are sent (Okta's "Starts with" group filter); '' sends all. */
  groupPrefix: string;
  /** Leaves the groups attribute/claim out entirely (Entra's group overage), instead of sending it empty. */
  omitGroups: boolean;
  /** The app tile's login URL (e.g. https://sp.example/login?sso=true); null: the tile starts IdP-initiated SSO. */
  appLoginUrl: string | null;
  /** Also sign the Response (the Assertion is always signed unless a fault says otherwise). */
  signResponse: boolean;
  attributeNames: AttributeNames;
  samlFaults: SamlFaults;
  oidcFaults: OidcFaults;
}

export interface CreateTenantOptions {
  /** Default: the preset's name, then "-2", "-3"... */
  tenantId?: string;
  preset: Preset;
  groupPrefix?: string;
  omitGroups?: boolean;
  appLoginUrl?: string | null;
  signResponse?: boolean;
  attributeNames?: Partial<AttributeNames>;
  loginAs?: string | null;
  users?: UserInput[];
  serviceProvider?: ServiceProviderInput;
  /** Validity of the first signing certificate; default one hour ago to a year from now. */
  certificateValidity?: { notBefore?: Date | string; notAfter?: Date | string };
}

export interface RotateSigningKeyOptions {
  /** Keep publishing the previous certificates in metadata (a rollover window), or drop them at once. */
  keepOld: boolean;
  certificateValidity?: { notBefore?: Date | string; notAfter?: Date | string };
}

const text = z.string().trim().min(1);
const url = z.url();
const email = z
  .string()
  .trim()
  .regex(/^[^\s@]+@[^\s@]+$/, 'must be an e-mail address');
const overridable = z.union([z.boolean(), text]).optional();
const date = z.union([z.date(), z.iso.datetime({ offset: true }).transform((value) => new Date(value))]);
const validity = z.object({ notBefore: date.optional(), notAfter: date.optional() }).strict().optional();

export const userInputSchema = z
  .object({
    subject: text.optional(),
    email,
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    groups: z.array(z.string()).optional(),
    emailVerified: z.boolean().optional(),
    hostedDomain: text.optional(),
    assigned: z.boolean().optional(),
  })
  .strict();

export const userPatchSchema = userInputSchema.partial().strict();

export const samlFaultsSchema = z
  .object({
    expired: z.boolean().optional(),
    notYetValid: z.boolean().optional(),
    clockSkewSeconds: z.number().int().optional(),
    noTimeBounds: z.boolean().optional(),
    wrongAudience: overridable,
    wrongRecipient: overridable,
    wrongDestination: overridable,
    wrongIssuer: overridable,
    unsigned: z.boolean().optional(),
    signWithUnknownKey: z.boolean().optional(),
    twoAssertions: z.boolean().optional(),
    doctype: z.boolean().optional(),
    commentInNameId: overridable,
    signatureWrapping: z.enum(SIGNATURE_WRAPPING_VARIANTS).optional(),
    wrapAs: email.optional(),
    replayOf: text.optional(),
  })
  .strict();

export const samlResponseOptionsSchema = samlFaultsSchema
  .extend({
    requestId: text.optional(),
    acsUrl: url,
    audience: text,
    email: email.optional(),
    relayState: z.string().optional(),
  })
  .strict();

export const oidcFaultsSchema = z
  .object({
    wrongIssuer: overridable,
    wrongAudience: overridable,
    badNonce: z.boolean().optional(),
    algNone: z.boolean().optional(),
    expiredIdToken: z.boolean().optional(),
  })
  .strict();

export const serviceProviderSchema = z.object({ entityId: text, acsUrl: url }).strict();

export const oidcClientSchema = z
  .object({
    clientId: text,
    clientSecret: text.optional(),
    redirectUris: z.array(url).min(1),
    tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post', 'none']).optional(),
  })
  .strict() satisfies z.ZodType<OidcClientInput>;

const attributeNamesSchema = z
  .object({ email: text, firstName: text, lastName: text, groups: text })
  .partial()
  .strict();

export const settingsPatchSchema = z
  .object({
    loginAs: email.nullable().optional(),
    groupPrefix: z.string().optional(),
    omitGroups: z.boolean().optional(),
    appLoginUrl: url.nullable().optional(),
    signResponse: z.boolean().optional(),
    attributeNames: attributeNamesSchema.optional(),
    samlFaults: samlFaultsSchema.optional(),
    oidcFaults: oidcFaultsSchema.optional(),
  })
  .strict();

export type SettingsPatch = Omit<Partial<TenantSettings>, 'attributeNames'> & {
  attributeNames?: Partial<AttributeNames>;
};

export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const createTenantSchema = z
  .object({
    tenantId: z.string().regex(TENANT_ID, 'must be lower-case letters, digits and dashes').optional(),
    preset: z.enum(PRESETS),
    groupPrefix: z.string().optional(),
    omitGroups: z.boolean().optional(),
    appLoginUrl: url.nullable().optional(),
    signResponse: z.boolean().optional(),
    attributeNames: attributeNamesSchema.optional(),
    loginAs: email.nullable().optional(),
    users: z.array(userInputSchema).optional(),
    serviceProvider: serviceProviderSchema.optional(),
    certificateValidity: validity,
  })
  .strict();

export const rotateSchema = z.object({ keepOld: z.boolean(), certificateValidity: validity }).strict();

// ---- SCIM client ----

export const SCIM_MODES = ['okta', 'entra'] as const;
export type ScimMode = (typeof SCIM_MODES)[number];

export interface ScimConfigInput {
  /** The SCIM server's base URL, e.g. http://127.0.0.1:8080/scim/v2/<directoryId> (no trailing /Users). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  /** Whose wire format to play: Okta's or Entra's (quirks included). */
  mode: ScimMode;
  /** Only groups whose name starts with this are pushed (Okta's "push groups by rule"); null/absent: none. */
  pushGroupsPrefix?: string | null;
  /** Push every change to users and groups as it happens; default true. */
  autoPush?: boolean;
}

export const scimConfigSchema = z
  .object({
    baseUrl: z.url({ protocol: /^https?$/ }),
    token: text,
    mode: z.enum(SCIM_MODES),
    pushGroupsPrefix: z.string().nullable().optional(),
    autoPush: z.boolean().optional(),
  })
  .strict();

export const scimAutoPushSchema = z.object({ autoPush: z.boolean() }).strict();
export const assignedSchema = z.object({ assigned: z.boolean() }).strict();
export const groupNameSchema = z.object({ name: text }).strict();
