import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dropDatabase, ensureDatabase } from '../../src/db/database.js';
import { positional } from '../../src/db/plain-reads.js';
import {
  type AttrPath,
  type CompareOp,
  compileFilter,
  FILTER_LIMITS,
  type FilterNode,
  type FilterSchema,
  type FilterValue,
  isoDateTime,
  parseFilter,
  ScimFilterError,
} from '../../src/modules/scim/scim-filter.js';
import { matchesFilter } from '../../src/modules/scim/scim-path.js';
import {
  listStatements,
  USER_FILTER,
  USERS as USER_LIST,
  WANTED_MEMBERS,
} from '../../src/modules/scim/scim.service.js';
import { nodesOf, type PlanDatabase, planDatabase } from '../support/plans.js';

const path = (attribute: string, subAttribute?: string, uri?: string): AttrPath => ({
  ...(uri === undefined ? {} : { uri }),
  attribute,
  ...(subAttribute === undefined ? {} : { subAttribute }),
});
const cmp = (p: AttrPath, op: CompareOp, value: FilterValue): FilterNode => ({
  kind: 'compare',
  path: p,
  op,
  value,
});
const pr = (p: AttrPath): FilterNode => ({ kind: 'present', path: p });
const and = (left: FilterNode, right: FilterNode): FilterNode => ({ kind: 'and', left, right });
const or = (left: FilterNode, right: FilterNode): FilterNode => ({ kind: 'or', left, right });
const not = (operand: FilterNode): FilterNode => ({ kind: 'not', operand });
const valuePath = (p: AttrPath, filter: FilterNode): FilterNode => ({ kind: 'valuePath', path: p, filter });

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

function errorOf(run: () => unknown): ScimFilterError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ScimFilterError);
    expect((error as ScimFilterError).scimType).toBe('invalidFilter');
    return error as ScimFilterError;
  }
  throw new Error('expected a ScimFilterError');
}

describe('parseFilter: the RFC 7644 §3.4.2.2 examples', () => {
  it.each<[string, FilterNode]>([
    ['userName eq "bjensen"', cmp(path('username'), 'eq', 'bjensen')],
    [`name.familyName co "O'Malley"`, cmp(path('name', 'familyname'), 'co', "O'Malley")],
    ['userName sw "J"', cmp(path('username'), 'sw', 'J')],
    [`${CORE_USER}:userName sw "J"`, cmp(path('username', undefined, CORE_USER.toLowerCase()), 'sw', 'J')],
    ['title pr', pr(path('title'))],
    [
      'meta.lastModified gt "2011-05-13T04:42:34Z"',
      cmp(path('meta', 'lastmodified'), 'gt', '2011-05-13T04:42:34Z'),
    ],
    [
      'meta.lastModified ge "2011-05-13T04:42:34Z"',
      cmp(path('meta', 'lastmodified'), 'ge', '2011-05-13T04:42:34Z'),
    ],
    [
      'meta.lastModified lt "2011-05-13T04:42:34Z"',
      cmp(path('meta', 'lastmodified'), 'lt', '2011-05-13T04:42:34Z'),
    ],
    [
      'meta.lastModified le "2011-05-13T04:42:34Z"',
      cmp(path('meta', 'lastmodified'), 'le', '2011-05-13T04:42:34Z'),
    ],
    ['title pr and userType eq "Employee"', and(pr(path('title')), cmp(path('usertype'), 'eq', 'Employee'))],
    ['title pr or userType eq "Intern"', or(pr(path('title')), cmp(path('usertype'), 'eq', 'Intern'))],
    [`schemas eq "${ENTERPRISE_USER}"`, cmp(path('schemas'), 'eq', ENTERPRISE_USER)],
    [
      'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
      and(
        cmp(path('usertype'), 'eq', 'Employee'),
        or(cmp(path('emails'), 'co', 'example.com'), cmp(path('emails', 'value'), 'co', 'example.org')),
      ),
    ],
    [
      'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
      and(
        cmp(path('usertype'), 'ne', 'Employee'),
        not(or(cmp(path('emails'), 'co', 'example.com'), cmp(path('emails', 'value'), 'co', 'example.org'))),
      ),
    ],
    [
      'userType eq "Employee" and (emails.type eq "work")',
      and(cmp(path('usertype'), 'eq', 'Employee'), cmp(path('emails', 'type'), 'eq', 'work')),
    ],
    [
      'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
      and(
        cmp(path('usertype'), 'eq', 'Employee'),
        valuePath(
          path('emails'),
          and(cmp(path('type'), 'eq', 'work'), cmp(path('value'), 'co', '@example.com')),
        ),
      ),
    ],
    [
      'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
      or(
        valuePath(
          path('emails'),
          and(cmp(path('type'), 'eq', 'work'), cmp(path('value'), 'co', '@example.com')),
        ),
        valuePath(path('ims'), and(cmp(path('type'), 'eq', 'xmpp'), cmp(path('value'), 'co', '@foo.com'))),
      ),
    ],
  ])('%s', (filter, tree) => {
    expect(parseFilter(filter)).toEqual(tree);
  });
});

