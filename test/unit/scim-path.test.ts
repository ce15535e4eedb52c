import { describe, expect, it } from 'vitest';
import {
  type AttrPath,
  type CompareOp,
  type FilterNode,
  type FilterValue,
  parseFilter,
  ScimFilterError,
} from '../../src/modules/scim/scim-filter.js';
import {
  filterEqualities,
  type MatchOptions,
  matchesFilter,
  type PatchPath,
  parsePatchPath,
  ScimPathError,
} from '../../src/modules/scim/scim-path.js';

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
const and = (left: FilterNode, right: FilterNode): FilterNode => ({ kind: 'and', left, right });

const ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

describe('parsePatchPath', () => {
  it.each<[string, PatchPath]>([
    ['active', { attribute: path('active') }],
    ['name.givenName', { attribute: path('name', 'givenname') }],
    ['  userName ', { attribute: path('username') }],
    [
      'emails[type eq "work"].value',
      { attribute: path('emails'), filter: cmp(path('type'), 'eq', 'work'), subAttribute: 'value' },
    ],
    [
      'EMAILS[TYPE EQ "Work"].VALUE',
      { attribute: path('emails'), filter: cmp(path('type'), 'eq', 'Work'), subAttribute: 'value' },
    ],
    [
      'emails[type eq "work" and primary eq true]',
      {
        attribute: path('emails'),
        filter: and(cmp(path('type'), 'eq', 'work'), cmp(path('primary'), 'eq', true)),
      },
    ],
    [
      'members[value eq "2819c223"]',
      { attribute: path('members'), filter: cmp(path('value'), 'eq', '2819c223') },
    ],
    [
      'members[value eq "2819c223-7f76-453a-919d-413861904646"].display',
      {
        attribute: path('members'),
        filter: cmp(path('value'), 'eq', '2819c223-7f76-453a-919d-413861904646'),
        subAttribute: 'display',
      },
    ],
    ['members[value eq "a]b"]', { attribute: path('members'), filter: cmp(path('value'), 'eq', 'a]b') }],
    [
      'addresses[type eq "work"].streetAddress',
      {
        attribute: path('addresses'),
        filter: cmp(path('type'), 'eq', 'work'),
        subAttribute: 'streetaddress',
      },
    ],
    ['emails[type eq "work"] ', { attribute: path('emails'), filter: cmp(path('type'), 'eq', 'work') }],
    [`${ENTERPRISE_USER}:manager`, { attribute: path('manager', undefined, ENTERPRISE_USER.toLowerCase()) }],
    [
      `${ENTERPRISE_USER}:manager.value`,
      { attribute: path('manager', 'value', ENTERPRISE_USER.toLowerCase()) },
    ],
    [
      `${CORE_USER}:emails[type eq "work"]`,
      {
        attribute: path('emails', undefined, CORE_USER.toLowerCase()),
        filter: cmp(path('type'), 'eq', 'work'),
      },
    ],
  ])('%s', (input, expected) => {
    expect(parsePatchPath(input)).toEqual(expected);
  });

  it.each<[string, string, RegExp, number | undefined]>([
    ['empty', '', /The path is empty/, undefined],
    ['blank', '   ', /The path is empty/, undefined],
    ['three levels', 'name.givenName.first', /Invalid attribute path "name.givenName.first"/, 1],
    ['spaces in the name', 'emails type', /Invalid attribute path "emails type"/, 1],
    ['no attribute before the bracket', '[type eq "work"]', /Invalid attribute path ""/, 1],
    [
      'bracket unclosed',
      'emails[type eq "work"',
      /Expected "\]" to close the "\[".*found the end of the path/,
      22,
    ],
    [
      'garbage after the bracket',
      'emails[type eq "work"]x',
      /Expected the end of the path or ".subAttribute"/,
      23,
    ],
    ['two levels after the bracket', 'emails[type eq "work"].value.x', /".subAttribute"/, 23],
    ['dot and nothing', 'emails[type eq "work"].', /".subAttribute"/, 23],
    ['a comparison after the bracket', 'emails[type eq "work"].value eq "x"', /".subAttribute"/, 23],
    ['two brackets', 'emails[type eq "work"][value eq "x"]', /".subAttribute"/, 23],
    ['missing value', 'emails[type eq]', /Expected a value .*found "\]"/, 15],
    ['unknown operator', 'emails[type xx "work"]', /unknown operator "xx"/, 13],
    ['empty brackets', 'emails[]', /Expected an attribute name/, 8],
    ['nested brackets', 'emails[value[x eq 1]]', /Value filters cannot be nested/, 13],
    ['bracket after a sub-attribute', 'name.givenName[value eq "x"]', /follows a multi-valued attribute/, 15],
    ['null in the filter', 'emails[value eq null]', /"eq null" is not supported/, 14],
    ['unterminated string', 'members[value eq "abc]', /Unterminated string/, 18],
    ['too long', `members[value eq "${'a'.repeat(2000)}"]`, /at most 2000 characters/, undefined],
  ])('refuses %s: %j', (_case, input, message, position) => {
    let error: unknown;
    try {
      parsePatchPath(input);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ScimPathError);
    expect(error).toMatchObject({ scimType: 'invalidPath', position });
    expect((error as ScimPathError).message).toMatch(message);
  });
});

