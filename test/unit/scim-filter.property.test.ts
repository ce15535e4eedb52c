// Properties of the SCIM filter parser and compiler (scim-filter.ts) and of PATCH paths (scim-path.ts):
// printed trees parse back to themselves, filters on the service's own schemas compile to SQL whose values
// travel only as parameters, and garbage, deep nesting and long inputs end in the typed error
// (invalidFilter, invalidPath), never a TypeError, a stack overflow or a hang.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AttrPath,
  type CompareOp,
  compileFilter,
  FILTER_LIMITS,
  type FilterNode,
  formatAttrPath,
  type FilterSchema,
  type FilterValue,
  isoDateTime,
  parseFilter,
  ScimFilterError,
} from '../../src/modules/scim/scim-filter.js';
import { matchesFilter, parsePatchPath, ScimPathError } from '../../src/modules/scim/scim-path.js';
import { GROUP_FILTER, USER_FILTER } from '../../src/modules/scim/scim.service.js';

const RUNS = { numRuns: 200 };

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const ORDERING_OPS: CompareOp[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];
const STRING_OPS: CompareOp[] = [...ORDERING_OPS, 'co', 'sw', 'ew'];

/** Runs `run`; a throw must be `type` (the module's typed error), anything else fails the property. */
function typedOrValue<T>(run: () => T, type: typeof ScimFilterError | typeof ScimPathError): T | undefined {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof type)) throw error;
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Printing a tree back to filter text, as a client would write it.

interface PrintStyle {
  /** `AND`, `Not`, `EQ`: keywords and operators are case-insensitive. */
  upper: boolean;
  /** Between tokens: any run of white space is one. */
  space: string;
  /** Parentheses around every operand of and/or, or only where precedence needs them. */
  fullParens: boolean;
}

const printPath = (path: AttrPath) =>
  `${path.uri === undefined ? '' : `${path.uri}:`}${path.attribute}${path.subAttribute === undefined ? '' : `.${path.subAttribute}`}`;

function printValue(value: FilterValue, style: PrintStyle): string {
  if (typeof value === 'string' || typeof value === 'number') return JSON.stringify(value);
  return style.upper ? String(value).toUpperCase() : String(value);
}

function print(node: FilterNode, style: PrintStyle): string {
  const word = (w: string) => (style.upper ? w.toUpperCase() : w);
  const s = style.space;
  const operand = (child: FilterNode, parens: boolean) =>
    parens || style.fullParens ? `(${s}${print(child, style)}${s})` : print(child, style);
  switch (node.kind) {
    case 'compare':
      return `${printPath(node.path)}${s}${word(node.op)}${s}${printValue(node.value, style)}`;
    case 'present':
      return `${printPath(node.path)}${s}${word('pr')}`;
    case 'not':
      return `${word('not')}${s}(${s}${print(node.operand, style)}${s})`;
    case 'valuePath':
      return `${printPath(node.path)}[${s}${print(node.filter, style)}${s}]`;
    case 'and':
      // "and" binds tighter than "or", and both group to the left.
      return `${operand(node.left, node.left.kind === 'or')}${s}${word('and')}${s}${operand(node.right, node.right.kind === 'or' || node.right.kind === 'and')}`;
    case 'or':
      return `${operand(node.left, false)}${s}${word('or')}${s}${operand(node.right, node.right.kind === 'or')}`;
  }
}

/** The parser lower-cases attribute names and schema URIs (they are case-insensitive in SCIM). */
function lowerPaths(node: FilterNode): FilterNode {
  const lower = (path: AttrPath): AttrPath => ({
    ...(path.uri === undefined ? {} : { uri: path.uri.toLowerCase() }),
    attribute: path.attribute.toLowerCase(),
    ...(path.subAttribute === undefined ? {} : { subAttribute: path.subAttribute.toLowerCase() }),
  });
  switch (node.kind) {
    case 'compare':
    case 'present':
      return { ...node, path: lower(node.path) };
    case 'not':
      return { kind: 'not', operand: lowerPaths(node.operand) };
    case 'valuePath':
      return { kind: 'valuePath', path: lower(node.path), filter: lowerPaths(node.filter) };
    case 'and':
    case 'or':
      return { kind: node.kind, left: lowerPaths(node.left), right: lowerPaths(node.right) };
  }
}