describe('parseFilter: what Okta and Entra ID send', () => {
  it.each<[string, string, FilterNode]>([
    ['Okta', 'userName eq "a@b.com"', cmp(path('username'), 'eq', 'a@b.com')],
    ['Okta', 'displayName eq "anthropic-acme-admin"', cmp(path('displayname'), 'eq', 'anthropic-acme-admin')],
    ['Okta', 'externalId eq "00u1"', cmp(path('externalid'), 'eq', '00u1')],
    ['Entra', 'userName eq "a@b.com"', cmp(path('username'), 'eq', 'a@b.com')],
    ['Entra', 'externalId eq "x"', cmp(path('externalid'), 'eq', 'x')],
    ['Entra', 'displayName eq "g"', cmp(path('displayname'), 'eq', 'g')],
    [
      'Entra',
      'emails[type eq "work"].value eq "a@b.com"',
      valuePath(path('emails'), and(cmp(path('type'), 'eq', 'work'), cmp(path('value'), 'eq', 'a@b.com'))),
    ],
    [
      'Entra',
      'emails[type eq "work"].value pr',
      valuePath(path('emails'), and(cmp(path('type'), 'eq', 'work'), pr(path('value')))),
    ],
  ])('%s: %s', (_idp, filter, tree) => {
    expect(parseFilter(filter)).toEqual(tree);
  });
});

describe('parseFilter: case, precedence, values, spacing', () => {
  it.each<[string, FilterNode]>([
    ['userName EQ "BJensen"', cmp(path('username'), 'eq', 'BJensen')],
    ['USERNAME Eq "x"', cmp(path('username'), 'eq', 'x')],
    ['title PR', pr(path('title'))],
    ['a pr AND b pr Or c pr', or(and(pr(path('a')), pr(path('b'))), pr(path('c')))],
    ['NOT (a pr)', not(pr(path('a')))],
    ['Not(a pr)', not(pr(path('a')))],
    ['a pr or b pr and c pr', or(pr(path('a')), and(pr(path('b')), pr(path('c'))))],
    [
      'a pr and b pr or c pr and d pr',
      or(and(pr(path('a')), pr(path('b'))), and(pr(path('c')), pr(path('d')))),
    ],
    ['a pr and b pr and c pr', and(and(pr(path('a')), pr(path('b'))), pr(path('c')))],
    ['a pr and (b pr or c pr)', and(pr(path('a')), or(pr(path('b')), pr(path('c'))))],
    ['not (a pr) and b pr', and(not(pr(path('a'))), pr(path('b')))],
    ['((a pr))', pr(path('a'))],
    ['not pr', pr(path('not'))],
    ['active eq true', cmp(path('active'), 'eq', true)],
    ['active eq FALSE', cmp(path('active'), 'eq', false)],
    ['active ne True', cmp(path('active'), 'ne', true)],
    ['n eq 0', cmp(path('n'), 'eq', 0)],
    ['n gt -2.5', cmp(path('n'), 'gt', -2.5)],
    ['n le 1e3', cmp(path('n'), 'le', 1000)],
    ['n lt 12.5E-1', cmp(path('n'), 'lt', 1.25)],
    ['a eq "caf\\u00e9"', cmp(path('a'), 'eq', 'café')],
    ['a eq "caf\\u00E9"', cmp(path('a'), 'eq', 'café')],
    ['a eq "say \\"hi\\""', cmp(path('a'), 'eq', 'say "hi"')],
    ['a eq "back\\\\slash"', cmp(path('a'), 'eq', 'back\\slash')],
    ['a eq "a\\/b\\tc\\nd"', cmp(path('a'), 'eq', 'a/b\tc\nd')],
    ['a eq "\\ud83d\\ude00"', cmp(path('a'), 'eq', '😀')],
    ['a eq "é 😀 (and) [or]"', cmp(path('a'), 'eq', 'é 😀 (and) [or]')],
    ['a eq ""', cmp(path('a'), 'eq', '')],
    ['  userName   eq   "x"  ', cmp(path('username'), 'eq', 'x')],
    ['(userName eq "x")and(title pr)', and(cmp(path('username'), 'eq', 'x'), pr(path('title')))],
    ['members.$ref pr', pr(path('members', '$ref'))],
    ['x-custom_attr2 pr', pr(path('x-custom_attr2'))],
    [
      `${ENTERPRISE_USER}:manager.value eq "26118915"`,
      cmp(path('manager', 'value', ENTERPRISE_USER.toLowerCase()), 'eq', '26118915'),
    ],
    [
      `${CORE_USER}:emails[type eq "work"]`,
      valuePath(path('emails', undefined, CORE_USER.toLowerCase()), cmp(path('type'), 'eq', 'work')),
    ],
    [
      'emails[not (type eq "work") and (value sw "a" or primary eq true)]',
      valuePath(
        path('emails'),
        and(
          not(cmp(path('type'), 'eq', 'work')),
          or(cmp(path('value'), 'sw', 'a'), cmp(path('primary'), 'eq', true)),
        ),
      ),
    ],
  ])('%s', (filter, tree) => {
    expect(parseFilter(filter)).toEqual(tree);
  });

  it('accepts the limits themselves: 20 levels, 50 comparisons, 2,000 characters', () => {
    const depth = FILTER_LIMITS.maxDepth;
    expect(parseFilter(`${'('.repeat(depth)}a pr${')'.repeat(depth)}`)).toEqual(pr(path('a')));
    expect(() => parseFilter(Array.from({ length: 50 }, (_, i) => `a${i} pr`).join(' or '))).not.toThrow();
    const long = `userName eq "${'a'.repeat(FILTER_LIMITS.maxLength - 14)}"`;
    expect(long).toHaveLength(FILTER_LIMITS.maxLength);
    expect(() => parseFilter(long)).not.toThrow();
  });
});

