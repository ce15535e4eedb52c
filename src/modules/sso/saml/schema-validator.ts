// The XML Schema check the ACS runs on every SAML message before it reads it (and samlify's validator, so
// nothing samlify parses goes unchecked either): the OASIS SAML 2.0 protocol
// schema (with the assertion, XML Signature and XML Encryption schemas it imports), compiled once by
// libxml2-wasm and applied to each message. Its duties:
// - refuse any document with a DOCTYPE, before parsing, so no entity is ever declared or expanded;
// - parse without network, external entities or entity substitution;
// - refuse a root element outside the SAML 2.0 protocol namespace (it is handed whole messages);
// - refuse anything the schemas refuse, with libxml2's first complaint in the message;
// - free every libxml2 document it parses (wasm memory is not garbage collected).
// Every refusal is a SamlSchemaError whose message starts with `SAML_SCHEMA_INVALID:`.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ParseOption,
  XmlBufferInputProvider,
  XmlDocument,
  XmlLibError,
  xmlRegisterInputProvider,
  XsdValidator,
} from 'libxml2-wasm';
import { setSchemaValidator } from 'samlify';

export const SAML_SCHEMA_INVALID = 'SAML_SCHEMA_INVALID';
const VALID = 'SAML_SCHEMA_VALID';
const PROTOCOL_NAMESPACE = 'urn:oasis:names:tc:SAML:2.0:protocol';

// Named exactly as the schemas' <import schemaLocation="..."> attributes name each other.
const PROTOCOL_SCHEMA = 'saml-schema-protocol-2.0.xsd';
const SCHEMA_FILES = [
  PROTOCOL_SCHEMA,
  'saml-schema-assertion-2.0.xsd',
  'xmldsig-core-schema.xsd',
  'xenc-schema.xsd',
] as const;

// No XML_PARSE_NOENT (entity substitution), DTDLOAD, DTDATTR, DTDVALID, XINCLUDE, RECOVER or HUGE.
// NONET and NO_XXE keep libxml2 from fetching anything should a DTD ever get past the check below.
const PARSE_OPTIONS = {
  option: ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_NO_XXE,
  // A JS string reaches libxml2 as UTF-8 whatever its XML declaration says: decode it as such.
  encoding: 'utf-8',
};

// Case-insensitive and anywhere in the text (a comment or CDATA holding one is refused too: a SAML
// message has no reason to carry the string).
const DOCTYPE = /<!DOCTYPE/i;
const MAX_DETAIL_LENGTH = 300;

export interface SamlSchemaValidator {
  /** Resolves with a short status when `xml` is a schema-valid SAML 2.0 protocol message; throws a
   * SamlSchemaError otherwise. Does not depend on `this` (samlify calls it detached). */
  validate(xml: string): Promise<string>;
  /** Frees the compiled schema. The validator installed into samlify lives as long as the process. */
  dispose(): void;
}

/** A message refused by the schema check; `detail` is libxml2's first complaint (or ours). */
export class SamlSchemaError extends Error {
  readonly code = SAML_SCHEMA_INVALID;

  constructor(readonly detail: string) {
    super(`${SAML_SCHEMA_INVALID}: ${detail}`);
    this.name = 'SamlSchemaError';
  }
}

/**
 * The folder holding the vendored XSDs. tsc does not copy them to dist/, so a build finds them in the
 * source tree: next to this module (running from src/), then from dist/src/modules/sso/saml/ back up to
 * the repository's src/, then under the working directory (a build emitted outside the repository).
 */
export function findSchemaDirectory(
  moduleUrl: string = import.meta.url,
  cwd: string = process.cwd(),
): string {
  const candidates = [
    fileURLToPath(new URL('./schemas/', moduleUrl)),
    fileURLToPath(new URL('../../../../../src/modules/sso/saml/schemas/', moduleUrl)),
    path.join(cwd, 'src', 'modules', 'sso', 'saml', 'schemas'),
  ];
  const found = candidates.find((dir) => existsSync(path.join(dir, PROTOCOL_SCHEMA)));
  if (!found) throw new Error(`SAML schemas not found; looked in: ${candidates.join(', ')}`);
  return found;
}

// libxml2's input callbacks are process-global and its table is small: register one provider, once,
// and let it hold the schemas only while they are being compiled.
let schemaProvider: XmlBufferInputProvider | undefined;