const style = fc.record({
  upper: fc.boolean(),
  space: fc.constantFrom(' ', '  ', '\t', '\n', ' \r\n '),
  fullParens: fc.boolean(),
});

// ---------------------------------------------------------------------------------------------------------
// Trees of any attribute names, operators and values the grammar accepts.

// "not" followed by "[" reads as a misplaced "not (...)", so it is no name for a multi-valued attribute.
const attrName = fc.oneof(
  fc.stringMatching(/^\$?[A-Za-z][A-Za-z0-9_-]{0,12}$/).filter((name) => name.toLowerCase() !== 'not'),
  fc.mixedCase(fc.constantFrom('userName', 'emails', 'value', 'type', 'name', 'givenName', 'meta', 'active')),
);
const attrPath = (withSub: boolean): fc.Arbitrary<AttrPath> =>
  fc
    .tuple(
      fc.option(fc.constantFrom(CORE_USER, ENTERPRISE_USER, 'urn:example:scim:Ext_1.0:Thing'), {
        nil: undefined,
      }),
      attrName,
      withSub ? fc.option(attrName, { nil: undefined }) : fc.constant(undefined),
    )
    .map(([uri, attribute, subAttribute]) => ({
      ...(uri === undefined ? {} : { uri }),
      attribute,
      ...(subAttribute === undefined ? {} : { subAttribute }),
    }));

// Strings in the text of a filter: any Unicode but NUL, which PostgreSQL text cannot hold.
const text = fc.string({ unit: 'binary', maxLength: 30 }).map((s) => s.replace(/\0/g, ''));
const number = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
);
const comparison = fc.oneof(
  fc.tuple(fc.constantFrom(...STRING_OPS), text),
  fc.tuple(fc.constantFrom(...ORDERING_OPS), number),
  fc.tuple(fc.constantFrom<CompareOp>('eq', 'ne'), fc.boolean()),
);

const leaf: fc.Arbitrary<FilterNode> = fc.oneof(
  fc
    .tuple(attrPath(true), comparison)
    .map(([path, [op, value]]): FilterNode => ({ kind: 'compare', path, op, value })),
  attrPath(true).map((path): FilterNode => ({ kind: 'present', path })),
);

/** `leaf` and the `beside` trees (value paths), joined by and, or and not. */
function combine(
  leafArb: fc.Arbitrary<FilterNode>,
  beside: Array<fc.Arbitrary<FilterNode>> = [],
): fc.Arbitrary<FilterNode> {
  return fc.letrec<{ node: FilterNode }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leafArb,
      fc
        .tuple(fc.constantFrom<'and' | 'or'>('and', 'or'), tie('node'), tie('node'))
        .map(([kind, left, right]): FilterNode => ({ kind, left, right })),
      tie('node').map((operand): FilterNode => ({ kind: 'not', operand })),
      ...beside,
    ),
  })).node;
}

const valuePath = (path: fc.Arbitrary<AttrPath>, filter: fc.Arbitrary<FilterNode>) =>
  fc.tuple(path, filter).map(([p, f]): FilterNode => ({ kind: 'valuePath', path: p, filter: f }));

const tree = (inBrackets: boolean): fc.Arbitrary<FilterNode> =>
  combine(leaf, inBrackets ? [] : [valuePath(attrPath(false), tree(true))]);

function comparisons(node: FilterNode): FilterNode[] {
  switch (node.kind) {
    case 'compare':
    case 'present':
      return [node];
    case 'not':
      return comparisons(node.operand);
    case 'valuePath':
      return comparisons(node.filter);
    case 'and':
    case 'or':
      return [...comparisons(node.left), ...comparisons(node.right)];
  }
}

const withinLimits = (node: FilterNode) => comparisons(node).length <= FILTER_LIMITS.maxComparisons;