describe('parseFilter: refusals', () => {
  it.each<[string, string, RegExp, number | undefined]>([
    ['empty', '', /empty/, undefined],
    ['blank', '   ', /empty/, undefined],
    [
      'unbalanced "("',
      '(userName eq "x"',
      /Expected "\)" to close the "\(" at position 1, found the end/,
      17,
    ],
    ['unbalanced "((", one closed', '((userName eq "x")', /Expected "\)"/, 19],
    [
      'unbalanced ")"',
      'userName eq "x")',
      /Expected "and", "or" or the end of the filter at position 16, found "\)"/,
      16,
    ],
    ['empty parentheses', '()', /Expected an attribute name, "\(" or "not" at position 2, found "\)"/, 2],
    [
      'missing value',
      'userName eq',
      /Expected a value .* after "eq" at position 12, found the end of the filter/,
      12,
    ],
    ['missing value before and', 'userName eq and title pr', /Expected a value .*found "and"/, 13],
    [
      'missing operator',
      'userName "x"',
      /Expected an operator .* after "userName" at position 10, found the string "x"/,
      10,
    ],
    ['unknown operator', 'userName xx "a"', /found the unknown operator "xx"/, 10],
    ['operator glued to the name', 'userNameeq "a"', /after "userNameeq"/, 12],
    [
      'trailing garbage',
      'userName eq "x" garbage',
      /Expected "and", "or" or the end of the filter at position 17, found "garbage"/,
      17,
    ],
    ['a value after pr', 'title pr "x"', /found the string "x"/, 10],
    ['dangling and', 'userName eq "x" and', /Expected an attribute name.*found the end of the filter/, 20],
    ['leading and', 'and userName eq "x"', /Expected an operator .* after "and"/, 5],
    ['unterminated string', 'userName eq "abc', /Unterminated string starting at position 13/, 13],
    ['unterminated after an escaped quote', 'userName eq "abc\\"', /Unterminated string/, 13],
    ['invalid escape', 'userName eq "a\\qb"', /Invalid escape "\\q" in a string at position 15/, 15],
    ['short unicode escape', 'userName eq "\\u12"', /Invalid unicode escape/, 14],
    ['unpaired high surrogate', 'userName eq "\\ud800x"', /Unpaired surrogate/, 14],
    ['unpaired low surrogate', 'userName eq "\\udc00"', /Unpaired surrogate/, 14],
    ['NUL', 'userName eq "a\\u0000"', /cannot contain "\\u0000"/, 15],
    ['raw control character', 'userName eq "a\tb"', /control character must be escaped/, 15],
    ['eq null', 'userName eq null', /"eq null" is not supported: test presence with "pr"/, 10],
    ['ne null', 'userName ne NULL', /"ne null" is not supported/, 10],
    ['unquoted string', 'userName eq bjensen', /found "bjensen" \(strings go in double quotes\)/, 13],
    ['single quotes', "userName eq 'bjensen'", /straight double quotes/, 13],
    ['curly quotes', 'userName eq \u201cbjensen\u201d', /straight double quotes/, 13],
    ['boolean with co', 'active co true', /only be compared with "eq" or "ne", not "co"/, 8],
    ['boolean with gt', 'active gt false', /not "gt"/, 8],
    ['number with sw', 'n sw 5', /"sw" compares strings/, 3],
    ['number glued to letters', 'n eq 12abc', /Invalid number "12abc" at position 6/, 6],
    ['leading zero', 'n eq 01', /Invalid number "01"/, 6],
    ['bare minus', 'n eq -', /Invalid number "-"/, 6],
    ['number out of range', 'n eq 1e999', /out of range/, 6],
    ['not without parentheses', 'not userName eq "x"', /"not" takes a filter in parentheses/, 5],
    ['not unclosed', 'not (userName eq "x"', /Expected "\)" to close the "\(" at position 5/, 21],
    ['unknown character', 'userName eq "x" # comment', /Unexpected character "#" at position 17/, 17],
    ['a stray dot', '.userName pr', /Expected an attribute name.*found "\."/, 1],
    ['three levels', 'name.givenName.first pr', /Invalid attribute path "name.givenName.first"/, 1],
    ['empty URI attribute', 'urn:ietf:params:scim: pr', /Invalid attribute path/, 1],
    ['empty sub-attribute', 'name. pr', /Invalid attribute path/, 1],
    ['bracket unclosed', 'emails[type eq "work"', /Expected "\]" to close the "\[" at position 7/, 22],
    ['empty brackets', 'emails[]', /Expected an attribute name/, 8],
    ['bracket closed twice', 'emails[type eq "work"]]', /found "\]"/, 23],
    ['bracket closed by ")"', 'emails[type eq "work")', /Expected "\]"/, 22],
    [
      'nested value filters',
      'emails[type[value eq "x"]]',
      /Value filters cannot be nested at position 12/,
      12,
    ],
    [
      'value filter on a sub-attribute',
      'name.givenName[value eq "x"]',
      /follows a multi-valued attribute/,
      15,
    ],
    [
      'sub-attribute without operator',
      'emails[type eq "work"].value',
      /Expected an operator .*found the end/,
      29,
    ],
    [
      'dot without sub-attribute',
      'emails[type eq "work"]. eq "x"',
      /Expected a sub-attribute name after "\]\."/,
      25,
    ],
    ['dot in the wrong place', 'userName . eq "x"', /found "\."/, 10],
  ])('%s: %j', (_case, filter, message, position) => {
    const error = errorOf(() => parseFilter(filter));
    expect(error.message).toMatch(message);
    expect(error.position).toBe(position);
  });

  it('refuses more than 20 levels of nesting, however they are made', () => {
    const depth = FILTER_LIMITS.maxDepth + 1;
    expect(errorOf(() => parseFilter(`${'('.repeat(depth)}a pr${')'.repeat(depth)}`)).message).toMatch(
      /at most 20 levels at position 21/,
    );
    expect(errorOf(() => parseFilter(`${'not ('.repeat(depth)}a pr${')'.repeat(depth)}`)).message).toMatch(
      /at most 20 levels/,
    );
    const mixed = `${'('.repeat(FILTER_LIMITS.maxDepth)}emails[type pr]${')'.repeat(FILTER_LIMITS.maxDepth)}`;
    expect(errorOf(() => parseFilter(mixed)).message).toMatch(/at most 20 levels/);
    // Two thousand parentheses fail on the limit, not on the stack.
    expect(errorOf(() => parseFilter('('.repeat(1999))).message).toMatch(/at most 20 levels/);
  });

  it('refuses more than 50 comparisons', () => {
    const filter = Array.from({ length: 51 }, (_, i) => `a${i} eq "${i}"`).join(' or ');
    expect(errorOf(() => parseFilter(filter)).message).toMatch(/at most 50 comparisons/);
    const inBrackets = `emails[${Array.from({ length: 51 }, () => 'type pr').join(' and ')}]`;
    expect(errorOf(() => parseFilter(inBrackets)).message).toMatch(/at most 50 comparisons/);
  });

  it('refuses a filter longer than 2,000 characters before reading it', () => {
    const filter = `userName eq "${'a'.repeat(FILTER_LIMITS.maxLength - 13)}"`;
    expect(filter).toHaveLength(FILTER_LIMITS.maxLength + 1);
    expect(errorOf(() => parseFilter(filter)).message).toBe('A filter can be at most 2000 characters long');
  });
});