function registeredSchemaProvider(): XmlBufferInputProvider {
  if (!schemaProvider) {
    const provider = new XmlBufferInputProvider({});
    if (!xmlRegisterInputProvider(provider)) {
      throw new Error('libxml2 refused the SAML schema input provider');
    }
    schemaProvider = provider;
  }
  return schemaProvider;
}

interface CompiledSchema {
  schema: XsdValidator;
  /** The compiled schema may point into this document (its annotations): kept until dispose(). */
  schemaDoc: XmlDocument;
}

async function compileProtocolSchema(): Promise<CompiledSchema> {
  const dir = findSchemaDirectory();
  const files = new Map<string, Buffer>();
  for (const name of SCHEMA_FILES) files.set(name, await readFile(path.join(dir, name)));
  const provider = registeredSchemaProvider();
  for (const [name, bytes] of files) provider.addBuffer(name, bytes);
  try {
    // The URL is the base its imports resolve against, so they reach the provider by their bare names.
    const schemaDoc = XmlDocument.fromBuffer(files.get(PROTOCOL_SCHEMA)!, { url: PROTOCOL_SCHEMA });
    try {
      return { schema: XsdValidator.fromDoc(schemaDoc), schemaDoc };
    } catch (error) {
      schemaDoc.dispose();
      throw error;
    }
  } finally {
    for (const name of SCHEMA_FILES) provider.removeBuffer(name);
  }
}

function bounded(text: string): string {
  return text.length > MAX_DETAIL_LENGTH ? `${text.slice(0, MAX_DETAIL_LENGTH)}...` : text;
}

function refusal(error: unknown): SamlSchemaError {
  if (error instanceof SamlSchemaError) return error;
  const first = error instanceof XmlLibError ? error.details[0] : undefined;
  if (first) return new SamlSchemaError(bounded(`line ${first.line}: ${first.message.trim()}`));
  const message = error instanceof Error ? error.message.trim() : '';
  return new SamlSchemaError(bounded(message || 'unreadable XML'));
}

function checkParsed(doc: XmlDocument, schema: XsdValidator): void {
  if (doc.dtd !== null) throw new SamlSchemaError('a DOCTYPE is not allowed in a SAML message');
  const root = doc.root;
  if (root.namespaceUri !== PROTOCOL_NAMESPACE) {
    throw new SamlSchemaError(
      bounded(`root element {${root.namespaceUri}}${root.name} is not a SAML 2.0 protocol message`),
    );
  }
  schema.validate(doc);
}

/** Compiles the SAML 2.0 protocol schema and returns a validator for whole SAML messages. */
export async function createSamlSchemaValidator(): Promise<SamlSchemaValidator> {
  let compiled: CompiledSchema | undefined = await compileProtocolSchema();

  return {
    async validate(xml: string): Promise<string> {
      if (!compiled) throw new Error('the SAML schema validator has been disposed');
      if (typeof xml !== 'string') throw new SamlSchemaError('the message is not a string');
      if (DOCTYPE.test(xml)) throw new SamlSchemaError('a DOCTYPE is not allowed in a SAML message');
      let doc: XmlDocument;
      try {
        doc = XmlDocument.fromString(xml, PARSE_OPTIONS);
      } catch (error) {
        throw refusal(error);
      }
      try {
        checkParsed(doc, compiled.schema);
      } catch (error) {
        throw refusal(error);
      } finally {
        doc.dispose();
      }
      return VALID;
    },
    dispose(): void {
      if (!compiled) return;
      compiled.schema.dispose();
      compiled.schemaDoc.dispose();
      compiled = undefined;
    },
  };
}

let installed: Promise<SamlSchemaValidator> | undefined;

/**
 * Creates the validator once per process and makes it samlify's schema validator (samlify refuses every
 * message until one is set). Later calls return the same validator; a failed creation is retried.
 */
export async function installSamlSchemaValidator(): Promise<SamlSchemaValidator> {
  installed ??= createSamlSchemaValidator().then(
    (validator) => {
      setSchemaValidator({ validate: validator.validate });
      return validator;
    },
    (error: unknown) => {
      installed = undefined;
      throw error;
    },
  );
  return installed;
}
