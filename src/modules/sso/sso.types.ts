import { ArrayMaxSize, MaxLength } from 'class-validator';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType } from '../../graphql/connection.js';
import { type UserErrorShape, userErrorType } from '../../graphql/errors.js';
import { LoginRoute } from './sso-login.service.js';
import { type SsoConnection, SsoConnectionState, SsoProtocol, SsoProvider } from './sso-connection.entity.js';
import { SsoErrorCode } from './sso.errors.js';

registerEnumType(SsoProtocol, { name: 'SsoProtocol' });
registerEnumType(SsoProvider, { name: 'SsoProvider', description: 'Decides the default attribute names.' });
registerEnumType(SsoConnectionState, {
  name: 'SsoConnectionState',
  description: 'DRAFT until activated; only ACTIVE connections capture sign-ins.',
});
registerEnumType(LoginRoute, { name: 'LoginRoute' });

export const SsoUserError = userErrorType('Sso', SsoErrorCode);

@ObjectType('SigningCertificate')
export class SigningCertificateType {
  @Field({ description: 'SHA-256 fingerprint.' })
  fingerprint!: string;

  @Field()
  notAfter!: Date;
}

@ObjectType('AttributeMapping', {
  description: 'Names of the SAML attributes (or OIDC claims) that carry the profile.',
})
export class AttributeMappingType {
  @Field()
  email!: string;

  @Field()
  firstName!: string;

  @Field()
  lastName!: string;

  @Field()
  groups!: string;
}

@ObjectType('SsoConnection')
export class SsoConnectionType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  parentOrganizationId!: string;

  @Field()
  name!: string;

  @Field(() => SsoProtocol)
  protocol!: SsoProtocol;

  @Field(() => SsoProvider)
  provider!: SsoProvider;

  @Field(() => SsoConnectionState)
  state!: SsoConnectionState;

  @Field({ description: 'Where people start signing in through this connection.' })
  loginUrl!: string;

  @Field(() => String, {
    nullable: true,
    description: 'SAML: our entity ID (audience), also our metadata URL.',
  })
  spEntityId!: string | null;

  @Field(() => String, { nullable: true, description: 'SAML: our assertion consumer service URL.' })
  acsUrl!: string | null;

  @Field(() => String, { nullable: true, description: 'OIDC: the redirect URI to register at the IdP.' })
  redirectUri!: string | null;

  @Field(() => String, { nullable: true })
  idpEntityId!: string | null;

  @Field(() => String, { nullable: true })
  idpSsoUrl!: string | null;

  @Field(() => [SigningCertificateType])
  certificates!: SigningCertificateType[];

  @Field(() => SigningCertificateType, {
    nullable: true,
    description: 'A signing certificate that expires within 30 days.',
  })
  certificateExpiryWarning!: SigningCertificateType | null;

  @Field(() => String, { nullable: true })
  metadataUrl!: string | null;

  @Field(() => Date, { nullable: true })
  metadataFetchedAt!: Date | null;

  @Field(() => String, {
    nullable: true,
    description: 'Why the last metadata refresh failed; the last good metadata stays in use.',
  })
  metadataError!: string | null;

  @Field(() => String, { nullable: true })
  oidcIssuer!: string | null;

  @Field(() => String, { nullable: true })
  oidcClientId!: string | null;

  @Field({ description: 'The client secret is write-only; this says whether one is set.' })
  hasClientSecret!: boolean;

  @Field(() => AttributeMappingType)
  attributeMapping!: AttributeMappingType;

  @Field(() => Date, { nullable: true })
  lastTestedAt!: Date | null;

  @Field(() => Boolean, { nullable: true })
  lastTestSucceeded!: boolean | null;

  @Field(() => String, { nullable: true })
  lastTestError!: string | null;

  @Field(() => Date, { nullable: true })
  activatedAt!: Date | null;
}

export const SsoConnectionConnection = connectionType('SsoConnection', SsoConnectionType);

export interface SsoUrls {
  loginUrl: string;
  spEntityId: string;
  acsUrl: string;
  redirectUri: string;
  warning: { fingerprint: string; notAfter: string } | null;
}

