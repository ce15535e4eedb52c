// SCIM filters (RFC 7644 §3.4.2.2). Responsible for three things:
//   1. parseFilter: a hand-written lexer and recursive-descent parser of the filter grammar into a small AST,
//      with limits (length, nesting, number of comparisons) so a filter costs a bounded amount of work;
//   2. compileFilter: that AST into parameterised SQL over a declared attribute map (values only ever travel
//      as `?` parameters);
//   3. the pieces PATCH paths reuse (scim-path.ts): attribute paths and bracketed value filters.
// Whatever the grammar or the schema does not accept is refused with ScimFilterError (scimType
// invalidFilter). An unknown attribute is an error, never a filter that silently matches every row.

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

/**
 * `urn:ietf:params:scim:schemas:core:2.0:User:name.givenName` reads as
 * `{ uri: 'urn:ietf:params:scim:schemas:core:2.0:user', attribute: 'name', subAttribute: 'givenname' }`.
 * Attribute names and schema URIs are case-insensitive in SCIM, so the parser lower-cases them: whoever
 * reads an AttrPath maps it to its canonical name case-insensitively (the compiler does so with its schema).
 */
export interface AttrPath {
  uri?: string;
  attribute: string;
  subAttribute?: string;
}

export type FilterValue = string | number | boolean | null;

export type FilterNode =
  | { kind: 'compare'; path: AttrPath; op: CompareOp; value: FilterValue }
  | { kind: 'present'; path: AttrPath }
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; operand: FilterNode }
  /** `emails[type eq "work"]`: some element of `path` matches `filter`, whose paths name sub-attributes. */
  | { kind: 'valuePath'; path: AttrPath; filter: FilterNode };

export class ScimFilterError extends Error {
  readonly scimType = 'invalidFilter';
  readonly status = 400;
  constructor(
    message: string,
    /** 1-based position in the filter text, when the error has one. */
    readonly position?: number,
  ) {
    super(message);
    this.name = 'ScimFilterError';
  }
}

export const FILTER_LIMITS = {
  /** Characters of filter text. */
  maxLength: 2000,
  /** Parentheses, `not (...)` and `[...]` nested in one another. */
  maxDepth: 20,
  /** Comparisons and `pr` tests in one filter. */
  maxComparisons: 50,
} as const;

const COMPARE_OPS: readonly string[] = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'];
const isCompareOp = (word: string): word is CompareOp => COMPARE_OPS.includes(word);
const isOperator = (word: string) => word === 'pr' || isCompareOp(word);

// RFC 7643 §2.1 ATTRNAME = ALPHA *(nameChar), plus the leading "$" of "$ref".
const ATTR_NAME = /^\$?[A-Za-z][A-Za-z0-9_-]*$/;
const SCHEMA_URI = /^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9_.:$-]+$/;
const WORD_CHAR = /[A-Za-z0-9_.:$-]/;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

// ---------------------------------------------------------------------------------------------------------
// Lexer: pulls one token at a time, so a bracket filter inside a PATCH path can stop at its "]".

type Punctuation = '(' | ')' | '[' | ']' | '.';
type Token = { start: number; end: number } & (
  | { kind: 'word'; text: string }
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: Punctuation }
  | { kind: 'end' }
);

