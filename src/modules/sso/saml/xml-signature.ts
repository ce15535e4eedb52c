// The XML signature of a SAML Response or of its Assertion, checked on the document the ACS already parsed.
// samlify serialised and re-parsed each response three times, found the signed element by scanning the
// whole document with XPath, and imported the certificate on every call: over a quarter of a sign-in.
// Only what SAML core 5.4 allows is accepted: an enveloped signature whose single Reference names the ID
// of the element it sits in, exclusive canonicalisation, RSA with SHA-1, SHA-256 or SHA-512. The key is
// always a configured certificate, never one the message brings in KeyInfo.
import { createHash, type KeyObject, timingSafeEqual, verify, X509Certificate } from 'node:crypto';
import {
  ExclusiveCanonicalization,
  ExclusiveCanonicalizationWithComments,
  type NamespacePrefix,
} from 'xml-crypto';
import type { SigningCertificate } from '../sso-connection.entity.js';
import { childElements, parseXml } from './xml.js';

const DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const ENVELOPED = `${DSIG}enveloped-signature`;
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const EXC_C14N_WITH_COMMENTS = `${EXC_C14N}WithComments`;

const SIGNATURE_HASHES: Record<string, string> = {
  [`${DSIG}rsa-sha1`]: 'sha1',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'sha512',
};
const DIGEST_HASHES: Record<string, string> = {
  [`${DSIG}sha1`]: 'sha1',
  'http://www.w3.org/2001/04/xmlenc#sha256': 'sha256',
  'http://www.w3.org/2001/04/xmlenc#sha512': 'sha512',
};

/** A document shaped to make a verifier read an element other than the one it verified. */
export class SignatureWrappingError extends Error {}

export interface VerifiedAssertion {
  /** Parsed from the canonical bytes the digest covers, so nothing unsigned (not even a comment) is read. */
  assertion: Element | null;
  /** Why no signature verified, for the refusal's detail. */
  problem?: string;
}

/** Only the certificate itself is needed to verify. */
type VerificationCertificate = Pick<SigningCertificate, 'pem'>;

/**
 * The Assertion of `response` under a signature that verifies with one of `certificates`: the Assertion's
 * own, or the Response's (which covers the Assertion inside it). Signatures anywhere else are refused as
 * wrapping; an ID carried by two elements too.
 */
export function verifiedAssertion(
  response: Element,
  certificates: readonly VerificationCertificate[],
): VerifiedAssertion {
  const signatures = [
    ...childElements(response, DSIG, 'Signature'),
    ...childElements(response, ASSERTION, 'Assertion').flatMap((a) => childElements(a, DSIG, 'Signature')),
  ];
  if (response.ownerDocument.getElementsByTagNameNS(DSIG, 'Signature').length !== signatures.length)
    throw new SignatureWrappingError('a Signature outside the Response and its Assertion');
  if (signatures.length === 0) return { assertion: null, problem: 'unsigned' };
  let problem = '';
  for (const signature of signatures) {
    const checked = verifiedOrProblem(signature, certificates);
    if (typeof checked === 'string') {
      problem = checked;
      continue;
    }
    if (checked.namespaceURI === ASSERTION && checked.localName === 'Assertion')
      return { assertion: checked };
    const inside = childElements(checked, ASSERTION, 'Assertion');
    return inside.length === 1
      ? { assertion: inside[0]! }
      : { assertion: null, problem: 'no signed assertion' };
  }
  return { assertion: null, problem };
}

/** A signature the canonicaliser or a certificate cannot process does not verify: a refusal, not a failure. */
function verifiedOrProblem(
  signature: Element,
  certificates: readonly VerificationCertificate[],
): Element | string {
  try {
    return verifiedElement(signature, certificates);
  } catch (error) {
    if (error instanceof SignatureWrappingError) throw error;
    return `unprocessable: ${(error as Error).message}`.slice(0, 200);
  }
}

