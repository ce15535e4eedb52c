// The SAML schema check refuses what the OASIS schemas refuse (and any DOCTYPE), accepts a realistic
// signed Response, frees what it parses, and is installed into samlify once per process.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { diag } from 'libxml2-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSamlSchemaValidator,
  findSchemaDirectory,
  installSamlSchemaValidator,
  SamlSchemaError,
  type SamlSchemaValidator,
} from '../../src/modules/sso/saml/schema-validator.js';

// A collection between measurements, so RSS shows what is retained rather than what awaits collection.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const b64 = (text: string) => Buffer.from(text).toString('base64');

const SIGNATURE = `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
      <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
      <ds:Reference URI="#_assertion-7d1c">
        <ds:Transforms>
          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
          <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
        <ds:DigestValue>${b64('a sha-256 digest, 32 bytes long.')}</ds:DigestValue>
      </ds:Reference>
      </ds:SignedInfo>
    <ds:SignatureValue>${b64('not a real RSA signature, but base64 all the same')}</ds:SignatureValue>
    <ds:KeyInfo>
      <ds:X509Data>
        <ds:X509Certificate>${b64('not a real certificate either')}</ds:X509Certificate>
      </ds:X509Data>
    </ds:KeyInfo>
  </ds:Signature>`;

const ISSUER = '<saml:Issuer>https://idp.acme.example/metadata</saml:Issuer>';

const SUBJECT = `<saml:Subject>
      <saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">ada@acme.example</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData InResponseTo="_request-41b0" NotOnOrAfter="2026-03-02T10:20:30Z"
            Recipient="https://console.example.com/sso/saml/acs"/>
      </saml:SubjectConfirmation>
    </saml:Subject>`;

const CONDITIONS = `<saml:Conditions NotBefore="2026-03-02T10:10:30Z" NotOnOrAfter="2026-03-02T10:20:30Z">
      <saml:AudienceRestriction>
        <saml:Audience>https://console.example.com/sso/saml/metadata</saml:Audience>
      </saml:AudienceRestriction>
    </saml:Conditions>`;

const AUTHN_STATEMENT = `<saml:AuthnStatement AuthnInstant="2026-03-02T10:15:29Z" SessionIndex="_session-3e8f">
      <saml:AuthnContext>
        <saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>
      </saml:AuthnContext>
    </saml:AuthnStatement>`;

const ATTRIBUTE_STATEMENT = `<saml:AttributeStatement>
      <saml:Attribute Name="email" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">
        <saml:AttributeValue xsi:type="xs:string">ada@acme.example</saml:AttributeValue>
      </saml:Attribute>
      <saml:Attribute Name="groups" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">
        <saml:AttributeValue xsi:type="xs:string">engineering</saml:AttributeValue>
        <saml:AttributeValue xsi:type="xs:string">admins</saml:AttributeValue>
      </saml:Attribute>
    </saml:AttributeStatement>`;

const ASSERTION_CHILDREN = [ISSUER, SIGNATURE, SUBJECT, CONDITIONS, AUTHN_STATEMENT, ATTRIBUTE_STATEMENT];
const ASSERTION_ATTRIBUTES = 'ID="_assertion-7d1c" Version="2.0" IssueInstant="2026-03-02T10:15:30Z"';

function assertion(
  children = ASSERTION_CHILDREN,
  attributes = ASSERTION_ATTRIBUTES,
  extraNamespaces = '',
): string {
  return `<saml:Assertion xmlns:xs="http://www.w3.org/2001/XMLSchema"
      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"${extraNamespaces} ${attributes}>
    ${children.join('\n    ')}
  </saml:Assertion>`;
}

const STATUS = `<samlp:Status>
    <samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>
  </samlp:Status>`;