const at = (offset: number) => `at position ${offset + 1}`;
const fail = (message: string, offset: number) => new ScimFilterError(message, offset + 1);
const clip = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}...` : text);

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the filter';
    case 'word':
      return `"${clip(token.text)}"`;
    case 'string':
      return `the string ${clip(JSON.stringify(token.value))}`;
    case 'number':
      return `the number ${token.value}`;
    default:
      return `"${token.kind}"`;
  }
}

class Lexer {
  private pos: number;
  private readonly ahead: Token[] = [];

  constructor(
    private readonly input: string,
    start: number,
  ) {
    this.pos = start;
  }

  peek(n = 0): Token {
    while (this.ahead.length <= n) this.ahead.push(this.scan());
    return this.ahead[n]!;
  }

  next(): Token {
    const token = this.peek();
    this.ahead.shift();
    return token;
  }

  /** The index just after the last token taken, when none is waiting in the look-ahead. */
  offset(): number {
    if (this.ahead.length > 0) throw new Error('Lexer.offset() with tokens looked ahead');
    return this.pos;
  }

  private scan(): Token {
    const input = this.input;
    while (this.pos < input.length && /\s/.test(input[this.pos]!)) this.pos++;
    const start = this.pos;
    const char = input[start];
    if (char === undefined) return { kind: 'end', start, end: start };
    if (char === '(' || char === ')' || char === '[' || char === ']' || char === '.') {
      this.pos++;
      return { kind: char, start, end: this.pos };
    }
    if (char === '"') return this.string(start);
    if (char === '-' || (char >= '0' && char <= '9')) return this.number(start);
    if (/[A-Za-z$]/.test(char)) {
      while (this.pos < input.length && WORD_CHAR.test(input[this.pos]!)) this.pos++;
      return { kind: 'word', text: input.slice(start, this.pos), start, end: this.pos };
    }
    if (char === "'" || char === '\u2018' || char === '\u201c') {
      throw fail(`Strings go in straight double quotes ("..."): found ${char} ${at(start)}`, start);
    }
    throw fail(`Unexpected character "${char}" ${at(start)}`, start);
  }

  /** A JSON string literal (RFC 8259 §7), decoded. */
  private string(start: number): Token {
    const input = this.input;
    let value = '';
    let i = start + 1;
    for (;;) {
      const char = input[i];
      if (char === undefined) throw fail(`Unterminated string starting ${at(start)}`, start);
      if (char === '"') break;
      if (char === '\\') {
        const escape = input[i + 1];
        const simple = escape === undefined ? undefined : ESCAPES[escape];
        if (simple !== undefined) {
          value += simple;
          i += 2;
        } else if (escape === 'u') {
          const unit = this.hex4(i);
          i += 6;
          if (unit >= 0xd800 && unit <= 0xdbff) {
            const low = input.slice(i, i + 2) === '\\u' ? this.hex4(i) : -1;
            if (low < 0xdc00 || low > 0xdfff) {
              throw fail(`Unpaired surrogate in "\\u${unit.toString(16)}" ${at(i - 6)}`, i - 6);
            }
            value += String.fromCharCode(unit, low);
            i += 6;
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            throw fail(`Unpaired surrogate in "\\u${unit.toString(16)}" ${at(i - 6)}`, i - 6);
          } else if (unit === 0) {
            // PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
            throw fail(`A string cannot contain "\\u0000" ${at(i - 6)}`, i - 6);
          } else {
            value += String.fromCharCode(unit);
          }
        } else {
          throw fail(`Invalid escape "\\${escape ?? ''}" in a string ${at(i)}`, i);
        }
        continue;
      }
      if (char < ' ') throw fail(`A control character must be escaped in a string ${at(i)}`, i);
      value += char;
      i++;
    }
    this.pos = i + 1;
    return { kind: 'string', value, start, end: this.pos };
  }

  private hex4(backslash: number): number {
    const digits = this.input.slice(backslash + 2, backslash + 6);
    if (!/^[0-9A-Fa-f]{4}$/.test(digits)) {
      throw fail(`Invalid unicode escape "\\u${digits}" ${at(backslash)}`, backslash);
    }
    return parseInt(digits, 16);
  }

  private number(start: number): Token {
    NUMBER.lastIndex = start;
    const match = NUMBER.exec(this.input);
    let end = start + (match?.[0].length ?? 0);
    if (!match || WORD_CHAR.test(this.input[end] ?? ' ')) {
      while (end < this.input.length && WORD_CHAR.test(this.input[end]!)) end++;
      throw fail(
        `Invalid number "${clip(this.input.slice(start, Math.max(end, start + 1)))}" ${at(start)}`,
        start,
      );
    }
    const value = Number(match[0]);
    if (!Number.isFinite(value)) throw fail(`Number out of range ${at(start)}`, start);
    this.pos = end;
    return { kind: 'number', value, start, end };
  }
}

const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

// ---------------------------------------------------------------------------------------------------------
// Parser. Precedence, loosest first: or, and, then not (...) / (...) / attribute expressions.

class Parser {
  private depth = 0;
  private comparisons = 0;

  constructor(private readonly lexer: Lexer) {}

  parseOr(inBrackets: boolean): FilterNode {
    let left = this.parseAnd(inBrackets);
    while (this.isWord(this.lexer.peek(), 'or')) {
      this.lexer.next();
      left = { kind: 'or', left, right: this.parseAnd(inBrackets) };
    }
    return left;
  }

  private parseAnd(inBrackets: boolean): FilterNode {
    let left = this.parseUnary(inBrackets);
    while (this.isWord(this.lexer.peek(), 'and')) {
      this.lexer.next();
      left = { kind: 'and', left, right: this.parseUnary(inBrackets) };
    }
    return left;
  }

  private parseUnary(inBrackets: boolean): FilterNode {
    const token = this.lexer.peek();
    if (token.kind === '(') {
      this.lexer.next();
      return this.nested(token, () => {
        const inner = this.parseOr(inBrackets);
        this.close(')', token);
        return inner;
      });
    }
    if (token.kind === 'word' && token.text.toLowerCase() === 'not') {
      const after = this.lexer.peek(1);
      if (after.kind === '(') {
        this.lexer.next();
        this.lexer.next();
        return this.nested(after, () => {
          const operand = this.parseOr(inBrackets);
          this.close(')', after);
          return { kind: 'not', operand };
        });
      }
      // `not pr` is an attribute named "not"; `not userName eq "x"` is a missing parenthesis.
      if (!(after.kind === 'word' && isOperator(after.text.toLowerCase()))) {
        throw fail(
          `"not" takes a filter in parentheses, as in not (...): found ${describe(after)} ${at(after.start)}`,
          after.start,
        );
      }
    }
    if (token.kind === 'word') return this.parseAttributeExpression(inBrackets);
    throw fail(
      `Expected an attribute name, "(" or "not" ${at(token.start)}, found ${describe(token)}`,
      token.start,
    );
  }

  private parseAttributeExpression(inBrackets: boolean): FilterNode {
    const word = this.lexer.next() as Token & { kind: 'word' };
    const path = parseAttrPathAt(word.text, word.start);
    const bracket = this.lexer.peek();
    if (bracket.kind !== '[') return this.parseOperation(path, word.text);

    if (inBrackets) throw fail(`Value filters cannot be nested ${at(bracket.start)}`, bracket.start);
    if (path.subAttribute !== undefined) {
      throw fail(
        `A value filter follows a multi-valued attribute, not "${clip(word.text)}" ${at(bracket.start)}`,
        bracket.start,
      );
    }
    this.lexer.next();
    const filter = this.parseBracketBody(bracket);
    if (this.lexer.peek().kind !== '.') return { kind: 'valuePath', path, filter };

    // `emails[type eq "work"].value eq "x"`: not in the RFC's filter grammar, but Entra ID sends it. It reads
    // as "some work e-mail has the value x", so the comparison joins the bracket filter on the same element.
    const dot = this.lexer.next();
    const name = this.lexer.next();
    if (name.kind !== 'word' || name.start !== dot.end || !ATTR_NAME.test(name.text)) {
      throw fail(
        `Expected a sub-attribute name after "]." ${at(dot.start)}, found ${describe(name)}`,
        name.start,
      );
    }
    const condition = this.parseOperation(
      { attribute: name.text.toLowerCase() },
      `${word.text}[...].${name.text}`,
    );
    return { kind: 'valuePath', path, filter: { kind: 'and', left: filter, right: condition } };
  }

  /** After "[": the value filter and its "]". */
  parseBracketBody(open: Token): FilterNode {
    return this.nested(open, () => {
      const filter = this.parseOr(true);
      this.close(']', open);
      return filter;
    });
  }

  private parseOperation(path: AttrPath, pathText: string): FilterNode {
    const op = this.lexer.next();
    const name = op.kind === 'word' ? op.text.toLowerCase() : '';
    if (!isOperator(name)) {
      const found = op.kind === 'word' ? `the unknown operator ${describe(op)}` : describe(op);
      throw fail(
        `Expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after "${clip(pathText)}" ${at(op.start)}, found ${found}`,
        op.start,
      );
    }
    if (++this.comparisons > FILTER_LIMITS.maxComparisons) {
      throw fail(
        `A filter can hold at most ${FILTER_LIMITS.maxComparisons} comparisons ${at(op.start)}`,
        op.start,
      );
    }
    if (name === 'pr') return { kind: 'present', path };
    const compareOp = name as CompareOp;
    const token = this.lexer.next();
    let value: FilterValue;
    if (token.kind === 'string' || token.kind === 'number') value = token.value;
    else if (this.isWord(token, 'true')) value = true;
    else if (this.isWord(token, 'false')) value = false;
    else if (this.isWord(token, 'null')) value = null;
    else {
      const hint = token.kind === 'word' ? ' (strings go in double quotes)' : '';
      throw fail(
        `Expected a value ("string", number, true, false or null) after "${op.kind === 'word' ? op.text : ''}" ${at(token.start)}, found ${describe(token)}${hint}`,
        token.start,
      );
    }
    const problem = operandProblem(compareOp, value);
    if (problem) throw fail(`${problem} ${at(op.start)}`, op.start);
    return { kind: 'compare', path, op: compareOp, value };
  }

  private nested<T>(opener: Token, parse: () => T): T {
    if (++this.depth > FILTER_LIMITS.maxDepth) {
      throw fail(
        `A filter can nest at most ${FILTER_LIMITS.maxDepth} levels ${at(opener.start)}`,
        opener.start,
      );
    }
    const result = parse();
    this.depth--;
    return result;
  }

  private close(closer: ')' | ']', opener: Token): void {
    const token = this.lexer.next();
    if (token.kind === closer) return;
    throw fail(
      `Expected "${closer}" to close the "${opener.kind}" ${at(opener.start)}, found ${describe(token)} ${at(token.start)}`,
      token.start,
    );
  }

  private isWord(token: Token, word: string): boolean {
    return token.kind === 'word' && token.text.toLowerCase() === word;
  }
}

/** What is wrong with `op value` whatever the attribute, or undefined. Shared by parser, compiler and matcher. */
export function operandProblem(op: CompareOp, value: FilterValue): string | undefined {
  if (value === null) return `"${op} null" is not supported: test presence with "pr" or "not (... pr)"`;
  if (typeof value === 'boolean' && op !== 'eq' && op !== 'ne') {
    return `A boolean can only be compared with "eq" or "ne", not "${op}"`;
  }
  if (typeof value === 'number' && (op === 'co' || op === 'sw' || op === 'ew')) {
    return `"${op}" compares strings, not the number ${value}`;
  }
  return undefined;
}

function parseAttrPathAt(text: string, offset: number): AttrPath {
  const colon = text.lastIndexOf(':');
  const uri = colon < 0 ? undefined : text.slice(0, colon);
  const parts = text.slice(colon + 1).split('.');
  const valid =
    (uri === undefined || SCHEMA_URI.test(uri)) &&
    parts.length <= 2 &&
    parts.every((part) => ATTR_NAME.test(part));
  if (!valid) {
    throw fail(
      `Invalid attribute path "${clip(text)}" ${at(offset)}: expected [schema URI:]attribute[.subAttribute]`,
      offset,
    );
  }
  const [attribute, subAttribute] = parts as [string, string | undefined];
  return {
    ...(uri === undefined ? {} : { uri: uri.toLowerCase() }),
    attribute: attribute.toLowerCase(),
    ...(subAttribute === undefined ? {} : { subAttribute: subAttribute.toLowerCase() }),
  };
}

function checkLength(input: string): void {
  if (typeof input !== 'string') throw new ScimFilterError('The filter must be a string');
  if (input.length > FILTER_LIMITS.maxLength) {
    throw new ScimFilterError(`A filter can be at most ${FILTER_LIMITS.maxLength} characters long`);
  }
}

export function parseFilter(input: string): FilterNode {
  checkLength(input);
  const lexer = new Lexer(input, 0);
  if (lexer.peek().kind === 'end') throw new ScimFilterError('The filter is empty');
  const node = new Parser(lexer).parseOr(false);
  const rest = lexer.next();
  if (rest.kind !== 'end') {
    throw fail(
      `Expected "and", "or" or the end of the filter ${at(rest.start)}, found ${describe(rest)}`,
      rest.start,
    );
  }
  return node;
}

/** `[schema URI:]attribute[.subAttribute]`, as in a filter; for PATCH paths. */
export function parseAttrPath(text: string, offset = 0): AttrPath {
  checkLength(text);
  return parseAttrPathAt(text, offset);
}

/**
 * The value filter of a PATCH path such as `emails[type eq "work"].value`: `open` is the index of "[" in
 * `input`; returns the filter and the index just after its "]". For scim-path.ts.
 */
export function parseBracketFilter(input: string, open: number): { filter: FilterNode; end: number } {
  checkLength(input);
  const lexer = new Lexer(input, open);
  const bracket = lexer.next();
  if (bracket.kind !== '[') throw fail(`Expected "[" ${at(open)}, found ${describe(bracket)}`, open);
  const filter = new Parser(lexer).parseBracketBody(bracket);
  // The parser took the "]" and looked at nothing after it, so the lexer stopped right behind it.
  return { filter, end: lexer.offset() };
}

/** `urn:...:User:name.givenName`, for messages. */
export function formatAttrPath(path: AttrPath): string {
  const local = path.subAttribute === undefined ? path.attribute : `${path.attribute}.${path.subAttribute}`;
  return path.uri === undefined ? local : `${path.uri}:${local}`;
}

// ---------------------------------------------------------------------------------------------------------
// Compiler to SQL. Values only ever travel as `?` parameters (knex/MikroORM style), in the order of the SQL.
// SQL text comes from the schema alone: column expressions, and sub-attribute names the schema declares.

/** A single-valued attribute: `sql` is a trusted column expression (`u.user_name`). */
export interface ColumnSpec {
  sql: string;
  type: 'string' | 'boolean' | 'datetime' | 'number';
  /** Strings compare case-insensitively (RFC 7643 §2.2 default) unless caseExact, e.g. ids. */
  caseExact?: boolean;
  /**
   * A column holding the attribute already case-folded, and the function that folded it: case-insensitive
   * comparisons read that column with the value folded the same way, so its indexes serve them, where
   * lower() on both sides would leave only a scan of every row.
   */
  folded?: { sql: string; fold: (value: string) => string };
}

/** A sub-attribute of elements stored in a JSONB array: read as `elem->>'name'`, cast by type. */
export interface JsonbSubAttributeSpec {
  type: ColumnSpec['type'];
  caseExact?: boolean;
}

/** A multi-valued attribute stored as a JSONB array of objects, e.g. `emails`. */
export interface JsonbMultiValuedSpec {
  jsonbColumn: string;
  subAttributes: Record<string, JsonbSubAttributeSpec>;
}

/**
 * A multi-valued attribute kept in another table, e.g. a group's `members`. `existsSql` wraps a condition on
 * one row of that table into a correlated test, `(where) => \`exists (select 1 from group_member m where
 * m.group_id = g.id and ${where})\``; `subAttributes` give the columns of that row. Neither may contain `?`.
 */