// A schema shaped like the service's: columns of `u`, e-mails as a JSONB array, a group's members in a table.
const USERS: FilterSchema = {
  schemaUri: CORE_USER,
  attributes: {
    id: { sql: 'u.id', type: 'string', caseExact: true },
    userName: { sql: 'u.user_name', type: 'string' },
    externalId: { sql: 'u.external_id', type: 'string', caseExact: true },
    title: { sql: 'u.title', type: 'string' },
    userType: { sql: 'u.user_type', type: 'string' },
    'name.givenName': { sql: 'u.given_name', type: 'string' },
    active: { sql: 'u.active', type: 'boolean' },
    loginCount: { sql: 'u.login_count', type: 'number' },
    'meta.lastModified': { sql: 'u.updated_at', type: 'datetime' },
    [`${ENTERPRISE_USER}:employeeNumber`]: { sql: 'u.employee_number', type: 'string' },
  },
  multiValued: {
    emails: {
      jsonbColumn: 'u.emails',
      subAttributes: { value: { type: 'string' }, type: { type: 'string' }, primary: { type: 'boolean' } },
    },
  },
};

const GROUPS: FilterSchema = {
  attributes: {
    id: { sql: 'g.id', type: 'string', caseExact: true },
    displayName: { sql: 'g.display_name', type: 'string' },
  },
  multiValued: {
    members: {
      existsSql: (where) => `exists (select 1 from scim_member m where m.group_id = g.id and ${where})`,
      subAttributes: {
        value: { sql: 'm.user_id', type: 'string', caseExact: true },
        display: { sql: 'm.display', type: 'string' },
      },
    },
  },
};

const inEmails = (where: string) =>
  `exists (select 1 from jsonb_array_elements(u.emails) elem where ${where})`;
const inMembers = (where: string) =>
  `exists (select 1 from scim_member m where m.group_id = g.id and ${where})`;

