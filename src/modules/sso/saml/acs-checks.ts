// The assertion consumer service as a pipeline of small named checks (read it as a table). Each check
// either refuses with a stable SsoRefusal code or adds what it learned to the context. Values are read
// only from the Assertion whose signature verified, and each rule of DESIGN.md rule 10 has its check.
import { SsoRefusal, SsoRefusedError } from '../sso.errors.js';
import type { SsoConnection } from '../sso-connection.entity.js';
import { childElement as child, childElements as children, parseXml, XmlParseError } from './xml.js';
import { SignatureWrappingError, verifiedAssertion } from './xml-signature.js';

const PROTOCOL = 'urn:oasis:names:tc:SAML:2.0:protocol';
const ASSERTION = 'urn:oasis:names:tc:SAML:2.0:assertion';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

export interface AcsInput {
  connection: SsoConnection;
  samlResponse: string;
  spEntityId: string;
  acsUrl: string;
  now: Date;
  clockSkewSeconds: number;
  maxBytes: number;
  validateSchema: (xml: string) => Promise<unknown>;
}

export interface AcsResult {
  /** The Response's InResponseTo: the pending request it answers. */
  inResponseTo: string;
  assertionId: string;
  /** Replay protection keeps the assertion ID until then. */
  notOnOrAfter: Date;
  nameId: string;
  nameIdFormat: string | null;
  attributes: Map<string, string[]>;
}

interface Context extends AcsInput {
  xml?: string;
  response?: Element;
  assertion?: Element;
  result: Partial<AcsResult>;
}

type Check = { name: string; run(ctx: Context): void | Promise<void> };

const refuse = (reason: SsoRefusal, check: string, detail?: string): never => {
  throw new SsoRefusedError(reason, check, detail);
};

function parse(xml: string, check: string): Element {
  try {
    return parseXml(xml);
  } catch (error) {
    if (error instanceof XmlParseError) refuse(SsoRefusal.MALFORMED, check, error.message);
    throw error;
  }
}

function time(value: string | null, check: string): Date | null {
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) refuse(SsoRefusal.MALFORMED, check, `bad time ${value}`);
  return date;
}

