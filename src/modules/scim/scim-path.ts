// PATCH paths (RFC 7644 §3.5.2): `attrPath` or `attrPath[valFilter]` with an optional `.subAttr`, parsed with
// the filter parser's own pieces, and matchesFilter, which applies a filter to plain objects in memory (the
// elements a path like `emails[type eq "work"]` or `members[value eq "..."]` selects). Entra's path-less
// replace with dotted keys (`{"name.givenName": "x"}`) is the caller's business, not this file's.
import {
  type AttrPath,
  type CompareOp,
  type FilterNode,
  type FilterValue,
  formatAttrPath,
  isoDateTime,
  operandProblem,
  parseAttrPath,
  parseBracketFilter,
  ScimFilterError,
} from './scim-filter.js';

export class ScimPathError extends Error {
  readonly scimType = 'invalidPath';
  readonly status = 400;
  constructor(
    message: string,
    /** 1-based position in the path text, when the error has one. */
    readonly position?: number,
  ) {
    super(message);
    this.name = 'ScimPathError';
  }
}

export interface PatchPath {
  /** Lower-cased, like every AttrPath: map it to the canonical name case-insensitively. */
  attribute: AttrPath;
  /** The bracket filter; its paths name sub-attributes of one element (`type`, `value`). */
  filter?: FilterNode;
  /** The sub-attribute after "]" (`emails[type eq "work"].value` gives `value`), lower-cased. */
  subAttribute?: string;
}

const SUB_ATTRIBUTE = /^\.(\$?[A-Za-z][A-Za-z0-9_-]*)$/;

export function parsePatchPath(input: string): PatchPath {
  try {
    return parse(input);
  } catch (error) {
    if (error instanceof ScimFilterError) {
      throw new ScimPathError(error.message.replace('end of the filter', 'end of the path'), error.position);
    }
    throw error;
  }
}

function parse(input: string): PatchPath {
  if (typeof input !== 'string' || input.trim() === '') throw new ScimPathError('The path is empty');
  const open = input.indexOf('[');
  const head = open < 0 ? input : input.slice(0, open);
  const start = head.length - head.trimStart().length;
  const attribute = parseAttrPath(head.trim(), start);
  if (open < 0) return { attribute };

  if (attribute.subAttribute !== undefined) {
    throw new ScimPathError(
      `A value filter follows a multi-valued attribute, not "${head.trim()}" (position ${open + 1})`,
      open + 1,
    );
  }
  const { filter, end } = parseBracketFilter(input, open);
  const rest = input.slice(end).trimEnd();
  if (rest === '') return { attribute, filter };
  const sub = SUB_ATTRIBUTE.exec(rest);
  if (!sub) {
    throw new ScimPathError(
      `Expected the end of the path or ".subAttribute" after "]" at position ${end + 1}, found "${rest.slice(0, 40)}"`,
      end + 1,
    );
  }
  return { attribute, filter, subAttribute: sub[1]!.toLowerCase() };
}

/**
 * The values a filter made only of `eq` comparisons joined by `and` pins down: `type eq "work"` gives
 * `{ type: 'work' }`. For a PATCH that targets `emails[type eq "work"].value` on a user with no such e-mail
 * and must create one. Undefined when the filter has any other shape.
 */