describe('compileFilter', () => {
  it.each<[string, string, unknown[]]>([
    ['userName eq "bjensen"', 'lower(u.user_name) = lower(?)', ['bjensen']],
    ['USERNAME Eq "BJensen"', 'lower(u.user_name) = lower(?)', ['BJensen']],
    [`${CORE_USER}:userName sw "J"`, "lower(u.user_name) like lower(?) escape '\\'", ['J%']],
    [
      `${ENTERPRISE_USER.toUpperCase()}:EMPLOYEENUMBER eq "701984"`,
      'lower(u.employee_number) = lower(?)',
      ['701984'],
    ],
    ['name.GIVENNAME eq "Barbara"', 'lower(u.given_name) = lower(?)', ['Barbara']],
    ['userName ne "x"', 'lower(u.user_name) is distinct from lower(?)', ['x']],
    [
      'userName co "50%_off\\\\now"',
      "lower(u.user_name) like lower(?) escape '\\'",
      ['%50\\%\\_off\\\\now%'],
    ],
    ['userName sw "a_"', "lower(u.user_name) like lower(?) escape '\\'", ['a\\_%']],
    ['userName ew "%.com"', "lower(u.user_name) like lower(?) escape '\\'", ['%\\%.com']],
    ['userName gt "m"', 'lower(u.user_name) > lower(?)', ['m']],
    ['userName le "m"', 'lower(u.user_name) <= lower(?)', ['m']],
    ['externalId eq "00u1"', 'u.external_id = ?', ['00u1']],
    ['externalId ne "00u1"', 'u.external_id is distinct from ?', ['00u1']],
    ['externalId sw "00u"', "u.external_id like ? escape '\\'", ['00u%']],
    ['externalId ge "00u"', 'u.external_id >= ?', ['00u']],
    ['title pr', "(u.title is not null and u.title <> '')", []],
    ['active pr', 'u.active is not null', []],
    ['active eq true', 'u.active = ?', [true]],
    ['active ne true', 'u.active is distinct from ?', [true]],
    ['loginCount ge 3', 'u.login_count >= ?', [3]],
    ['loginCount ne 3', 'u.login_count is distinct from ?', [3]],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', 'u.updated_at > ?', ['2011-05-13T04:42:34Z']],
    [
      'meta.lastModified lt "2011-05-13t04:42:34.250+02:00"',
      'u.updated_at < ?',
      ['2011-05-13T04:42:34.250+02:00'],
    ],
    ['meta.lastModified eq "2011-05-13T04:42:34"', 'u.updated_at = ?', ['2011-05-13T04:42:34Z']],
    ['meta.lastModified pr', 'u.updated_at is not null', []],
    [
      'title pr and userType eq "Employee"',
      "((u.title is not null and u.title <> '') and lower(u.user_type) = lower(?))",
      ['Employee'],
    ],
    [
      'userName eq "a" or userName eq "b" and active eq true',
      '(lower(u.user_name) = lower(?) or (lower(u.user_name) = lower(?) and u.active = ?))',
      ['a', 'b', true],
    ],
    ['not (userName eq "x")', 'not coalesce(lower(u.user_name) = lower(?), false)', ['x']],
    ['emails.value eq "a@b.c"', inEmails("lower(elem->>'value') = lower(?)"), ['a@b.c']],
    [
      'emails co "example.com"',
      inEmails("lower(elem->>'value') like lower(?) escape '\\'"),
      ['%example.com%'],
    ],
    ['emails.TYPE eq "work"', inEmails("lower(elem->>'type') = lower(?)"), ['work']],
    ['emails.primary eq true', inEmails("(elem->>'primary')::boolean = ?"), [true]],
    ['emails.value pr', inEmails("(elem->>'value' is not null and elem->>'value' <> '')"), []],
    ['emails pr', 'jsonb_array_length(u.emails) > 0', []],
    [
      'emails[type eq "work" and value sw "a"]',
      inEmails("(lower(elem->>'type') = lower(?) and lower(elem->>'value') like lower(?) escape '\\')"),
      ['work', 'a%'],
    ],
    [
      'emails[type eq "work"].value eq "a@b.com"',
      inEmails("(lower(elem->>'type') = lower(?) and lower(elem->>'value') = lower(?))"),
      ['work', 'a@b.com'],
    ],
    [
      'EMAILS[not (Primary eq true)]',
      inEmails("not coalesce((elem->>'primary')::boolean = ?, false)"),
      [true],
    ],
    [
      'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
      `(lower(u.user_type) is distinct from lower(?) and not coalesce((${inEmails(
        "lower(elem->>'value') like lower(?) escape '\\'",
      )} or ${inEmails("lower(elem->>'value') like lower(?) escape '\\'")}), false))`,
      ['Employee', '%example.com%', '%example.org%'],
    ],
  ])('users: %s', (filter, sql, params) => {
    expect(compileFilter(parseFilter(filter), USERS)).toEqual({ sql, params });
  });

  it.each<[string, string, unknown[]]>([
    ['displayName eq "anthropic-acme-admin"', 'lower(g.display_name) = lower(?)', ['anthropic-acme-admin']],
    ['members.value eq "2819c223"', inMembers('m.user_id = ?'), ['2819c223']],
    ['members eq "2819c223"', inMembers('m.user_id = ?'), ['2819c223']],
    ['members pr', inMembers('true'), []],
    [
      'members[value eq "a" or display co "b"]',
      inMembers("(m.user_id = ? or lower(m.display) like lower(?) escape '\\')"),
      ['a', '%b%'],
    ],
  ])('groups: %s', (filter, sql, params) => {
    expect(compileFilter(parseFilter(filter), GROUPS)).toEqual({ sql, params });
  });

  // The service's userName is compared through user_name_key, folded as it is on write, so its indexes serve.
  it.each<[string, string, unknown[]]>([
    ['userName eq "BJensen@Example.com"', 'u.user_name_key = ?', ['bjensen@example.com']],
    ['userName ne "BJensen"', 'u.user_name_key is distinct from ?', ['bjensen']],
    ['userName sw "B_J"', "u.user_name_key like ? escape '\\'", ['b\\_j%']],
    ['userName co "%X"', "u.user_name_key like ? escape '\\'", ['%\\%x%']],
    ['userName gt "M"', 'u.user_name_key > ?', ['m']],
    ['userName pr', "(u.user_name is not null and u.user_name <> '')", []],
    ['displayName eq "Babs"', 'lower(u.display_name) = lower(?)', ['Babs']],
  ])('service users: %s', (filter, sql, params) => {
    expect(compileFilter(parseFilter(filter), USER_FILTER)).toEqual({ sql, params });
  });

  it('keeps every value out of the SQL text', () => {
    const hostile = `'; drop table users; --`;
    const filter = [
      `userName eq ${JSON.stringify(hostile)}`,
      `externalId co ${JSON.stringify(hostile)}`,
      `emails[type eq ${JSON.stringify(hostile)}]`,
      `emails.value sw "' or 1=1 --"`,
      `loginCount gt 31337`,
      `meta.lastModified gt "2011-05-13T04:42:34Z"`,
    ].join(' or ');
    const { sql, params } = compileFilter(parseFilter(filter), USERS);
    expect(sql).not.toContain('drop');
    expect(sql).not.toContain('1=1');
    expect(sql).not.toContain('31337');
    expect(sql).not.toContain('2011');
    expect(sql.match(/\?/g)).toHaveLength(params.length);
    expect(params).toEqual([hostile, `%${hostile}%`, hostile, "' or 1=1 --%", 31337, '2011-05-13T04:42:34Z']);
  });

  it.each<[string, string, RegExp]>([
    ['unknown attribute', 'nickName eq "x"', /Unknown attribute "nickname" in the filter/],
    ['unknown sub-attribute of a column', 'name.middleName eq "x"', /Unknown attribute "name.middlename"/],
    ['a complex attribute by itself', 'name pr', /Unknown attribute "name"/],
    [
      'another resource type',
      'urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"',
      /Unknown attribute/,
    ],
    ['an extension attribute without its URI', 'employeeNumber eq "1"', /Unknown attribute "employeenumber"/],
    ['unknown sub-attribute of e-mails', 'emails.display eq "x"', /Unknown attribute "emails.display"/],
    ['unknown attribute in brackets', 'emails[display eq "x"]', /Unknown attribute "emails.display"/],
    ['dotted attribute in brackets', 'emails[type.x eq "x"]', /Unknown attribute "emails.type.x"/],
    ['unknown sub-attribute after brackets', 'emails[type eq "work"].display eq "x"', /emails.display/],
    ['brackets on a single-valued attribute', 'userName[value eq "x"]', /not a multi-valued attribute/],
    ['boolean with co', 'active co "x"', /boolean: only "eq" and "ne" compare it, not "co"/],
    ['boolean with gt', 'active gt "x"', /not "gt"/],
    [
      'boolean against a string',
      'active eq "true"',
      /"active" holds a boolean: it cannot be compared with "true"/,
    ],
    ['boolean sub-attribute with sw', 'emails.primary sw "t"', /boolean/],
    ['string against a number', 'userName eq 5', /"userName" holds a string/],
    ['string against a boolean', 'userName eq true', /"userName" holds a string/],
    ['number against a string', 'loginCount eq "3"', /"loginCount" holds a number/],
    ['number with co', 'loginCount co "3"', /holds a number/],
    ['date that is not one', 'meta.lastModified gt "yesterday"', /"yesterday" is not one/],
    ['date with no time', 'meta.lastModified gt "2011-05-13"', /is not one/],
    ['30 February', 'meta.lastModified gt "2011-02-30T00:00:00Z"', /is not one/],
    ['hour 24', 'meta.lastModified gt "2011-05-13T24:00:00Z"', /is not one/],
    ['zone out of range', 'meta.lastModified gt "2011-05-13T04:42:34+15:00"', /is not one/],
    ['date against a number', 'meta.lastModified gt 1305261754', /holds a date and time/],
    ['date with co', 'meta.lastModified co "2011"', /"co" compares strings/],
  ])('refuses %s: %s', (_case, filter, message) => {
    expect(errorOf(() => compileFilter(parseFilter(filter), USERS)).message).toMatch(message);
  });

  it('refuses what the parser would have refused, in a tree built by hand', () => {
    const eqNull = cmp(path('username'), 'eq', null);
    expect(errorOf(() => compileFilter(eqNull, USERS)).message).toMatch(/"eq null" is not supported/);
    const nested = valuePath(path('emails'), valuePath(path('emails'), pr(path('type'))));
    expect(errorOf(() => compileFilter(nested, USERS)).message).toMatch(/cannot be nested/);
    expect(errorOf(() => compileFilter(parseFilter('members pr'), USERS)).message).toMatch(
      /Unknown attribute/,
    );
  });
});