function response(children = [ISSUER, STATUS, assertion()]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
    xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"
    ID="_response-9f2a" InResponseTo="_request-41b0" Version="2.0" IssueInstant="2026-03-02T10:15:30Z"
    Destination="https://console.example.com/sso/saml/acs">
  ${children.join('\n  ')}
</samlp:Response>`;
}

const VALID_RESPONSE = response();

/** The valid response with `from` replaced; fails loudly if `from` is not there (no vacuous case). */
function mutated(from: string | RegExp, to: string): string {
  const result = VALID_RESPONSE.replace(from, to);
  if (result === VALID_RESPONSE) throw new Error(`mutation did not apply: ${String(from)}`);
  return result;
}

/** The valid response whose Assertion has these children instead. */
function withAssertionChildren(...children: string[]): string {
  return response([ISSUER, STATUS, assertion(children)]);
}

/** The valid response whose Assertion carries these attributes instead. */
function withAttributes(attributes: string): string {
  return response([ISSUER, STATUS, assertion(ASSERTION_CHILDREN, attributes)]);
}

const [, , ...AFTER_SIGNATURE] = ASSERTION_CHILDREN;
const [, , , ...AFTER_SUBJECT] = ASSERTION_CHILDREN;

let validator: SamlSchemaValidator;

beforeAll(async () => {
  validator = await createSamlSchemaValidator();
});

afterAll(() => {
  validator.dispose();
});

async function refusal(xml: string): Promise<SamlSchemaError> {
  const error = await validator.validate(xml).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the document was accepted').toBeInstanceOf(SamlSchemaError);
  return error as SamlSchemaError;
}

describe('createSamlSchemaValidator', () => {
  it('accepts a realistic signed Response', async () => {
    await expect(validator.validate(VALID_RESPONSE)).resolves.toBe('SAML_SCHEMA_VALID');
  });

  it('accepts other SAML protocol messages (a LogoutRequest)', async () => {
    const logout = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
        xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_logout-1" Version="2.0"
        IssueInstant="2026-03-02T11:00:00Z"><saml:Issuer>https://idp.acme.example/metadata</saml:Issuer>
        <saml:NameID>ada@acme.example</saml:NameID></samlp:LogoutRequest>`;
    await expect(validator.validate(logout)).resolves.toBe('SAML_SCHEMA_VALID');
  });

  it.each<[string, string, RegExp]>([
    [
      'Response without its required Status',
      response([ISSUER, assertion()]),
      /Assertion': This element is not expected\. Expected is one of \(.*Status \)/,
    ],
    [
      'Assertion without Version',
      withAttributes('ID="_a1" IssueInstant="2026-03-02T10:15:30Z"'),
      /'Version' is required/,
    ],
    [
      'Assertion without ID',
      withAttributes('Version="2.0" IssueInstant="2026-03-02T10:15:30Z"'),
      /'ID' is required/,
    ],
    [
      'Assertion without IssueInstant',
      withAttributes('ID="_a1" Version="2.0"'),
      /'IssueInstant' is required/,
    ],
    [
      'Assertion without its required Issuer',
      withAssertionChildren(SIGNATURE, SUBJECT),
      /Signature.*not expected/,
    ],
    [
      'an IssueInstant that is not a dateTime',
      withAttributes('ID="_a1" Version="2.0" IssueInstant="yesterday"'),
      /dateTime/,
    ],
    [
      'two elements with the same ID',
      withAttributes('ID="_response-9f2a" Version="2.0" IssueInstant="2026-03-02T10:15:30Z"'),
      /'_response-9f2a' is not a valid value of the atomic type 'xs:ID'/,
    ],
    [
      'an unknown element in the Assertion',
      withAssertionChildren(ISSUER, '<saml:Role>admin</saml:Role>', SUBJECT),
      /Role.*not expected/,
    ],
    [
      'a foreign element in the Assertion',
      withAssertionChildren(ISSUER, '<x:Admin xmlns:x="urn:evil"/>'),
      /Admin.*not expected/,
    ],
    [
      'Subject before Issuer in the Assertion',
      withAssertionChildren(SUBJECT, ISSUER, SIGNATURE, ...AFTER_SUBJECT),
      /Subject.*not expected/,
    ],
    ['an Assertion before the Status', response([ISSUER, assertion(), STATUS]), /Assertion.*not expected/],
    [
      'a Response in the SAML 1.0 protocol namespace',
      mutated(
        'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"',
        'xmlns:samlp="urn:oasis:names:tc:SAML:1.0:protocol"',
      ),
      /root element \{urn:oasis:names:tc:SAML:1\.0:protocol\}Response is not a SAML 2\.0 protocol message/,
    ],
    [
      'an Assertion in the SAML 1.0 assertion namespace',
      response([
        ISSUER,
        STATUS,
        assertion(
          ASSERTION_CHILDREN,
          ASSERTION_ATTRIBUTES,
          ' xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion"',
        ),
      ]),
      /SAML:1\.0:assertion\}Assertion.*not expected/,
    ],
    [
      'a bare Assertion as the message',
      assertion(
        ASSERTION_CHILDREN,
        ASSERTION_ATTRIBUTES,
        ' xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"',
      ),
      /not a SAML 2\.0 protocol message/,
    ],
    [
      'a root that is not SAML at all',
      '<html><body>hello</body></html>',
      /root element \{\}html is not a SAML 2\.0 protocol message/,
    ],
    [
      'malformed XML (unclosed element)',
      mutated('</samlp:Response>', ''),
      /^line \d+: Premature end of data/,
    ],
    ['malformed XML (mismatched tags)', mutated('</saml:Audience>', '</saml:Audiences>'), /mismatch/i],
    ['an empty message', '', /^Failed to parse XML$/],
    [
      'a DOCTYPE with nested internal entities (billion laughs)',
      mutated(
        '<samlp:Response ',
        '<!DOCTYPE samlp:Response [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n<samlp:Response ',
      ).replace('ada@acme.example</saml:NameID>', '&c;</saml:NameID>'),
      /^a DOCTYPE is not allowed/,
    ],
    [
      'a DOCTYPE with an external entity (XXE)',
      mutated(
        '<samlp:Response ',
        '<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<samlp:Response ',
      ).replace('ada@acme.example</saml:NameID>', '&xxe;</saml:NameID>'),
      /^a DOCTYPE is not allowed/,
    ],
    [
      'a lower-case doctype',
      `<!doctype html>${VALID_RESPONSE.replace(/^<\?xml[^>]*>/, '')}`,
      /^a DOCTYPE is not allowed/,
    ],
    [
      'an entity reference without a DTD',
      mutated('ada@acme.example</saml:NameID>', '&xxe;</saml:NameID>'),
      /Entity 'xxe' not defined/,
    ],
    [
      'signature wrapping: an Assertion inside SignedInfo',
      mutated(
        '<ds:CanonicalizationMethod',
        `${assertion([ISSUER], 'ID="_evil" Version="2.0" IssueInstant="2026-03-02T10:15:30Z"')}<ds:CanonicalizationMethod`,
      ),
      /Assertion.*not expected/,
    ],
    [
      'signature wrapping: two Subject elements',
      withAssertionChildren(
        ISSUER,
        SIGNATURE,
        SUBJECT.replace('ada@acme.example', 'mallory@evil.example'),
        ...AFTER_SIGNATURE,
      ),
      /Subject.*not expected/,
    ],
    [
      'signature wrapping: two Issuers in the Assertion',
      withAssertionChildren(ISSUER, ISSUER, SIGNATURE, ...AFTER_SIGNATURE),
      /Issuer.*not expected/,
    ],
    [
      'signature wrapping: two Signatures in the Assertion',
      withAssertionChildren(ISSUER, SIGNATURE, SIGNATURE, ...AFTER_SIGNATURE),
      /Signature.*not expected/,
    ],
    [
      'text after the root element',
      `${VALID_RESPONSE}\ntrailing text`,
      /Extra content at the end of the document/,
    ],
    [
      'text before the root element',
      VALID_RESPONSE.replace('<samlp:Response ', 'leading text <samlp:Response '),
      /^line \d+: Start tag expected/,
    ],
    [
      'a second root element',
      `${VALID_RESPONSE}<samlp:Response/>`,
      /Extra content at the end of the document/,
    ],
  ])('refuses %s', async (_name, xml, detail) => {
    const error = await refusal(xml);
    expect(error.message).toMatch(/^SAML_SCHEMA_INVALID: /);
    expect(error.code).toBe('SAML_SCHEMA_INVALID');
    expect(error.detail).toMatch(detail);
  });

  it('refuses a value that is not a string', async () => {
    const error = await refusal(Buffer.from(VALID_RESPONSE) as unknown as string);
    expect(error.message).toBe('SAML_SCHEMA_INVALID: the message is not a string');
  });

  it('keeps memory flat over 2,000 validations and frees every document it parses', async () => {
    // Each SAML message arrives in its own event-loop turn. libxml2-wasm's WeakRefs keep their objects
    // until the turn ends, so a loop that never yields would measure them, not the validator.
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    const settledRss = async () => {
      await nextTurn();
      gc();
      return process.memoryUsage().rss;
    };
    const run = async (xml: string, times: number) => {
      for (let i = 1; i <= times; i++) {
        await validator.validate(xml).catch(() => undefined);
        if (i % 50 === 0) await nextTurn();
      }
    };
    const invalid = withAssertionChildren(ISSUER, '<saml:Role/>');
    await run(VALID_RESPONSE, 500); // warm up the JIT and the wasm heap
    await run(invalid, 2_000);
    diag.configure({ enabled: true });
    try {
      const before = await settledRss();
      await run(VALID_RESPONSE, 2_000);
      const afterValid = await settledRss();
      await run(invalid, 2_000);
      const after = await settledRss();
      const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;
      console.log(
        `SAML schema validator RSS: ${mb(before)} before; ${mb(afterValid)} after 2,000 valid responses ` +
          `(${mb(afterValid - before)}); ${mb(after)} after 2,000 refusals more (${mb(after - afterValid)})`,
      );
      expect(diag.report()).toEqual({}); // every libxml2 object created in the loops was disposed
      // The exact check is the line above. Process RSS moves by a few MB from run to run (allocator and
      // JIT), so this bound is set at 8 KB per validation: far above that noise, and far below the leak it
      // guards against (the usual samlify validator keeps over 1 MB per message, 2 GB over this loop).
      const bound = 2_000 * 8 * 1024;
      expect(afterValid - before).toBeLessThan(bound);
      expect(after - afterValid).toBeLessThan(bound);
    } finally {
      diag.configure({ enabled: false });
    }
  });

  it('refuses to work once disposed, without a libxml2 error', async () => {
    const short = await createSamlSchemaValidator();
    await expect(short.validate(VALID_RESPONSE)).resolves.toBe('SAML_SCHEMA_VALID');
    short.dispose();
    short.dispose(); // idempotent
    await expect(short.validate(VALID_RESPONSE)).rejects.toThrow('has been disposed');
  });
});