export function toSsoConnectionType(connection: SsoConnection, urls: SsoUrls): SsoConnectionType {
  const saml = connection.protocol === SsoProtocol.SAML;
  return {
    id: connection.id,
    parentOrganizationId: connection.parent.id,
    name: connection.name,
    protocol: connection.protocol,
    provider: connection.provider,
    state: connection.state,
    loginUrl: urls.loginUrl,
    spEntityId: saml ? urls.spEntityId : null,
    acsUrl: saml ? urls.acsUrl : null,
    redirectUri: saml ? null : urls.redirectUri,
    idpEntityId: connection.idpEntityId ?? null,
    idpSsoUrl: connection.idpSsoUrl ?? null,
    certificates: (connection.idpCertificates ?? []).map((c) => ({
      fingerprint: c.fingerprint,
      notAfter: new Date(c.notAfter),
    })),
    certificateExpiryWarning: urls.warning
      ? { fingerprint: urls.warning.fingerprint, notAfter: new Date(urls.warning.notAfter) }
      : null,
    metadataUrl: connection.metadataUrl ?? null,
    metadataFetchedAt: connection.metadataFetchedAt ?? null,
    metadataError: connection.metadataError ?? null,
    oidcIssuer: connection.oidcIssuer ?? null,
    oidcClientId: connection.oidcClientId ?? null,
    hasClientSecret: Boolean(connection.oidcClientSecretEncrypted),
    attributeMapping: { ...connection.attributeMapping },
    lastTestedAt: connection.lastTestedAt ?? null,
    lastTestSucceeded: connection.lastTestSucceeded ?? null,
    lastTestError: connection.lastTestError ?? null,
    activatedAt: connection.activatedAt ?? null,
  };
}

@InputType()
export class SamlSettingsInput {
  @Field(() => String, { nullable: true, description: 'IdP metadata XML (at most 1 MB).' })
  @MaxLength(1024 * 1024)
  metadataXml?: string | null;

  @Field(() => String, { nullable: true, description: 'IdP metadata URL, fetched now and on refresh.' })
  @MaxLength(2048)
  metadataUrl?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(1024)
  entityId?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(2048)
  ssoUrl?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: 'PEM signing certificates; several during a rotation.',
  })
  @ArrayMaxSize(5)
  @MaxLength(20_000, { each: true })
  certificates?: string[] | null;
}

@InputType()
export class OidcSettingsInput {
  @Field(() => String, { nullable: true })
  @MaxLength(2048)
  issuer?: string | null;

  @Field(() => String, { nullable: true })
  @MaxLength(500)
  clientId?: string | null;

  @Field(() => String, { nullable: true, description: 'Write-only: stored encrypted, never returned.' })
  @MaxLength(2000)
  clientSecret?: string | null;
}

@InputType()
export class AttributeMappingInput {
  @Field(() => String, { nullable: true })
  @MaxLength(300)
  email?: string;

  @Field(() => String, { nullable: true })
  @MaxLength(300)
  firstName?: string;

  @Field(() => String, { nullable: true })
  @MaxLength(300)
  lastName?: string;

  @Field(() => String, { nullable: true })
  @MaxLength(300)
  groups?: string;
}

@InputType()
export class SsoConnectionCreateInput {
  @Field(() => SsoProtocol)
  protocol!: SsoProtocol;

  @Field(() => SsoProvider, { nullable: true })
  provider?: SsoProvider | null;

  @Field(() => String, { nullable: true })
  @MaxLength(200)
  name?: string | null;

  @Field(() => SamlSettingsInput, { nullable: true })
  saml?: SamlSettingsInput | null;

  @Field(() => OidcSettingsInput, { nullable: true })
  oidc?: OidcSettingsInput | null;

  @Field(() => AttributeMappingInput, { nullable: true })
  attributeMapping?: AttributeMappingInput | null;
}

@InputType()
export class SsoConnectionUpdateInput {
  @Field(() => SsoProvider, { nullable: true })
  provider?: SsoProvider | null;

  @Field(() => String, { nullable: true })
  @MaxLength(200)
  name?: string | null;

  @Field(() => SamlSettingsInput, { nullable: true })
  saml?: SamlSettingsInput | null;

  @Field(() => OidcSettingsInput, { nullable: true })
  oidc?: OidcSettingsInput | null;

  @Field(() => AttributeMappingInput, { nullable: true })
  attributeMapping?: AttributeMappingInput | null;
}

@ObjectType()
export class SsoConnectionPayload {
  @Field(() => SsoConnectionType, { nullable: true })
  connection!: SsoConnectionType | null;

  @Field(() => [SsoUserError])
  userErrors!: UserErrorShape[];
}

@ObjectType()
export class SsoConnectionActivatePayload {
  @Field(() => SsoConnectionType, { nullable: true })
  connection!: SsoConnectionType | null;

  @Field(() => Int, {
    description: "Sessions ended: every session of the parent's users, the caller's included.",
  })
  revokedSessions!: number;

  @Field(() => [SsoUserError])
  userErrors!: UserErrorShape[];
}

@ObjectType()
export class SsoConnectionTestPayload {
  @Field(() => String, { nullable: true, description: 'Open it in the browser signed in as this admin.' })
  testUrl!: string | null;

  @Field(() => [SsoUserError])
  userErrors!: UserErrorShape[];
}

@ObjectType('LoginStart')
export class LoginStartType {
  @Field(() => LoginRoute)
  route!: LoginRoute;

  @Field(() => String, { nullable: true, description: 'For the SSO route: where to send the browser.' })
  ssoUrl!: string | null;
}