export const acsChecks: Check[] = [
  {
    name: 'size',
    run(ctx) {
      if (ctx.samlResponse.length > Math.ceil((ctx.maxBytes * 4) / 3) + 4)
        refuse(SsoRefusal.OVERSIZE, 'size');
    },
  },
  {
    name: 'decode',
    run(ctx) {
      if (!/^[A-Za-z0-9+/\s]+=*\s*$/.test(ctx.samlResponse))
        refuse(SsoRefusal.MALFORMED, 'decode', 'not base64');
      ctx.xml = Buffer.from(ctx.samlResponse, 'base64').toString('utf8');
      if (Buffer.byteLength(ctx.xml) > ctx.maxBytes) refuse(SsoRefusal.OVERSIZE, 'decode');
    },
  },
  {
    // Entity declarations are the door to XXE and entity expansion; SAML never needs them.
    name: 'noDoctype',
    run(ctx) {
      if (/<!DOCTYPE|<!ENTITY/i.test(ctx.xml!)) refuse(SsoRefusal.DOCTYPE_FORBIDDEN, 'noDoctype');
    },
  },
  {
    name: 'schema',
    async run(ctx) {
      try {
        await ctx.validateSchema(ctx.xml!);
      } catch (error) {
        refuse(SsoRefusal.SCHEMA_INVALID, 'schema', (error as Error).message.slice(0, 200));
      }
    },
  },
  {
    name: 'response',
    run(ctx) {
      const root = parse(ctx.xml!, 'response');
      if (root.namespaceURI !== PROTOCOL || root.localName !== 'Response')
        refuse(SsoRefusal.MALFORMED, 'response', 'not a samlp:Response');
      ctx.response = root;
    },
  },
  {
    // Exactly one Assertion anywhere in the document: extra ones are how signature wrapping hides.
    name: 'singleAssertion',
    run(ctx) {
      const doc = ctx.response!.ownerDocument;
      if (doc.getElementsByTagNameNS(ASSERTION, 'EncryptedAssertion').length > 0) {
        refuse(SsoRefusal.ENCRYPTED_ASSERTION_UNSUPPORTED, 'singleAssertion');
      }
      const count = doc.getElementsByTagNameNS(ASSERTION, 'Assertion').length;
      if (count !== 1 || children(ctx.response!, ASSERTION, 'Assertion').length !== 1) {
        refuse(SsoRefusal.MULTIPLE_ASSERTIONS, 'singleAssertion', `${count} assertions`);
      }
    },
  },
  {
    name: 'status',
    run(ctx) {
      const code = child(child(ctx.response, PROTOCOL, 'Status'), PROTOCOL, 'StatusCode')?.getAttribute(
        'Value',
      );
      if (code !== SUCCESS) refuse(SsoRefusal.STATUS_NOT_SUCCESS, 'status', code ?? 'none');
    },
  },
  {
    // IdP-initiated (unsolicited) responses carry no InResponseTo: refused before any cryptography.
    name: 'solicited',
    run(ctx) {
      const inResponseTo = ctx.response!.getAttribute('InResponseTo');
      if (!inResponseTo) return refuse(SsoRefusal.UNSOLICITED, 'solicited', 'no InResponseTo');
      ctx.result.inResponseTo = inResponseTo;
    },
  },
  {
    name: 'signature',
    run(ctx) {
      let verified: ReturnType<typeof verifiedAssertion>;
      try {
        verified = verifiedAssertion(ctx.response!, ctx.connection.idpCertificates ?? []);
      } catch (error) {
        if (error instanceof SignatureWrappingError)
          return refuse(SsoRefusal.WRAPPING_ATTACK, 'signature', error.message);
        throw error;
      }
      const assertion =
        verified.assertion ?? refuse(SsoRefusal.SIGNATURE_INVALID, 'signature', verified.problem);
      const inDocument = children(ctx.response!, ASSERTION, 'Assertion')[0]!;
      // The signed assertion must be the one in the document, not a copy smuggled elsewhere.
      if (assertion.getAttribute('ID') !== inDocument.getAttribute('ID')) {
        refuse(
          SsoRefusal.WRAPPING_ATTACK,
          'signature',
          'signed assertion is not the assertion of the response',
        );
      }
      ctx.assertion = assertion;
      ctx.result.assertionId =
        assertion.getAttribute('ID') ?? refuse(SsoRefusal.MALFORMED, 'signature', 'assertion without ID');
    },
  },
  {
    name: 'issuer',
    run(ctx) {
      const expected = ctx.connection.idpEntityId;
      const assertionIssuer = child(ctx.assertion, ASSERTION, 'Issuer')?.textContent?.trim();
      if (assertionIssuer !== expected) refuse(SsoRefusal.ISSUER_MISMATCH, 'issuer', assertionIssuer);
      const responseIssuer = child(ctx.response, ASSERTION, 'Issuer')?.textContent?.trim();
      if (responseIssuer !== undefined && responseIssuer !== expected)
        refuse(SsoRefusal.ISSUER_MISMATCH, 'issuer', 'response issuer');
    },
  },
  {
    name: 'destination',
    run(ctx) {
      const destination = ctx.response!.getAttribute('Destination');
      if (destination !== ctx.acsUrl)
        refuse(SsoRefusal.DESTINATION_MISMATCH, 'destination', destination ?? 'none');
    },
  },
  {
    name: 'audience',
    run(ctx) {
      const conditions = child(ctx.assertion, ASSERTION, 'Conditions');
      const audiences = conditions
        ? children(conditions, ASSERTION, 'AudienceRestriction').flatMap((r) =>
            children(r, ASSERTION, 'Audience').map((a) => a.textContent?.trim()),
          )
        : [];
      if (!audiences.includes(ctx.spEntityId))
        refuse(SsoRefusal.AUDIENCE_MISMATCH, 'audience', audiences.join(',') || 'none');
    },
  },
  {
    // A bearer confirmation for our ACS, answering our request.
    name: 'subjectConfirmation',
    run(ctx) {
      const subject = child(ctx.assertion, ASSERTION, 'Subject');
      const bearer = subject
        ? children(subject, ASSERTION, 'SubjectConfirmation').find((c) => c.getAttribute('Method') === BEARER)
        : undefined;
      const data = child(bearer, ASSERTION, 'SubjectConfirmationData');
      if (!data) refuse(SsoRefusal.RECIPIENT_MISMATCH, 'subjectConfirmation', 'no bearer confirmation');
      if (data!.getAttribute('Recipient') !== ctx.acsUrl)
        refuse(
          SsoRefusal.RECIPIENT_MISMATCH,
          'subjectConfirmation',
          data!.getAttribute('Recipient') ?? 'none',
        );
      // The Response's InResponseTo is unsigned when only the Assertion is signed: the signed confirmation
      // must name our request too (SAML profiles 4.1.4.2), or a stolen unsolicited assertion wrapped in a
      // Response naming the thief's own request would sign the thief in as its subject.
      const inResponseTo = data!.getAttribute('InResponseTo');
      if (inResponseTo !== ctx.result.inResponseTo)
        refuse(
          SsoRefusal.UNSOLICITED,
          'subjectConfirmation',
          inResponseTo ? 'InResponseTo differs' : 'no InResponseTo in the confirmation',
        );
    },
  },
  {
    // Both windows are checked with bounded skew; an assertion that never expires is refused.
    name: 'timeWindow',
    run(ctx) {
      const conditions = child(ctx.assertion, ASSERTION, 'Conditions');
      const subject = child(ctx.assertion, ASSERTION, 'Subject');
      const confirmation = subject
        ? children(subject, ASSERTION, 'SubjectConfirmation')
            .map((c) => child(c, ASSERTION, 'SubjectConfirmationData'))
            .find(Boolean)
        : undefined;
      const notBefore = time(conditions?.getAttribute('NotBefore') ?? null, 'timeWindow');
      const ends = [
        conditions?.getAttribute('NotOnOrAfter') ?? null,
        confirmation?.getAttribute('NotOnOrAfter') ?? null,
      ]
        .map((v) => time(v, 'timeWindow'))
        .filter((d): d is Date => d !== null);
      if (ends.length === 0) refuse(SsoRefusal.NO_TIME_BOUNDS, 'timeWindow');
      const skew = ctx.clockSkewSeconds * 1000;
      const now = ctx.now.getTime();
      if (notBefore && now + skew < notBefore.getTime()) refuse(SsoRefusal.NOT_YET_VALID, 'timeWindow');
      const end = Math.min(...ends.map((d) => d.getTime()));
      if (now - skew >= end) refuse(SsoRefusal.EXPIRED, 'timeWindow');
      ctx.result.notOnOrAfter = new Date(end + skew);
    },
  },
  {
    // textContent joins every text node, so a comment inside the NameID cannot cut the value short.
    name: 'subject',
    run(ctx) {
      const nameId = child(child(ctx.assertion, ASSERTION, 'Subject'), ASSERTION, 'NameID');
      const value = nameId?.textContent?.trim();
      if (!value) refuse(SsoRefusal.NO_SUBJECT, 'subject');
      ctx.result.nameId = value;
      ctx.result.nameIdFormat = nameId!.getAttribute('Format');
    },
  },
  {
    name: 'attributes',
    run(ctx) {
      const attributes = new Map<string, string[]>();
      for (const statement of children(ctx.assertion!, ASSERTION, 'AttributeStatement')) {
        for (const attribute of children(statement, ASSERTION, 'Attribute')) {
          const name = attribute.getAttribute('Name');
          if (!name) continue;
          // As sent: values are compared exactly downstream (group names, rule 11), so no trimming here.
          const values = children(attribute, ASSERTION, 'AttributeValue').map((v) => v.textContent ?? '');
          attributes.set(name, [...(attributes.get(name) ?? []), ...values]);
        }
      }
      ctx.result.attributes = attributes;
    },
  },
];

/** Runs every check in order; returns what the verified assertion says, or throws SsoRefusedError. */
export async function consumeSamlResponse(input: AcsInput): Promise<AcsResult> {
  const ctx: Context = { ...input, result: {} };
  for (const check of acsChecks) await check.run(ctx);
  return ctx.result as AcsResult;
}