describe('findSchemaDirectory', () => {
  const root = new URL('../../', import.meta.url);
  const schemas = new URL('src/modules/sso/saml/schemas/', root).pathname;

  it.each([
    ['running from src/', new URL('src/modules/sso/saml/schema-validator.ts', root).href, '/'],
    [
      'running from dist/ in the repository',
      new URL('dist/src/modules/sso/saml/schema-validator.js', root).href,
      '/',
    ],
    [
      'running from a build outside the repository, started in it',
      pathToFileURL('/nowhere/ci-dist/src/modules/sso/saml/schema-validator.js').href,
      new URL('.', root).pathname,
    ],
  ])('finds the vendored schemas when %s', (_name, moduleUrl, cwd) => {
    expect(findSchemaDirectory(moduleUrl, cwd).replace(/\/?$/, '/')).toBe(schemas);
  });

  it('says where it looked when the schemas are nowhere', () => {
    expect(() => findSchemaDirectory('file:///nowhere/schema-validator.js', '/nowhere')).toThrow(
      /SAML schemas not found; looked in: \/nowhere\/schemas/,
    );
  });
});

describe('the vendored schemas', () => {
  const schemas = new URL('../../src/modules/sso/saml/schemas/', import.meta.url);
  const readme = readFileSync(new URL('README.md', schemas), 'utf8');
  const recorded = [...readme.matchAll(/^\| `([\w.-]+\.xsd)` +\|.*\| `([0-9a-f]{64})` +\|$/gm)].map((m) => [
    m[1]!,
    m[2]!,
  ]);

  it('are the four files the README lists', () => {
    const files = readdirSync(schemas).filter((name) => name.endsWith('.xsd'));
    expect(recorded.map(([name]) => name).sort()).toEqual(files.sort());
    expect(files).toHaveLength(4);
  });

  it.each(recorded)('%s has the SHA-256 the README records', (name, sha256) => {
    expect(
      createHash('sha256')
        .update(readFileSync(new URL(name, schemas)))
        .digest('hex'),
    ).toBe(sha256);
  });
});

describe('installSamlSchemaValidator', () => {
  it('creates one validator per process and hands it to samlify', async () => {
    const [first, second] = await Promise.all([installSamlSchemaValidator(), installSamlSchemaValidator()]);
    const third = await installSamlSchemaValidator();
    expect(second).toBe(first);
    expect(third).toBe(first);
    const { SamlLib } = await import('samlify');
    await expect(SamlLib.isValidXml(VALID_RESPONSE)).resolves.toBe('SAML_SCHEMA_VALID');
    await expect(SamlLib.isValidXml(response([ISSUER, assertion()]))).rejects.toThrow(
      /^SAML_SCHEMA_INVALID: /,
    );
  });
});