describe('isoDateTime', () => {
  it.each<[string, string | undefined]>([
    ['2011-05-13T04:42:34Z', '2011-05-13T04:42:34Z'],
    ['2011-05-13T04:42:34.123456789Z', '2011-05-13T04:42:34.123456789Z'],
    ['2011-05-13T04:42:34-07:00', '2011-05-13T04:42:34-07:00'],
    ['2011-05-13t04:42:34z', '2011-05-13T04:42:34Z'],
    ['2011-05-13T04:42:34', '2011-05-13T04:42:34Z'],
    ['2012-02-29T00:00:00Z', '2012-02-29T00:00:00Z'],
    ['2011-02-29T00:00:00Z', undefined],
    ['2011-13-01T00:00:00Z', undefined],
    ['0000-01-01T00:00:00Z', undefined],
    ['2011-05-13T04:60:00Z', undefined],
    ['2011-05-13 04:42:34Z', undefined],
    ['2011-05-13T04:42Z', undefined],
    ['', undefined],
  ])('%j -> %j', (text, expected) => {
    expect(isoDateTime(text)).toBe(expected);
  });
});

// The compiled SQL, run for real: each filter must select exactly the rows RFC 7644 says it does, and the
// in-memory evaluator must agree with the database on the same records.
describe('compiled filters against PostgreSQL', () => {
  const serverUrl = inject('databaseServerUrl');
  const database = `scim_filter_${randomBytes(6).toString('hex')}`;
  let client: pg.Client;

  const users = [
    {
      id: 'u1',
      userName: 'bjensen@example.com',
      externalId: '00u1',
      title: 'Tour Guide',
      active: true,
      loginCount: 3,
      meta: { lastModified: new Date('2011-05-13T04:42:34Z') },
      emails: [
        { value: 'bjensen@example.com', type: 'work', primary: true },
        { value: 'babs@jensen.org', type: 'home' },
      ],
    },
    {
      id: 'u2',
      userName: 'Jim.Smith@example.org',
      externalId: 'ABC',
      title: '',
      active: false,
      loginCount: 10,
      meta: { lastModified: new Date('2012-01-01T00:00:00Z') },
      emails: [{ value: 'jim@example.org', type: 'home' }],
    },
    {
      id: 'u3',
      userName: '50%_off\\deal',
      externalId: null,
      title: null,
      active: null,
      loginCount: null,
      meta: { lastModified: null },
      emails: [],
    },
    {
      id: 'u4',
      userName: '50xxoff',
      externalId: null,
      title: null,
      active: true,
      loginCount: null,
      meta: { lastModified: null },
      emails: [],
    },
  ];
  const groups = [
    { id: 'g1', displayName: 'Engineering', members: [{ value: 'u1' }, { value: 'u2' }] },
    { id: 'g2', displayName: 'anthropic-acme-admin', members: [{ value: 'u3' }] },
    { id: 'g3', displayName: 'Empty', members: [] },
  ];

  beforeAll(async () => {
    const url = await ensureDatabase(serverUrl, database);
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`
      create table scim_user (
        id text primary key, user_name text not null, external_id text, title text, user_type text,
        given_name text, employee_number text, active boolean, login_count integer, updated_at timestamptz,
        emails jsonb not null default '[]'
      );
      create table scim_group (id text primary key, display_name text not null);
      create table scim_member (group_id text not null, user_id text not null, display text);
    `);
    for (const u of users) {
      await client.query(
        `insert into scim_user (id, user_name, external_id, title, active, login_count, updated_at, emails)
         values ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          u.id,
          u.userName,
          u.externalId,
          u.title,
          u.active,
          u.loginCount,
          u.meta.lastModified,
          JSON.stringify(u.emails),
        ],
      );
    }
    for (const g of groups) {
      await client.query('insert into scim_group (id, display_name) values ($1, $2)', [g.id, g.displayName]);
      for (const m of g.members) {
        await client.query('insert into scim_member (group_id, user_id) values ($1, $2)', [g.id, m.value]);
      }
    }
  });

  afterAll(async () => {
    await client?.end();
    await dropDatabase(serverUrl, database);
  });

  async function select(
    table: string,
    alias: string,
    filter: string,
    schema: FilterSchema,
  ): Promise<string[]> {
    const { sql, params } = compileFilter(parseFilter(filter), schema);
    const result = await client.query<{ id: string }>(
      `select id from ${table} ${alias} where ${positional(sql)} order by id`,
      params,
    );
    return result.rows.map((row) => row.id);
  }

  const caseExact = (p: string) => p === 'id' || p === 'externalid';

  it.each<[string, string[]]>([
    ['userName eq "BJENSEN@example.com"', ['u1']],
    ['userName ne "bjensen@EXAMPLE.com"', ['u2', 'u3', 'u4']],
    ['userName co "50%"', ['u3']],
    ['userName co "%_off"', ['u3']],
    ['userName co "\\\\"', ['u3']],
    ['userName co "50"', ['u3', 'u4']],
    ['userName sw "j"', ['u2']],
    ['userName ew ".ORG"', ['u2']],
    ['userName gt "c"', ['u2']],
    ['externalId eq "abc"', []],
    ['externalId eq "ABC"', ['u2']],
    ['title pr', ['u1']],
    ['not (title pr)', ['u2', 'u3', 'u4']],
    ['title eq "tour guide"', ['u1']],
    ['title ne "tour guide"', ['u2', 'u3', 'u4']],
    ['not (title eq "tour guide")', ['u2', 'u3', 'u4']],
    ['active eq true', ['u1', 'u4']],
    ['active eq false', ['u2']],
    ['active ne true', ['u2', 'u3']],
    ['not (active eq true)', ['u2', 'u3']],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', ['u2']],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', ['u1', 'u2']],
    ['meta.lastModified eq "2011-05-13T06:42:34+02:00"', ['u1']],
    ['meta.lastModified lt "2011-05-13T06:42:34+02:00"', []],
    ['meta.lastModified le "2011-05-13T04:42:34"', ['u1']],
    ['loginCount ge 3 and loginCount lt 10', ['u1']],
    ['loginCount ne 3', ['u2', 'u3', 'u4']],
    ['emails.value ew "example.org"', ['u2']],
    ['emails co "JENSEN"', ['u1']],
    ['emails[type eq "work" and value co "jensen.org"]', []],
    ['emails.type eq "work" and emails.value co "jensen.org"', ['u1']],
    ['emails[type eq "work"].value eq "BJENSEN@example.com"', ['u1']],
    ['emails[type eq "home"].value eq "BJENSEN@example.com"', []],
    ['emails.primary eq true', ['u1']],
    ['emails[not (primary eq true)]', ['u1', 'u2']],
    ['emails pr', ['u1', 'u2']],
    ['not (emails pr)', ['u3', 'u4']],
    ['userName eq "x" or (active eq true and not (emails pr))', ['u4']],
    [`userName eq "'; drop table scim_user; --"`, []],
  ])('users where %s', async (filter, ids) => {
    expect(await select('scim_user', 'u', filter, USERS)).toEqual(ids);
    const inMemory = users
      .filter((u) => matchesFilter(parseFilter(filter), u, { caseExact }))
      .map((u) => u.id);
    expect(inMemory).toEqual(ids);
  });

  it.each<[string, string[]]>([
    ['displayName eq "ENGINEERING"', ['g1']],
    ['members.value eq "u1"', ['g1']],
    ['members.value eq "U1"', []],
    ['members pr', ['g1', 'g2']],
    ['not (members pr)', ['g3']],
    ['members[value eq "u3" or value eq "u1"]', ['g1', 'g2']],
  ])('groups where %s', async (filter, ids) => {
    expect(await select('scim_group', 'g', filter, GROUPS)).toEqual(ids);
    const inMemory = groups.filter((g) =>
      matchesFilter(parseFilter(filter), g, { caseExact: (p) => p.endsWith('value') }),
    );
    expect(inMemory.map((g) => g.id)).toEqual(ids);
  });

  it('still has its table after the hostile filter ran', async () => {
    expect((await client.query('select count(*)::int as n from scim_user')).rows[0]).toEqual({ n: 4 });
  });
});

// The statements the service runs for a list, EXPLAINed on the migrated directory_users: a userName filter
// must reach its rows through an index, never by reading every user of the directory.
describe('userName filters on directory_users', () => {
  const USERS_PER_DIRECTORY = 5000;
  const directoryId = randomUUID();
  let plans: PlanDatabase;

  beforeAll(async () => {
    plans = await planDatabase('scim_filter_plan');
    // Two directories, so the directory condition alone selects half the table.
    const directories = [directoryId, randomUUID()];
    await plans.client.query(
      `insert into directories (id, parent_id, name, provider, token_hash, created_at)
       select d, $1, 'Plans', 'GENERIC', md5(d::text), now() from unnest($2::uuid[]) d`,
      [plans.parentId, directories],
    );
    await plans.client.query(
      `insert into directory_users (id, directory_id, user_name, user_name_key, created_at, updated_at)
       select gen_random_uuid(), d, 'User' || g || '@Example.com', 'user' || g || '@example.com', now(), now()
       from unnest($1::uuid[]) d, generate_series(1, $2::int) g`,
      [directories, USERS_PER_DIRECTORY],
    );
    await plans.client.query('analyze directory_users');
  });

  afterAll(async () => {
    await plans?.close();
  });

  it.each<[string, number]>([
    ['userName eq "USER2500@example.COM"', 1],
    ['userName sw "User250"', 11],
  ])('%s: an index scan, no Seq Scan, and the right users', async (filter, expected) => {
    const { count, page } = listStatements(USER_LIST, directoryId, { filter });
    for (const statement of [count, page]) {
      const nodes = nodesOf(await plans.explain(statement.sql, statement.params));
      expect(
        nodes.filter((node) => node['Relation Name'] === 'directory_users').map((node) => node['Node Type']),
      ).not.toContain('Seq Scan');
      const indexScans = nodes.filter(
        (node) =>
          /^(Index Scan|Index Only Scan|Bitmap Index Scan)$/.test(node['Node Type']) &&
          node['Index Name']?.startsWith('directory_users_directory_id_user_name_key'),
      );
      expect(indexScans).not.toEqual([]);
    }
    const total = await plans.client.query(positional(count.sql), count.params);
    expect(total.rows[0]).toEqual({ n: expected });
  });
});

// A group's members are looked up one primary key each, even when the statistics are those of an empty
// table (as right after an IdP's first push, before autovacuum analyzes it): the planner then hashed, or
// scanned per member, every user of the directory.
describe('group members on never-analyzed directory_users', () => {
  const directoryId = randomUUID();
  let plans: PlanDatabase;
  let memberIds: string[];

  beforeAll(async () => {
    plans = await planDatabase('scim_members_plan');
    await plans.client.query(
      `insert into directories (id, parent_id, name, provider, token_hash, created_at)
       values ($1::uuid, $2, 'Plans', 'GENERIC', md5($1::text), now())`,
      [directoryId, plans.parentId],
    );
    const inserted = await plans.client.query<{ id: string }>(
      `insert into directory_users (id, directory_id, user_name, user_name_key, created_at, updated_at)
       select gen_random_uuid(), $1, 'User' || g || '@Example.com', 'user' || g || '@example.com', now(), now()
       from generate_series(1, 3000) g returning id`,
      [directoryId],
    );
    memberIds = inserted.rows.slice(0, 50).map((row) => row.id);
  });

  afterAll(async () => {
    await plans?.close();
  });

  it('reads directory_users only through its primary key, one row per wanted member', async () => {
    const params = [memberIds.map(() => randomUUID()), memberIds, directoryId];
    const plan = await plans.explain(WANTED_MEMBERS, params, { analyze: true });
    const reads = nodesOf(plan).filter((node) => node['Relation Name'] === 'directory_users');
    expect(reads.map((node) => [node['Node Type'], node['Index Name']])).toEqual([
      ['Index Scan', 'directory_users_pkey'],
    ]);
    expect(reads[0]!['Actual Rows'] * reads[0]!['Actual Loops']).toBe(memberIds.length);
    expect((await plans.client.query(positional(WANTED_MEMBERS), params)).rowCount).toBe(memberIds.length);
  });
});