describe('parseFilter: printed trees', () => {
  it('parses a printed tree back to the same tree, in any case, spacing and parenthesising', () => {
    fc.assert(
      fc.property(tree(false).filter(withinLimits), style, (node, printStyle) => {
        const printed = print(node, printStyle);
        fc.pre(printed.length <= FILTER_LIMITS.maxLength);
        expect(parseFilter(printed)).toEqual(lowerPaths(node));
      }),
      RUNS,
    );
  });

  it("reads Entra's emails[...].sub op value as the comparison joined to the bracket filter", () => {
    fc.assert(
      fc.property(
        attrPath(false),
        tree(true).filter(withinLimits),
        attrName,
        comparison,
        style,
        (path, filter, sub, [op, value], printStyle) => {
          const condition: FilterNode = { kind: 'compare', path: { attribute: sub }, op, value };
          const entra = `${printPath(path)}[${print(filter, printStyle)}].${print(condition, printStyle)}`;
          fc.pre(entra.length <= FILTER_LIMITS.maxLength);
          expect(parseFilter(entra)).toEqual(
            lowerPaths({ kind: 'valuePath', path, filter: { kind: 'and', left: filter, right: condition } }),
          );
        },
      ),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Trees over the service's own schemas, with values of the types their attributes hold.

type ValueType = 'string' | 'boolean' | 'datetime' | 'number';

// A mark no column expression of the schemas contains: if a value reached the SQL text, so would it.
const MARK = '§';
const valueOf: Record<ValueType, fc.Arbitrary<[CompareOp, FilterValue]>> = {
  string: fc.tuple(
    fc.constantFrom(...STRING_OPS),
    fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `${MARK}${s.replace(/\0/g, '')}'?--${MARK}`),
  ),
  boolean: fc.tuple(fc.constantFrom<CompareOp>('eq', 'ne'), fc.boolean()),
  datetime: fc.tuple(
    fc.constantFrom(...ORDERING_OPS),
    fc
      .date({
        min: new Date('1900-01-01T00:00:00Z'),
        max: new Date('2999-12-31T23:59:59Z'),
        noInvalidDate: true,
      })
      .map((date) => date.toISOString()),
  ),
  number: fc.tuple(fc.constantFrom(...ORDERING_OPS), fc.integer()),
};

/** Every path of `schema` a filter may name, with the type it compares as; `[...]` paths separately. */
function schemaPaths(schema: FilterSchema) {
  const leaves: Array<{ name: string; type: ValueType }> = Object.entries(schema.attributes).map(
    ([name, column]) => ({ name, type: column.type }),
  );
  const multi = Object.entries(schema.multiValued ?? {}).map(([name, spec]) => ({
    name,
    subs: Object.entries(spec.subAttributes).map(([sub, column]) => ({ name: sub, type: column.type })),
  }));
  for (const { name, subs } of multi) {
    for (const sub of subs) {
      leaves.push({ name: `${name}.${sub.name}`, type: sub.type });
      // A comparison on the attribute itself reads its `value`.
      if (sub.name === 'value') leaves.push({ name, type: sub.type });
    }
  }
  return { leaves, multi };
}

/** `name.givenName` as an AttrPath, in any case, optionally qualified with the core schema's URI. */
const schemaPath = (name: string, uri?: string): fc.Arbitrary<AttrPath> =>
  fc.tuple(fc.mixedCase(fc.constant(name)), fc.boolean()).map(([spelled, qualified]) => {
    const [attribute, subAttribute] = spelled.split('.') as [string, string | undefined];
    return {
      ...(qualified && uri ? { uri } : {}),
      attribute,
      ...(subAttribute === undefined ? {} : { subAttribute }),
    };
  });

function schemaTree(schema: FilterSchema): fc.Arbitrary<FilterNode> {
  const { leaves, multi } = schemaPaths(schema);
  const leafOn = (paths: Array<{ name: string; type: ValueType }>, uri?: string) =>
    fc.constantFrom(...paths).chain(({ name, type }) =>
      fc.oneof(
        fc
          .tuple(schemaPath(name, uri), valueOf[type])
          .map(([path, [op, value]]): FilterNode => ({ kind: 'compare', path, op, value })),
        schemaPath(name, uri).map((path): FilterNode => ({ kind: 'present', path })),
      ),
    );
  const valuePaths = multi.map(({ name, subs }) =>
    valuePath(schemaPath(name, schema.schemaUri), combine(leafOn(subs))),
  );
  return combine(leafOn(leaves, schema.schemaUri), valuePaths).filter(withinLimits);
}

/**
 * The parameter a comparison binds, by the compiler's rules: a folded column's value folded (userName's
 * key), LIKE patterns, instants with a zone.
 */
function expectedParam(schema: FilterSchema, node: FilterNode & { kind: 'compare' }): unknown {
  const { op } = node;
  if (typeof node.value !== 'string') return node.value;
  const name = formatAttrPath({ attribute: node.path.attribute, subAttribute: node.path.subAttribute });
  const column = Object.entries(schema.attributes).find(([key]) => key.toLowerCase() === name.toLowerCase());
  const value = column?.[1].folded ? column[1].folded.fold(node.value) : node.value;
  const escaped = value.replace(/[\\%_]/g, '\\$&');
  if (op === 'co') return `%${escaped}%`;
  if (op === 'sw') return `${escaped}%`;
  if (op === 'ew') return `%${escaped}`;
  return value.includes(MARK) ? value : isoDateTime(value);
}

describe('compileFilter on the service schemas', () => {
  it.each([
    ['Users', USER_FILTER],
    ['Groups', GROUP_FILTER],
  ])('%s: values travel only as parameters, one per comparison, in order', (_, schema) => {
    fc.assert(
      fc.property(schemaTree(schema), style, (node, printStyle) => {
        const printed = print(node, printStyle);
        fc.pre(printed.length <= FILTER_LIMITS.maxLength);
        const { sql, params } = compileFilter(parseFilter(printed), schema);
        expect(sql).not.toContain(MARK);
        const compares = comparisons(node).filter((n) => n.kind === 'compare');
        expect(params).toEqual(compares.map((compare) => expectedParam(schema, compare)));
        expect(sql.split('?').length - 1).toBe(params.length);
      }),
      RUNS,
    );
  });

  it('refuses an unknown attribute with invalidFilter, never a filter matching every row', () => {
    const known = new Set(
      [...Object.keys(USER_FILTER.attributes), ...Object.keys(USER_FILTER.multiValued ?? {})].map((name) =>
        name.split('.')[0]!.toLowerCase(),
      ),
    );
    const isKnown = (path: AttrPath) =>
      known.has(path.attribute.toLowerCase()) &&
      (path.uri === undefined || path.uri.toLowerCase() === CORE_USER.toLowerCase());
    fc.assert(
      fc.property(tree(false).filter(withinLimits), (node) => {
        const compiled = typedOrValue(() => compileFilter(node, USER_FILTER), ScimFilterError);
        if (!topPaths(node).every(isKnown)) expect(compiled).toBeUndefined();
        if (compiled) expect(compiled.sql.split('?').length - 1).toBe(compiled.params.length);
      }),
      RUNS,
    );
  });
});

/** The paths a filter names outside brackets: those the schema itself must know. */
function topPaths(node: FilterNode): AttrPath[] {
  switch (node.kind) {
    case 'compare':
    case 'present':
    case 'valuePath':
      return [node.path];
    case 'not':
      return topPaths(node.operand);
    case 'and':
    case 'or':
      return [...topPaths(node.left), ...topPaths(node.right)];
  }
}

// ---------------------------------------------------------------------------------------------------------
// Garbage: only ScimFilterError (or ScimPathError for paths), with a position inside the text.

const TOKENS = [
  ...'()[]."\\ \t:$-_0123456789eE+'.split(''),
  'not',
  'NOT',
  'and',
  'or',
  'pr',
  'eq',
  'co',
  'gt',
  'true',
  'null',
  'userName',
  'emails',
  'value',
  'name.givenName',
  'meta.lastModified',
  CORE_USER,
  ':',
  '"x"',
  '"2011-05-13T04:42:34Z"',
  '\\u',
  '\\ud800',
  '\\u0000',
  '"\u0001"',
  '“',
  "'",
  '-1.5e3',
  '1e999',
  '😀',
];
const soup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((parts) => parts.join(''));
const mutatedFilter = fc
  .tuple(tree(false).filter(withinLimits), style, fc.nat(), fc.nat(), fc.constantFrom(...TOKENS))
  .map(([node, printStyle, at, cut, token]) => {
    const printed = print(node, printStyle);
    const i = at % (printed.length + 1);
    return printed.slice(0, i) + token + printed.slice(i + (cut % 3));
  });
const anyFilterText = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), soup, mutatedFilter);

function checkPosition(error: ScimFilterError | ScimPathError, input: string) {
  if (error.position === undefined) return;
  expect(error.position).toBeGreaterThanOrEqual(1);
  expect(error.position).toBeLessThanOrEqual(input.length + 1);
}

describe('garbage filters', () => {
  it('parse, compile and match, or fail with invalidFilter', () => {
    fc.assert(
      fc.property(anyFilterText, fc.jsonValue(), (input, resource) => {
        let node: FilterNode;
        try {
          node = parseFilter(input);
        } catch (error) {
          expect(error).toBeInstanceOf(ScimFilterError);
          expect((error as ScimFilterError).scimType).toBe('invalidFilter');
          checkPosition(error as ScimFilterError, input);
          return;
        }
        typedOrValue(() => compileFilter(node, USER_FILTER), ScimFilterError);
        typedOrValue(() => compileFilter(node, GROUP_FILTER), ScimFilterError);
        const matched = typedOrValue(() => matchesFilter(node, resource), ScimFilterError);
        if (matched !== undefined) expect(typeof matched).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('parse as PATCH paths, or fail with invalidPath', () => {
    const pathText = fc.oneof(
      anyFilterText,
      fc
        .tuple(fc.constantFrom('emails', 'members', 'name', CORE_USER + ':emails'), anyFilterText)
        .map(([attribute, rest]) => `${attribute}[${rest}`),
    );
    fc.assert(
      fc.property(pathText, (input) => {
        try {
          parsePatchPath(input);
        } catch (error) {
          expect(error).toBeInstanceOf(ScimPathError);
          expect((error as ScimPathError).scimType).toBe('invalidPath');
          checkPosition(error as ScimPathError, input);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('refuses deep nesting and long inputs with invalidFilter, quickly and without a stack overflow', () => {
    const opener = fc.constantFrom('(', 'not (', 'NOT(', 'emails[', '[', '( not (');
    const hostile = fc.oneof(
      fc
        .tuple(fc.array(opener, { minLength: FILTER_LIMITS.maxDepth + 1, maxLength: 3000 }), fc.boolean())
        .map(
          ([openers, closed]) =>
            `${openers.join('')}userName pr${
              closed
                ? openers
                    .map((o) => (o.endsWith('[') ? ']' : ')'))
                    .reverse()
                    .join('')
                : ''
            }`,
        ),
      fc
        .integer({ min: FILTER_LIMITS.maxComparisons + 1, max: 5000 })
        .map((n) => Array.from({ length: n }, (_, i) => `a${i} pr`).join(' and ')),
      fc
        .integer({ min: FILTER_LIMITS.maxLength + 1, max: 200_000 })
        .map((n) => `userName eq "${'a'.repeat(n)}"`),
      fc.integer({ min: 1000, max: 100_000 }).map((n) => '('.repeat(n)),
    );
    fc.assert(
      fc.property(hostile, (input) => {
        const started = performance.now();
        expect(() => parseFilter(input)).toThrow(ScimFilterError);
        expect(() => parsePatchPath(`emails${input}`)).toThrow(ScimPathError);
        expect(performance.now() - started).toBeLessThan(1000);
      }),
      { numRuns: 100 },
    );
  });
});