export interface SubqueryMultiValuedSpec {
  existsSql: (innerWhere: string) => string;
  subAttributes: Record<string, ColumnSpec>;
}

export type MultiValuedSpec = JsonbMultiValuedSpec | SubqueryMultiValuedSpec;

export interface FilterSchema {
  /** The resource's core schema URI: a path qualified with it (`urn:...:core:2.0:User:userName`) reads as unqualified. */
  schemaUri?: string;
  /** By canonical dotted name: `userName`, `name.givenName`, `meta.lastModified`, `urn:...:User:employeeNumber`. */
  attributes: Record<string, ColumnSpec>;
  /** By canonical name: `emails`, `members`. A comparison on the attribute itself reads its `value`. */
  multiValued?: Record<string, MultiValuedSpec>;
}

/** What a compiled filter binds: never null (comparisons with null are refused) and never a Date. */
export type SqlParam = string | number | boolean;

export interface CompiledFilter {
  sql: string;
  params: SqlParam[];
}

type Target =
  | { kind: 'column'; name: string; column: ColumnSpec }
  | { kind: 'multiValued'; name: string; spec: MultiValuedSpec; sub?: { name: string; column: ColumnSpec } };

type Resolve = (path: AttrPath, needsValue: boolean) => Target;

export function compileFilter(node: FilterNode, schema: FilterSchema): CompiledFilter {
  const params: SqlParam[] = [];
  const sql = compileNode(node, (path, needsValue) => resolveTop(schema, path, needsValue), params, false);
  return { sql, params };
}

