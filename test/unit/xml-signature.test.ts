// The SAML XML signature verifier on its own: responses really signed with xml-crypto (as IdPs sign them),
// then altered the ways signature attacks alter them. Each alteration must lose the assertion or be
// refused as wrapping; the untouched ones must yield the signed assertion, read from the signed bytes.
import { SignedXml } from 'xml-crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, type SigningKey } from '../../simulators/idp/keys.js';
import { parseXml } from '../../src/modules/sso/saml/xml.js';
import { SignatureWrappingError, verifiedAssertion } from '../../src/modules/sso/saml/xml-signature.js';

const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const C14N = 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const RSA_SHA512 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';

const ASSERTION_ISSUER = "//*[local-name(.)='Assertion']/*[local-name(.)='Issuer']";
const RESPONSE_ISSUER = "/*[local-name(.)='Response']/*[local-name(.)='Issuer']";

function response(nameId = 'ana@acme.example', extra = ''): string {
  return (
    '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ' +
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp1" Version="2.0" ' +
    'IssueInstant="2026-11-29T00:00:00Z"><saml:Issuer>https://idp.example</saml:Issuer>' +
    '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>' +
    '<saml:Assertion ID="_assert1" Version="2.0" IssueInstant="2026-11-29T00:00:00Z">' +
    '<saml:Issuer>https://idp.example</saml:Issuer>' +
    `<saml:Subject><saml:NameID>${nameId}</saml:NameID>${extra}</saml:Subject>` +
    '</saml:Assertion></samlp:Response>'
  );
}

interface SignOptions {
  key: SigningKey;
  id?: string;
  location?: string;
  transforms?: string[];
  canonicalization?: string;
  signatureAlgorithm?: string;
  references?: number;
  emptyUri?: boolean;
  inclusivePrefixes?: string[];
}

function sign(xml: string, options: SignOptions): string {
  const id = options.id ?? '_assert1';
  const sig = new SignedXml({
    privateKey: options.key.privateKeyPem,
    publicCert: options.key.certificatePem,
    signatureAlgorithm: options.signatureAlgorithm ?? RSA_SHA256,
    canonicalizationAlgorithm: options.canonicalization ?? EXC_C14N,
    ...(options.inclusivePrefixes ? { inclusiveNamespacesPrefixList: options.inclusivePrefixes } : {}),
  });
  for (let i = 0; i < (options.references ?? 1); i++)
    sig.addReference({
      xpath: `//*[@ID='${id}']`,
      transforms: options.transforms ?? [ENVELOPED, EXC_C14N],
      digestAlgorithm: SHA256,
      ...(options.emptyUri ? { isEmptyUri: true } : {}),
      ...(options.inclusivePrefixes ? { inclusiveNamespacesPrefixList: options.inclusivePrefixes } : {}),
    });
  sig.computeSignature(xml, {
    prefix: 'ds',
    location: { reference: options.location ?? ASSERTION_ISSUER, action: 'after' },
  });
  return sig.getSignedXml();
}

