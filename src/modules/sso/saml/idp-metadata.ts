// IdP settings from SAML metadata: parsed from XML an admin pasted, or fetched from a URL with the
// defences a server-side fetch of a user-supplied URL needs (no private or loopback targets unless
// configured for the simulators, a timeout, a size cap).
import { X509Certificate } from 'node:crypto';
import { DomainError } from '../../../lib/errors.js';
import { outboundRefusal } from '../../../lib/outbound-url.js';
import type { SigningCertificate } from '../sso-connection.entity.js';
import { SsoErrorCode } from '../sso.errors.js';
import { parseXml, XmlParseError } from './xml.js';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
export const MAX_METADATA_BYTES = 1024 * 1024;

export interface IdpSettings {
  entityId: string;
  ssoUrl: string;
  certificates: SigningCertificate[];
}

const invalid = (message: string) => new DomainError(SsoErrorCode.INVALID_METADATA, message, ['metadataXml']);

/** A PEM or bare base64 certificate as a SigningCertificate; INVALID_CERTIFICATE when it is not one. */
export function parseCertificate(input: string): SigningCertificate {
  const body = input.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  try {
    const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
    const certificate = new X509Certificate(pem);
    return {
      pem,
      fingerprint: certificate.fingerprint256,
      notAfter: new Date(certificate.validTo).toISOString(),
    };
  } catch {
    throw new DomainError(
      SsoErrorCode.INVALID_CERTIFICATE,
      'A signing certificate is not a valid X.509 certificate.',
      ['certificates'],
    );
  }
}

export function parseIdpMetadata(xml: string): IdpSettings {
  if (Buffer.byteLength(xml) > MAX_METADATA_BYTES) throw invalid('The metadata is larger than 1 MB.');
  if (/<!DOCTYPE/i.test(xml)) throw invalid('Metadata with a DOCTYPE is refused.');
  let root: Element;
  try {
    root = parseXml(xml);
  } catch (error) {
    if (error instanceof XmlParseError) throw invalid('The metadata is not well-formed XML.');
    throw error;
  }
  const descriptor =
    root.localName === 'EntityDescriptor' && root.namespaceURI === MD
      ? root
      : root.localName === 'EntitiesDescriptor'
        ? Array.from(root.getElementsByTagNameNS(MD, 'EntityDescriptor'))[0]
        : undefined;
  if (!descriptor) throw invalid('The document is not SAML 2.0 metadata (no md:EntityDescriptor).');
  const entityId = descriptor.getAttribute('entityID');
  const idp = Array.from(descriptor.getElementsByTagNameNS(MD, 'IDPSSODescriptor'))[0];
  if (!entityId || !idp)
    throw invalid('The metadata has no identity provider (IDPSSODescriptor) with an entityID.');
  const services = Array.from(idp.getElementsByTagNameNS(MD, 'SingleSignOnService'));
  const redirect = services.find((s) => s.getAttribute('Binding') === REDIRECT)?.getAttribute('Location');
  if (!redirect)
    throw invalid('The identity provider has no SingleSignOnService with the HTTP-Redirect binding.');
  const certificates = Array.from(idp.getElementsByTagNameNS(MD, 'KeyDescriptor'))
    .filter((k) => !k.getAttribute('use') || k.getAttribute('use') === 'signing')
    .flatMap((k) =>
      Array.from(k.getElementsByTagNameNS(DS, 'X509Certificate')).map((c) => c.textContent ?? ''),
    )
    .map(parseCertificate);
  if (certificates.length === 0) throw invalid('The metadata has no signing certificate.');
  return { entityId, ssoUrl: assertHttpUrl(redirect, 'ssoUrl'), certificates: dedupe(certificates) };
}

export function assertHttpUrl(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DomainError(SsoErrorCode.INVALID_SETTINGS, `${field} is not a URL.`, [field]);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new DomainError(SsoErrorCode.INVALID_SETTINGS, `${field} must be an http(s) URL.`, [field]);
  }
  return url.toString();
}

function dedupe(certificates: SigningCertificate[]): SigningCertificate[] {
  return [...new Map(certificates.map((c) => [c.fingerprint, c])).values()];
}

/** Fetches metadata: http(s) only, public addresses only (unless allowed), 10 s, 1 MB. */
export async function fetchMetadata(
  rawUrl: string,
  options: { allowPrivate: boolean; timeoutMs?: number },
): Promise<string> {
  const url = new URL(assertHttpUrl(rawUrl, 'metadataUrl'));
  const refusal = await outboundRefusal(url, options.allowPrivate);
  if (refusal === 'unresolvable') {
    throw new DomainError(SsoErrorCode.METADATA_UNREACHABLE, `${url.hostname} does not resolve.`, [
      'metadataUrl',
    ]);
  }
  if (refusal) {
    throw new DomainError(
      SsoErrorCode.METADATA_URL_NOT_ALLOWED,
      refusal === 'not-https'
        ? 'The metadata URL must use https.'
        : 'The metadata URL points to a private or loopback address.',
      ['metadataUrl'],
    );
  }
  let response: Response;
  try {
    response = await fetch(url, {
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    throw new DomainError(
      SsoErrorCode.METADATA_UNREACHABLE,
      `The metadata URL could not be fetched (${(error as Error).name}).`,
      ['metadataUrl'],
    );
  }
  if (!response.ok || !response.body) {
    throw new DomainError(
      SsoErrorCode.METADATA_UNREACHABLE,
      `The metadata URL answered HTTP ${response.status}.`,
      ['metadataUrl'],
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_METADATA_BYTES) {
      await reader.cancel().catch(() => {});
      throw invalid('The metadata at that URL is larger than 1 MB.');
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks).toString('utf8');
}