describe('filterEqualities', () => {
  it.each<[string, Record<string, FilterValue> | undefined]>([
    ['type eq "work"', { type: 'work' }],
    ['type eq "work" and primary eq true', { type: 'work', primary: true }],
    ['Type eq "work" and (display eq "x" and value eq "y")', { type: 'work', display: 'x', value: 'y' }],
    ['type eq "work" or type eq "home"', undefined],
    ['type ne "work"', undefined],
    ['type eq "work" and not (primary eq true)', undefined],
    ['type pr', undefined],
  ])('%s', (filter, expected) => {
    expect(filterEqualities(parseFilter(filter))).toEqual(expected);
  });
});

describe('matchesFilter', () => {
  const bjensen = {
    schemas: [CORE_USER, ENTERPRISE_USER],
    id: '2819c223-7f76-453a-919d-413861904646',
    userName: 'bjensen@example.com',
    name: { familyName: 'Jensen', givenName: 'Barbara' },
    title: '',
    active: true,
    emails: [
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@jensen.org', type: 'home' },
    ],
    phoneNumbers: [],
    meta: { lastModified: new Date('2011-05-13T04:42:34Z'), version: 'W/"a330bc54f0671c9"' },
    [ENTERPRISE_USER]: { employeeNumber: '701984', manager: { value: '26118915' } },
  };

  it.each<[string, string, unknown, boolean, MatchOptions?]>([
    // One element of a multi-valued attribute, as a PATCH value filter sees it.
    ['element', 'type eq "work"', { type: 'Work', value: 'a' }, true],
    ['element', 'type eq "work"', { type: 'home', value: 'a' }, false],
    ['element', 'type eq "work" and value co "@EXAMPLE.com"', { type: 'work', value: 'a@example.com' }, true],
    ['element', 'type eq "work" or type eq "home"', { type: 'home' }, true],
    ['element', 'value eq "2819C223"', { value: '2819c223' }, true],
    [
      'element, case-exact',
      'value eq "2819C223"',
      { value: '2819c223' },
      false,
      { caseExact: (p) => p === 'value' },
    ],
    ['element, case-exact', 'value eq "2819c223"', { value: '2819c223' }, true, { caseExact: () => true }],
    ['element', 'value sw "A"', { value: 'abc' }, true],
    ['element', 'value ew "BC"', { value: 'abc' }, true],
    ['element', 'value ew "ab"', { value: 'abc' }, false],
    ['element', 'value gt "m"', { value: 'Z' }, true],
    ['element', 'value le "a"', { value: 'B' }, false],
    ['element', 'primary eq true', { primary: true }, true],
    ['element', 'primary eq true', {}, false],
    ['element', 'primary eq true', { primary: 'true' }, false],
    ['element', 'primary ne true', {}, true],
    ['element', 'primary ne true', { primary: false }, true],
    ['element', 'not (primary eq true)', {}, true],
    ['element', 'display pr', { display: 'Babs' }, true],
    ['element', 'display pr', { display: '' }, false],
    ['element', 'display pr', { display: null }, false],
    ['element', 'display pr', {}, false],
    ['element', 'count ge 3', { count: 3 }, true],
    ['element', 'count gt 3', { count: 3 }, false],
    ['element', 'count eq 3', { count: '3' }, false],
    ['element', 'TYPE eq "work"', { Type: 'work' }, true],
    ['not an object', 'type eq "work"', 'work', false],
    ['not an object', 'type ne "work"', null, true],
    // A whole resource.
    ['user', 'userName eq "BJENSEN@example.com"', bjensen, true],
    ['user', 'name.familyName co "jen"', bjensen, true],
    ['user', 'name.middleName pr', bjensen, false],
    ['user', 'title pr', bjensen, false],
    ['user', 'active eq true and not (title pr)', bjensen, true],
    ['user', 'emails[type eq "work"]', bjensen, true],
    ['user', 'emails[type eq "work" and value co "jensen.org"]', bjensen, false],
    ['user', 'emails.type eq "work" and emails.value co "jensen.org"', bjensen, true],
    ['user', 'emails[type eq "work"].value eq "bjensen@example.com"', bjensen, true],
    ['user', 'emails[type eq "home"].value eq "bjensen@example.com"', bjensen, false],
    ['user', 'emails co "example.com"', bjensen, true],
    ['user', 'emails.value ew ".org"', bjensen, true],
    ['user', 'emails.primary eq true', bjensen, true],
    ['user', 'emails pr', bjensen, true],
    ['user', 'phoneNumbers pr', bjensen, false],
    ['user', 'ims[type eq "xmpp"]', bjensen, false],
    ['user', 'meta.lastModified gt "2011-05-13T04:42:33Z"', bjensen, true],
    ['user', 'meta.lastModified eq "2011-05-13T06:42:34+02:00"', bjensen, true],
    ['user', 'meta.lastModified lt "2011-05-13T04:42:34"', bjensen, false],
    ['user', 'meta.lastModified gt "yesterday"', bjensen, false],
    ['user', `${CORE_USER}:userName eq "bjensen@example.com"`, bjensen, true],
    ['user', `${CORE_USER}:userName eq "bjensen@example.com"`, { userName: 'bjensen@example.com' }, false],
    ['user', `${ENTERPRISE_USER}:employeeNumber eq "701984"`, bjensen, true],
    ['user', `${ENTERPRISE_USER}:manager.value eq "26118915"`, bjensen, true],
    ['user', 'employeeNumber eq "701984"', bjensen, false],
    [
      'user, case-exact by dotted path',
      'emails[value eq "BJENSEN@example.com"]',
      bjensen,
      false,
      { caseExact: (p) => p === 'emails.value' },
    ],
  ])('%s: %s', (_case, filter, object, expected, options) => {
    expect(matchesFilter(parseFilter(filter), object, options)).toBe(expected);
  });

  it('refuses a comparison with null in a tree built by hand, as the compiler does', () => {
    const node = cmp(path('value'), 'eq', null);
    expect(() => matchesFilter(node, { value: null })).toThrow(ScimFilterError);
    const booleanCo = cmp(path('primary'), 'co', true);
    expect(() => matchesFilter(booleanCo, { primary: true })).toThrow(/only be compared with "eq" or "ne"/);
  });

  it('selects the elements a PATCH path names', () => {
    const { filter, subAttribute } = parsePatchPath('emails[type eq "work"].value');
    expect(bjensen.emails.filter((e) => matchesFilter(filter!, e))).toEqual([bjensen.emails[0]]);
    expect(subAttribute).toBe('value');
  });
});
