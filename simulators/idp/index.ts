export { startIdpSimulator } from './idp-simulator.js';
export type { IdpSimulator, IdpSimulatorOptions, IdpTenant } from './idp-simulator.js';
export { followOidcAuthorization, followSamlRedirect } from './browser.js';
export type { FollowOidcOptions, FollowSamlOptions } from './browser.js';
export { PRESETS, PRESET_DEFINITIONS, NAMEID_EMAIL, NAMEID_PERSISTENT, isPreset } from './presets.js';
export type { AttributeNames, Preset } from './presets.js';
export { SIGNATURE_WRAPPING_VARIANTS } from './saml-response.js';
export type { SignatureWrappingVariant } from './saml-response.js';
export type { AuthnRequestInfo } from './authn-request.js';
export type { OidcClientInput, OidcFaults } from './oidc.js';
export type {
  CreateTenantOptions,
  RotateSigningKeyOptions,
  SamlFaults,
  SamlResponseOptions,
  ScimConfigInput,
  ScimMode,
  ServiceProviderInput,
  SettingsPatch,
  TenantSettings,
  UserInput,
  UserPatch,
} from './schemas.js';
export type {
  IdpGroup,
  IdpUser,
  RotatedSigningKey,
  SamlFormPost,
  SamlPost,
  TenantInfo,
  TenantUrls,
} from './tenant.js';
export { SCIM_MODES } from './schemas.js';
export {
  SCIM_ENTERPRISE_USER_SCHEMA,
  SCIM_GROUP_SCHEMA,
  SCIM_PATCH_OP_SCHEMA,
  SCIM_USER_SCHEMA,
} from './scim-client.js';
export type { ScimError, ScimPushSummary, ScimRequestRecord, ScimStatus } from './scim-client.js';

/** The form body a browser posts to the ACS, ready for `fetch(post.acsUrl, { method: 'POST', body })`. */
export function samlPostBody(post: { SAMLResponse: string; RelayState?: string }): URLSearchParams {
  const body = new URLSearchParams({ SAMLResponse: post.SAMLResponse });
  if (post.RelayState !== undefined) body.set('RelayState', post.RelayState);
  return body;
}