function compileNode(node: FilterNode, resolve: Resolve, params: SqlParam[], inElement: boolean): string {
  switch (node.kind) {
    case 'and':
    case 'or': {
      const left = compileNode(node.left, resolve, params, inElement);
      const right = compileNode(node.right, resolve, params, inElement);
      return `(${left} ${node.kind} ${right})`;
    }
    case 'not':
      // SCIM logic is two-valued: a comparison on a missing value is false, so its negation is true.
      return `not coalesce(${compileNode(node.operand, resolve, params, inElement)}, false)`;
    case 'present': {
      const target = resolve(node.path, false);
      if (target.kind === 'column') return presentSql(target.column);
      if (target.sub) return existsSql(target.spec, presentSql(target.sub.column));
      return 'jsonbColumn' in target.spec
        ? `jsonb_array_length(${target.spec.jsonbColumn}) > 0`
        : target.spec.existsSql('true');
    }
    case 'compare': {
      const target = resolve(node.path, true);
      if (target.kind === 'column')
        return compareSql(target.name, target.column, node.op, node.value, params);
      const sub = target.sub!;
      const condition = compareSql(`${target.name}.${sub.name}`, sub.column, node.op, node.value, params);
      return existsSql(target.spec, condition);
    }
    case 'valuePath': {
      if (inElement) throw new ScimFilterError('Value filters cannot be nested');
      const target = resolve(node.path, false);
      if (target.kind !== 'multiValued' || target.sub) {
        throw new ScimFilterError(
          `"${formatAttrPath(node.path)}" is not a multi-valued attribute: it takes no [filter]`,
        );
      }
      const spec = target.spec;
      const inElementScope: Resolve = (path) => ({
        kind: 'column',
        ...elementColumn(target.name, spec, path),
      });
      const inner = compileNode(node.filter, inElementScope, params, true);
      return existsSql(spec, inner);
    }
  }
}