/** The element `signature` signs, parsed from its canonical bytes, or why it does not verify. */
function verifiedElement(
  signature: Element,
  certificates: readonly VerificationCertificate[],
): Element | string {
  const signedInfo = onlyChild(signature, DSIG, 'SignedInfo');
  if (!signedInfo) return 'no single SignedInfo';
  const c14nMethod = onlyChild(signedInfo, DSIG, 'CanonicalizationMethod');
  const c14n = c14nMethod?.getAttribute('Algorithm');
  if (c14n !== EXC_C14N && c14n !== EXC_C14N_WITH_COMMENTS) return `canonicalization ${c14n} unsupported`;
  const signatureMethod = onlyChild(signedInfo, DSIG, 'SignatureMethod')?.getAttribute('Algorithm') ?? '';
  const hash = SIGNATURE_HASHES[signatureMethod];
  if (!hash) return `signature method ${signatureMethod} unsupported`;
  const value = onlyChild(signature, DSIG, 'SignatureValue')?.textContent;
  if (!value) return 'no SignatureValue';

  const canonicalSignedInfo = Buffer.from(
    canonicalize(signedInfo, {
      withComments: c14n === EXC_C14N_WITH_COMMENTS,
      prefixes: inclusivePrefixes(c14nMethod!),
    }),
  );
  const signatureValue = Buffer.from(value.replace(/\s+/g, ''), 'base64');
  const verifies = (c: VerificationCertificate) => {
    const key = rsaKey(c.pem);
    return key !== null && verify(hash, canonicalSignedInfo, key, signatureValue);
  };
  if (!certificates.some(verifies)) return 'signature value does not verify with a configured certificate';

  // What the key signed is the canonical SignedInfo: the Reference is read from those bytes.
  const references = childElements(parseXml(canonicalSignedInfo.toString()), DSIG, 'Reference');
  if (references.length !== 1) return 'not exactly one Reference';
  const reference = references[0]!;
  const element = signature.parentNode as Element;
  const id = element.getAttribute('ID');
  if (!id || reference.getAttribute('URI') !== `#${id}`)
    return 'the Reference is not to the ID of the signed element';
  if (elementsWithId(element.ownerDocument, id) !== 1)
    throw new SignatureWrappingError(`two elements carry the ID ${id}`);
  const transforms = childElements(onlyChild(reference, DSIG, 'Transforms'), DSIG, 'Transform');
  const algorithms = transforms.map((t) => t.getAttribute('Algorithm'));
  if (
    algorithms.length !== 2 ||
    algorithms[0] !== ENVELOPED ||
    (algorithms[1] !== EXC_C14N && algorithms[1] !== EXC_C14N_WITH_COMMENTS)
  )
    return `transforms ${algorithms.join(', ')} unsupported`;
  const digestMethod = onlyChild(reference, DSIG, 'DigestMethod')?.getAttribute('Algorithm') ?? '';
  const digestHash = DIGEST_HASHES[digestMethod];
  if (!digestHash) return `digest method ${digestMethod} unsupported`;
  const expected = Buffer.from(
    (onlyChild(reference, DSIG, 'DigestValue')?.textContent ?? '').replace(/\s+/g, ''),
    'base64',
  );

  // A same-document reference drops comments whichever exclusive transform it names (xmldsig 4.4.3.3).
  const canonical = canonicalize(element, {
    withComments: false,
    prefixes: inclusivePrefixes(transforms[1]!),
    enveloped: signature,
  });
  const digest = createHash(digestHash).update(canonical).digest();
  if (digest.length !== expected.length || !timingSafeEqual(digest, expected))
    return 'the digest of the signed element does not match';
  return parseXml(canonical);
}

function canonicalize(
  node: Element,
  options: {
    withComments: boolean;
    prefixes: string[];
    enveloped?: Element;
  },
): string {
  const canonicalizer = options.withComments
    ? new ExclusiveCanonicalizationWithComments()
    : new ExclusiveCanonicalization();
  // The canonicaliser declares inclusive prefixes on the node it is given: then it gets a copy. Otherwise
  // an enveloped signature is taken out of the document for the while, rather than copying the element.
  const inclusive = options.prefixes.length > 0;
  const target = inclusive ? (node.cloneNode(true) as Element) : node;
  const enveloped =
    options.enveloped &&
    (target === node
      ? options.enveloped
      : target.childNodes[Array.prototype.indexOf.call(node.childNodes, options.enveloped)]!);
  const next = enveloped?.nextSibling ?? null;
  if (enveloped) target.removeChild(enveloped);
  try {
    return canonicalizer.process(target as never, {
      inclusiveNamespacesPrefixList: options.prefixes,
      // Only those of the prefixes we read from a namespace-exact InclusiveNamespaces: the canonicaliser
      // would otherwise declare those of one it finds by local name alone on the node it was given.
      ancestorNamespaces: inclusive
        ? ancestorNamespaces(node).filter((ns) => options.prefixes.includes(ns.prefix))
        : [],
      defaultNsForPrefix: { ds: DSIG },
    }) as string;
  } finally {
    if (enveloped && target === node) node.insertBefore(enveloped, next);
  }
}

/** The InclusiveNamespaces PrefixList of a canonicalization method or transform. */
function inclusivePrefixes(method: Element): string[] {
  const list = childElements(method, EXC_C14N, 'InclusiveNamespaces')[0]?.getAttribute('PrefixList');
  return list ? list.split(/\s+/).filter(Boolean) : [];
}

/** Namespaces declared above `element` (the nearest binding of each prefix) that it does not redeclare. */
function ancestorNamespaces(element: Element): NamespacePrefix[] {
  const seen = new Set<string>();
  for (const attr of Array.from(element.attributes)) if (attr.prefix === 'xmlns') seen.add(attr.localName!);
  const found: NamespacePrefix[] = [];
  for (let node = element.parentNode; node && node.nodeType === 1; node = node.parentNode) {
    for (const attr of Array.from((node as Element).attributes)) {
      if (attr.prefix !== 'xmlns' || seen.has(attr.localName!)) continue;
      seen.add(attr.localName!);
      if (attr.value) found.push({ prefix: attr.localName!, namespaceURI: attr.value });
    }
  }
  return found;
}

function elementsWithId(doc: Document, id: string): number {
  let count = 0;
  const all = doc.getElementsByTagName('*');
  for (let i = 0; i < all.length; i++) if (all[i]!.getAttribute('ID') === id) count++;
  return count;
}

const keys = new Map<string, KeyObject | null>();
const MAX_KEYS = 1000;

/** The certificate's RSA public key (none for another kind), imported once rather than once per sign-in. */
function rsaKey(pem: string): KeyObject | null {
  let key = keys.get(pem);
  if (key === undefined) {
    const publicKey = new X509Certificate(pem).publicKey;
    key = publicKey.asymmetricKeyType === 'rsa' ? publicKey : null;
    if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value!);
    keys.set(pem, key);
  }
  return key;
}

function onlyChild(parent: Element | undefined, ns: string, name: string): Element | undefined {
  const found = childElements(parent, ns, name);
  return found.length === 1 ? found[0] : undefined;
}