describe('SAML XML signature verification', () => {
  let idp: SigningKey;
  let attacker: SigningKey;
  const check = (xml: string, keys: SigningKey[] = [idp]) =>
    verifiedAssertion(
      parseXml(xml),
      keys.map((k) => ({ pem: k.certificatePem })),
    );
  const nameIdOf = (assertion: Element | null) =>
    assertion?.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'NameID')[0]?.textContent;

  beforeAll(async () => {
    [idp, attacker] = await Promise.all([generateSigningKey('idp'), generateSigningKey('attacker')]);
  });

  it('yields the signed assertion, whether the assertion or the response is signed', () => {
    const assertionSigned = check(sign(response(), { key: idp }));
    expect(assertionSigned.assertion?.getAttribute('ID')).toBe('_assert1');
    expect(nameIdOf(assertionSigned.assertion)).toBe('ana@acme.example');

    const responseSigned = check(sign(response(), { key: idp, id: '_resp1', location: RESPONSE_ISSUER }));
    expect(responseSigned.assertion?.getAttribute('ID')).toBe('_assert1');

    const sha512 = check(sign(response(), { key: idp, signatureAlgorithm: RSA_SHA512 }));
    expect(sha512.assertion?.getAttribute('ID')).toBe('_assert1');
  });

  it('leaves the document as it was parsed (the enveloped signature is back in its place)', () => {
    const signed = sign(response(), { key: idp });
    const document = parseXml(signed);
    verifiedAssertion(document, [{ pem: idp.certificatePem }]);
    expect(document.toString()).toBe(parseXml(signed).toString());
  });

  it('renders the InclusiveNamespaces prefixes declared above SignedInfo and the signed element', () => {
    // As Shibboleth signs: xs is declared on the Response and listed for both canonicalisations.
    const xml = response().replace(
      '<samlp:Response ',
      '<samlp:Response xmlns:xs="http://www.w3.org/2001/XMLSchema" ',
    );
    const signed = sign(xml, { key: idp, inclusivePrefixes: ['xs'] });
    expect(signed).toContain('PrefixList="xs"');
    expect(check(signed).assertion?.getAttribute('ID')).toBe('_assert1');
  });

  it('tries each configured certificate, and never one the message brings in KeyInfo', () => {
    const signed = sign(response(), { key: idp });
    expect(check(signed, [attacker, idp]).assertion).not.toBeNull();
    const forged = check(sign(response(), { key: attacker }));
    expect(forged).toEqual({
      assertion: null,
      problem: 'signature value does not verify with a configured certificate',
    });
  });

  it('refuses a signed assertion altered after signing', () => {
    const signed = sign(response(), { key: idp });
    const altered = signed.replace('ana@acme.example', 'admin@acme.example');
    expect(check(altered)).toEqual({
      assertion: null,
      problem: 'the digest of the signed element does not match',
    });
  });

  it('refuses a SignedInfo altered after signing (a digest swapped for the altered content’s)', () => {
    const signed = sign(response(), { key: idp });
    const forgedDigest = /<ds:DigestValue>([^<]+)</.exec(
      sign(response('admin@acme.example'), { key: attacker }),
    )![1]!;
    const altered = signed
      .replace(/<ds:DigestValue>[^<]+</, `<ds:DigestValue>${forgedDigest}<`)
      .replace('ana@acme.example', 'admin@acme.example');
    expect(check(altered).assertion).toBeNull();
    expect(check(altered).problem).toBe('signature value does not verify with a configured certificate');
  });

  it('reads values from the signed bytes: a comment in the NameID neither breaks the digest nor cuts the value', () => {
    const signed = sign(response('admin@acme.example<!--x-->.evil.example'), { key: idp });
    const { assertion } = check(signed);
    expect(nameIdOf(assertion)).toBe('admin@acme.example.evil.example');
    expect(assertion?.toString()).not.toContain('<!--');
  });

  it('refuses a signature whose Reference is not to the element it sits in', () => {
    // Placed in the Assertion, signing the Response: SAML core 5.4.2 wants the enclosing element's ID.
    const misplaced = sign(response(), { key: idp, id: '_resp1', location: ASSERTION_ISSUER });
    expect(check(misplaced).problem).toBe('the Reference is not to the ID of the signed element');
    const wholeDocument = sign(response(), { key: idp, emptyUri: true });
    expect(check(wholeDocument).problem).toBe('the Reference is not to the ID of the signed element');
  });

  it('refuses more than one Reference, other transforms and other canonicalisations', () => {
    expect(check(sign(response(), { key: idp, references: 2 })).problem).toBe('not exactly one Reference');
    expect(check(sign(response(), { key: idp, transforms: [EXC_C14N] })).problem).toBe(
      `transforms ${EXC_C14N} unsupported`,
    );
    expect(check(sign(response(), { key: idp, transforms: [ENVELOPED, C14N] })).problem).toBe(
      `transforms ${ENVELOPED}, ${C14N} unsupported`,
    );
    expect(check(sign(response(), { key: idp, canonicalization: C14N })).problem).toBe(
      `canonicalization ${C14N} unsupported`,
    );
  });

  it('refuses as wrapping a Signature anywhere but the Response and its Assertion, and an ID carried twice', () => {
    const signed = sign(response(), { key: idp });
    const signature = /<ds:Signature[\s\S]*<\/ds:Signature>/.exec(signed)![0];
    const nested = signed.replace(
      '</saml:Subject>',
      `<saml:SubjectConfirmation><saml:SubjectConfirmationData>${signature}</saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>`,
    );
    expect(() => check(nested)).toThrow(SignatureWrappingError);
    const twice = signed.replace(
      '<samlp:Status>',
      '<samlp:Extensions><saml:Assertion ID="_assert1"/></samlp:Extensions><samlp:Status>',
    );
    expect(() => check(twice)).toThrow(SignatureWrappingError);
  });

  it('refuses, without failing, a signature the canonicaliser cannot process', () => {
    const signed = sign(response(), { key: idp });
    const withInstruction = signed.replace('<ds:SignedInfo>', '<ds:SignedInfo><?x?>');
    expect(check(withInstruction)).toEqual({
      assertion: null,
      problem: expect.stringMatching(/^unprocessable: /),
    });
  });

  it('declares no namespace on the document for an InclusiveNamespaces of another namespace', () => {
    const xml = response().replace(
      '<samlp:Response ',
      '<samlp:Response xmlns:xs="http://www.w3.org/2001/XMLSchema" ',
    );
    const signed = sign(xml, { key: idp }).replace(
      /(<ds:CanonicalizationMethod [^>]*?)\/>/,
      '$1><x:InclusiveNamespaces xmlns:x="urn:elsewhere" PrefixList="xs"/></ds:CanonicalizationMethod>',
    );
    const document = parseXml(signed);
    verifiedAssertion(document, [{ pem: idp.certificatePem }]);
    expect(document.toString()).toBe(parseXml(signed).toString());
  });

  it('refuses an unsigned response', () => {
    expect(check(response())).toEqual({ assertion: null, problem: 'unsigned' });
  });
});