function resolveTop(schema: FilterSchema, path: AttrPath, needsValue: boolean): Target {
  const core = schema.schemaUri?.toLowerCase();
  const prefix = path.uri === undefined || path.uri === core ? '' : `${path.uri}:`;
  const dotted = prefix + formatAttrPath({ attribute: path.attribute, subAttribute: path.subAttribute });
  const column = findName(schema.attributes, dotted);
  if (column) return { kind: 'column', name: column[0], column: column[1] };

  const multi = findName(schema.multiValued, prefix + path.attribute);
  if (!multi) throw new ScimFilterError(`Unknown attribute "${formatAttrPath(path)}" in the filter`);
  const [name, spec] = multi;
  const subName = path.subAttribute ?? (needsValue ? 'value' : undefined);
  if (subName === undefined) return { kind: 'multiValued', name, spec };
  return { kind: 'multiValued', name, spec, sub: elementColumn(name, spec, { attribute: subName }) };
}

/** A path inside `emails[...]`: a sub-attribute of one element, as a column of that element. */
function elementColumn(
  parent: string,
  spec: MultiValuedSpec,
  path: AttrPath,
): { name: string; column: ColumnSpec } {
  const label = `${parent}.${formatAttrPath(path)}`;
  const found =
    path.uri === undefined
      ? findName<ColumnSpec | JsonbSubAttributeSpec>(spec.subAttributes, formatAttrPath(path))
      : undefined;
  if (!found) throw new ScimFilterError(`Unknown attribute "${label}" in the filter`);
  const [name, sub] = found;
  if ('existsSql' in spec) return { name, column: sub as ColumnSpec };
  const text = `elem->>'${name.replace(/'/g, "''")}'`;
  const sql = {
    string: text,
    boolean: `(${text})::boolean`,
    number: `(${text})::numeric`,
    datetime: `(${text})::timestamptz`,
  }[sub.type];
  return { name, column: { sql, type: sub.type, caseExact: sub.caseExact } };
}

