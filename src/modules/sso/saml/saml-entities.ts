// samlify entities for one connection, for the messages we send: our service provider (its own entity ID
// and ACS per connection) and the customer's IdP. Responses are verified by xml-signature.ts.
import samlify from 'samlify';
import type { SigningCertificate, SsoConnection } from '../sso-connection.entity.js';

const { Constants } = samlify;

export interface SpEndpoints {
  entityId: string;
  acsUrl: string;
}

export function serviceProvider(endpoints: SpEndpoints) {
  return samlify.ServiceProvider({
    entityID: endpoints.entityId,
    authnRequestsSigned: false,
    wantAssertionsSigned: true,
    nameIDFormat: [Constants.namespace.format.emailAddress],
    assertionConsumerService: [{ Binding: Constants.namespace.binding.post, Location: endpoints.acsUrl }],
  });
}

type IdentityProviderEntity = ReturnType<typeof samlify.IdentityProvider>;

// Entities depend only on these settings, so they are shared by content: building one per login would
// re-parse metadata (and make samlify warn about the missing logout endpoint) on every request.
const identityProviders = new Map<string, IdentityProviderEntity>();
const MAX_CACHED = 1000;

function identityProvider(
  connection: Pick<SsoConnection, 'idpEntityId' | 'idpSsoUrl'>,
  certificate: SigningCertificate,
): IdentityProviderEntity {
  const key = `${connection.idpEntityId}\n${connection.idpSsoUrl}\n${certificate.fingerprint}`;
  let entity = identityProviders.get(key);
  if (!entity) {
    entity = buildIdentityProvider(connection, certificate);
    if (identityProviders.size >= MAX_CACHED)
      identityProviders.delete(identityProviders.keys().next().value!);
    identityProviders.set(key, entity);
  }
  return entity;
}

function buildIdentityProvider(
  connection: Pick<SsoConnection, 'idpEntityId' | 'idpSsoUrl'>,
  certificate: SigningCertificate,
) {
  return samlify.IdentityProvider({
    entityID: connection.idpEntityId ?? '',
    signingCert: certificate.pem,
    wantAuthnRequestsSigned: false,
    singleSignOnService: [
      { Binding: Constants.namespace.binding.redirect, Location: connection.idpSsoUrl ?? '' },
    ],
  });
}

/** The SP-initiated AuthnRequest as an HTTP-Redirect URL to the IdP, with our opaque RelayState. */
export function authnRequestUrl(
  endpoints: SpEndpoints,
  connection: SsoConnection,
  relayState: string,
): { id: string; url: string } {
  const certificate = connection.idpCertificates?.[0];
  if (!certificate) throw new Error('SAML connection without a signing certificate');
  const request = serviceProvider(endpoints).createLoginRequest(
    identityProvider(connection, certificate),
    'redirect',
    { relayState },
  );
  return { id: request.id, url: request.context };
}

/** Our SP metadata XML for the IdP admin. */
export function serviceProviderMetadata(endpoints: SpEndpoints): string {
  return serviceProvider(endpoints).getMetadata();
}