export function filterEqualities(node: FilterNode): Record<string, FilterValue> | undefined {
  if (node.kind === 'compare' && node.op === 'eq' && node.path.uri === undefined) {
    return { [formatAttrPath(node.path)]: node.value };
  }
  if (node.kind !== 'and') return undefined;
  const left = filterEqualities(node.left);
  const right = filterEqualities(node.right);
  return left && right ? { ...left, ...right } : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// In-memory evaluation, with the compiler's rules: strings compare case-insensitively unless caseExact,
// a multi-valued attribute matches when one of its values does, a missing value matches only "ne".

export interface MatchOptions {
  /** Whether the attribute at this lower-cased dotted path (`value`, `emails.value`) compares case-exactly. */
  caseExact?: (path: string) => boolean;
}

export function matchesFilter(node: FilterNode, object: unknown, options: MatchOptions = {}): boolean {
  return evaluate(node, object, options, '');
}

function evaluate(node: FilterNode, object: unknown, options: MatchOptions, parent: string): boolean {
  switch (node.kind) {
    case 'and':
      return evaluate(node.left, object, options, parent) && evaluate(node.right, object, options, parent);
    case 'or':
      return evaluate(node.left, object, options, parent) || evaluate(node.right, object, options, parent);
    case 'not':
      return !evaluate(node.operand, object, options, parent);
    case 'present': {
      const found = lookup(object, node.path);
      return (Array.isArray(found) ? found : [found]).some((v) => v !== undefined && v !== null && v !== '');
    }
    case 'valuePath': {
      const found = lookup(object, node.path);
      const elements = Array.isArray(found) ? found : found === undefined || found === null ? [] : [found];
      const scope = `${parent}${formatAttrPath(node.path)}.`;
      return elements.some((element) => evaluate(node.filter, element, options, scope));
    }
    case 'compare': {
      const problem = operandProblem(node.op, node.value);
      if (problem) throw new ScimFilterError(`${problem} (on "${formatAttrPath(node.path)}")`);
      const found = lookup(object, node.path);
      if (found === undefined || found === null) return node.op === 'ne';
      const exact = options.caseExact?.(`${parent}${formatAttrPath(node.path)}`) ?? false;
      return valuesOf(found).some((value) => compare(value, node.op, node.value!, exact));
    }
  }
}

/** The attribute's value: for a complex multi-valued attribute and a sub-attribute, one per element. */
function lookup(object: unknown, path: AttrPath): unknown {
  let base = object;
  if (path.uri !== undefined) {
    // An extension's attributes live under its URI; the core schema's at the top of a resource naming it.
    const extension = property(object, path.uri);
    if (isRecord(extension)) base = extension;
    else if (!declaresSchema(object, path.uri)) return undefined;
  }
  const value = property(base, path.attribute);
  if (path.subAttribute === undefined) return value;
  const sub = path.subAttribute;
  if (Array.isArray(value))
    return value.map((element) => property(element, sub)).filter((v) => v !== undefined);
  return property(value, sub);
}

/** The values a comparison looks at: each element, and the `value` of complex elements. */
function valuesOf(found: unknown): unknown[] {
  if (found === undefined || found === null) return [];
  if (!Array.isArray(found)) return [found];
  return found
    .map((element) =>
      isRecord(element) && !(element instanceof Date) ? property(element, 'value') : element,
    )
    .filter((value) => value !== undefined && value !== null);
}

function compare(
  actual: unknown,
  op: CompareOp,
  expected: string | number | boolean,
  exact: boolean,
): boolean {
  if (typeof expected === 'boolean' || typeof expected === 'number') {
    if (typeof actual !== typeof expected) return op === 'ne';
    return order(actual as number | boolean, op, expected);
  }
  if (actual instanceof Date) {
    const iso = isoDateTime(expected);
    const instant = iso === undefined ? NaN : Date.parse(iso);
    if (Number.isNaN(instant) || op === 'co' || op === 'sw' || op === 'ew') return op === 'ne';
    return order(actual.getTime(), op, instant);
  }
  if (typeof actual !== 'string') return op === 'ne';
  const a = exact ? actual : actual.toLowerCase();
  const b = exact ? expected : expected.toLowerCase();
  if (op === 'co') return a.includes(b);
  if (op === 'sw') return a.startsWith(b);
  if (op === 'ew') return a.endsWith(b);
  return order(a, op, b);
}

function order<T extends string | number | boolean>(a: T, op: CompareOp, b: T): boolean {
  switch (op) {
    case 'eq':
      return a === b;
    case 'ne':
      return a !== b;
    case 'gt':
      return a > b;
    case 'ge':
      return a >= b;
    case 'lt':
      return a < b;
    case 'le':
      return a <= b;
    default:
      return false;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Attribute names are case-insensitive: `property({ userName: 'x' }, 'username')` is 'x'. */
function property(object: unknown, name: string): unknown {
  if (!isRecord(object)) return undefined;
  for (const key of Object.keys(object)) if (key.toLowerCase() === name) return object[key];
  return undefined;
}

function declaresSchema(object: unknown, uri: string): boolean {
  const schemas = property(object, 'schemas');
  return Array.isArray(schemas) && schemas.some((s) => typeof s === 'string' && s.toLowerCase() === uri);
}
