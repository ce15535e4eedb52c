// Reads the service provider's AuthnRequest (HTTP-Redirect: base64 of raw DEFLATE; HTTP-POST: base64) with
// @xmldom/xmldom directly. samlify's parsers are off limits here: they need the process-global schema
// validator that our SP (same process in tests) owns, and an IdP reusing SP code could not catch its bugs.
import { inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';

export const NS_PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
export const NS_ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';

// An AuthnRequest is a few hundred bytes; these bounds stop a deflate bomb or an oversized query early.
const MAX_ENCODED_BYTES = 64 * 1024;
const MAX_XML_BYTES = 256 * 1024;

export interface AuthnRequestInfo {
  id: string;
  issuer: string | undefined;
  acsUrl: string | undefined;
  destination: string | undefined;
  protocolBinding: string | undefined;
  issueInstant: string | undefined;
  nameIdFormat: string | undefined;
  forceAuthn: boolean;
  binding: 'redirect' | 'post';
  /** Whether the Redirect binding carried a Signature parameter (the simulator does not require one). */
  signed: boolean;
  relayState: string | undefined;
  receivedAt: string;
  xml: string;
}

export class SamlRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function decode(encoded: string, binding: 'redirect' | 'post'): string {
  if (encoded.length > MAX_ENCODED_BYTES)
    throw new SamlRequestError('request_too_large', 'SAMLRequest is too large');
  const bytes = Buffer.from(encoded, 'base64');
  if (binding === 'post') return bytes.toString('utf8');
  try {
    return inflateRawSync(bytes, { maxOutputLength: MAX_XML_BYTES }).toString('utf8');
  } catch {
    throw new SamlRequestError('invalid_encoding', 'SAMLRequest is not base64 of raw DEFLATE data');
  }
}

export function parseAuthnRequest(
  encoded: string,
  binding: 'redirect' | 'post',
  extras: { relayState?: string; signed?: boolean } = {},
): AuthnRequestInfo {
  const xml = decode(encoded, binding);
  // No IdP should expand entities from a request; refusing DOCTYPE closes XXE and billion laughs at once.
  if (/<!DOCTYPE/i.test(xml))
    throw new SamlRequestError('doctype_not_allowed', 'SAMLRequest contains a DOCTYPE');
  const problems: string[] = [];
  const record = (message: string) => problems.push(message);
  const doc = new DOMParser({
    errorHandler: { warning: () => undefined, error: record, fatalError: record },
  }).parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  if (problems.length > 0 || !root) {
    throw new SamlRequestError(
      'invalid_xml',
      `SAMLRequest is not well-formed XML: ${problems[0] ?? 'empty'}`,
    );
  }
  if (root.localName !== 'AuthnRequest' || root.namespaceURI !== NS_PROTOCOL) {
    throw new SamlRequestError('not_an_authn_request', `expected samlp:AuthnRequest, got ${root.nodeName}`);
  }
  const id = root.getAttribute('ID');
  if (!id) throw new SamlRequestError('missing_id', 'AuthnRequest has no ID');

  const child = (namespace: string, localName: string) => {
    for (let node = root.firstChild; node; node = node.nextSibling) {
      const element = node as Element;
      if (element.nodeType === 1 && element.localName === localName && element.namespaceURI === namespace) {
        return element;
      }
    }
    return undefined;
  };
  const optional = (value: string | null | undefined) => (value ? value : undefined);

  return {
    id,
    issuer: optional(child(NS_ASSERTION, 'Issuer')?.textContent?.trim()),
    acsUrl: optional(root.getAttribute('AssertionConsumerServiceURL')),
    destination: optional(root.getAttribute('Destination')),
    protocolBinding: optional(root.getAttribute('ProtocolBinding')),
    issueInstant: optional(root.getAttribute('IssueInstant')),
    nameIdFormat: optional(child(NS_PROTOCOL, 'NameIDPolicy')?.getAttribute('Format')),
    forceAuthn: root.getAttribute('ForceAuthn') === 'true',
    binding,
    signed: extras.signed ?? false,
    relayState: extras.relayState,
    receivedAt: new Date().toISOString(),
    xml,
  };
}