function existsSql(spec: MultiValuedSpec, where: string): string {
  return 'jsonbColumn' in spec
    ? `exists (select 1 from jsonb_array_elements(${spec.jsonbColumn}) elem where ${where})`
    : spec.existsSql(where);
}

function presentSql(column: ColumnSpec): string {
  return column.type === 'string'
    ? `(${column.sql} is not null and ${column.sql} <> '')`
    : `${column.sql} is not null`;
}

const TYPE_NAMES = {
  string: 'a string',
  boolean: 'a boolean',
  datetime: 'a date and time',
  number: 'a number',
};

function compareSql(
  name: string,
  column: ColumnSpec,
  op: CompareOp,
  value: FilterValue,
  params: SqlParam[],
): string {
  const problem = operandProblem(op, value);
  if (problem) throw new ScimFilterError(`${problem} (on "${name}")`);
  const holds = `"${name}" holds ${TYPE_NAMES[column.type]}`;
  // RFC 7644 §3.4.2.2: booleans compare only for equality, and co/sw/ew are string matches.
  if (column.type === 'boolean' && op !== 'eq' && op !== 'ne') {
    throw new ScimFilterError(`${holds}: only "eq" and "ne" compare it, not "${op}"`);
  }
  if (column.type !== 'string' && (op === 'co' || op === 'sw' || op === 'ew')) {
    throw new ScimFilterError(`"${op}" compares strings: ${holds}`);
  }
  const expected = column.type === 'datetime' ? 'string' : column.type;
  if (typeof value !== expected) {
    throw new ScimFilterError(`${holds}: it cannot be compared with ${JSON.stringify(value)}`);
  }

  const col = column.sql;
  if (column.type === 'string' && !column.caseExact) {
    const [folded, param, text] = column.folded
      ? [column.folded.sql, '?', column.folded.fold(value as string)]
      : [`lower(${col})`, 'lower(?)', value as string];
    if (op === 'co' || op === 'sw' || op === 'ew') {
      params.push(likePattern(op, text));
      return `${folded} like ${param} escape '\\'`;
    }
    params.push(text);
    return `${folded} ${OPERATOR_SQL[op]} ${param}`;
  }
  if (column.type === 'string' && (op === 'co' || op === 'sw' || op === 'ew')) {
    params.push(likePattern(op, value as string));
    return `${col} like ? escape '\\'`;
  }
  if (column.type === 'datetime') {
    const instant = isoDateTime(value as string);
    if (instant === undefined) {
      throw new ScimFilterError(
        `${holds}: ${JSON.stringify(value)} is not one (expected like "2011-05-13T04:42:34Z")`,
      );
    }
    params.push(instant);
  } else {
    params.push(value as SqlParam);
  }
  return `${col} ${OPERATOR_SQL[op as Exclude<CompareOp, 'co' | 'sw' | 'ew'>]} ?`;
}

/** ne is `is distinct from`: a missing value is not equal to anything, as `not (x eq ...)` also says. */
const OPERATOR_SQL = { eq: '=', ne: 'is distinct from', gt: '>', ge: '>=', lt: '<', le: '<=' } as const;

/** A LIKE pattern matching `text` literally: `\`, `%` and `_` escaped with the `escape '\'` character. */
function likePattern(op: 'co' | 'sw' | 'ew', text: string): string {
  const escaped = text.replace(/[\\%_]/g, '\\$&');
  return op === 'sw' ? `${escaped}%` : op === 'ew' ? `%${escaped}` : `%${escaped}%`;
}

const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))?$/i;

/**
 * An xsd:dateTime (RFC 7643 §2.3.5) checked field by field, returned for the database with its zone; one
 * without a zone is read as UTC, so the result never depends on the session's time zone.
 */
export function isoDateTime(text: string): string | undefined {
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as number[];
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  const valid =
    year! >= 1 &&
    month! >= 1 &&
    month! <= 12 &&
    day! >= 1 &&
    day! <= daysInMonth &&
    hour! <= 23 &&
    minute! <= 59 &&
    second! <= 59 &&
    (match[9] === undefined || (Number(match[9]) <= 14 && Number(match[10]) <= 59));
  if (!valid) return undefined;
  return match[8] === undefined ? `${text.toUpperCase()}Z` : text.toUpperCase();
}

function findName<T>(record: Record<string, T> | undefined, name: string): [string, T] | undefined {
  if (!record) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(record)) if (key.toLowerCase() === wanted) return [key, value];
  return undefined;
}
