// Properties of the SCIM User PATCH applier (patchOperations and applyUserOperation in scim.service.ts), in
// both dialects: RFC 7644's (an op per path) and Entra ID's (capitalised ops, one path-less "Replace" with
// dotted keys, "True"/"False"). The same PATCH twice leaves what it left once; a PATCH changes only what it
// names, never id or meta; unknown ops are invalidSyntax; garbage ends in a ScimError, nothing else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Directory } from '../../src/modules/scim/directory.entity.js';
import { DirectoryUser, type ScimEmail } from '../../src/modules/scim/directory-user.entity.js';
import {
  ENTERPRISE_USER_SCHEMA,
  PATCH_SCHEMA,
  renderUser,
  USER_SCHEMA,
} from '../../src/modules/scim/scim-resources.js';
import { ScimError } from '../../src/modules/scim/scim.errors.js';
import { applyUserOperation, patchOperations } from '../../src/modules/scim/scim.service.js';

const RUNS = { numRuns: 300 };
const BASE = 'https://identity.example/scim/v2/directories/d';
const EMPLOYEE_NUMBER = `${ENTERPRISE_USER_SCHEMA}:employeeNumber`;

// ---------------------------------------------------------------------------------------------------------
// Users, as plain state so that each application starts from its own copy.

interface UserState {
  id: string;
  userName: string;
  externalId: string | null;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  active: boolean;
  emails: ScimEmail[];
  extra: Record<string, unknown> | null;
}

const CREATED = new Date('2026-01-02T03:04:05Z');

function userFrom(state: UserState): DirectoryUser {
  const user = new DirectoryUser({} as Directory, state.userName, CREATED);
  Object.assign(user, structuredClone(state));
  user.version = 7;
  return user;
}

function stateOf(user: DirectoryUser): UserState {
  return structuredClone({
    id: user.id,
    userName: user.userName,
    externalId: user.externalId ?? null,
    displayName: user.displayName ?? null,
    givenName: user.givenName ?? null,
    familyName: user.familyName ?? null,
    active: user.active,
    emails: user.emails,
    extra: user.extra ?? null,
  });
}

/** What patchUser does between loading and saving the row. */
function patch(state: UserState, body: unknown, times = 1): DirectoryUser {
  const user = userFrom(state);
  for (let i = 0; i < times; i++) for (const op of patchOperations(body)) applyUserOperation(user, op);
  return user;
}

/** The result of `run`, or the ScimError it threw; any other error fails the property. */
function outcome<T>(run: () => T): T | ScimError {
  try {
    return run();
  } catch (error) {
    if (error instanceof ScimError) return error;
    throw error;
  }
}

const text = fc.string({ maxLength: 20 });
const optionalText = fc.option(text, { nil: null });
const emailType = fc.constantFrom('work', 'home', 'Work', 'other');
const email: fc.Arbitrary<ScimEmail> = fc.record(
  {
    value: fc.constantFrom('a@x.example', 'A@X.example', 'b@y.example', 'c@z.example'),
    type: emailType,
    primary: fc.boolean(),
  },
  { requiredKeys: ['value'] },
);

const userState: fc.Arbitrary<UserState> = fc.record({
  id: fc.uuid({ version: 7 }),
  userName: fc.constantFrom('bjensen', 'Barbara@X.example'),
  externalId: optionalText,
  displayName: optionalText,
  givenName: optionalText,
  familyName: optionalText,
  active: fc.boolean(),
  emails: fc.array(email, { maxLength: 3 }),
  extra: fc.option(
    fc.record(
      {
        title: text,
        locale: fc.constantFrom('en-US', 'de-DE'),
        [ENTERPRISE_USER_SCHEMA]: fc.record({ department: text }),
      },
      { requiredKeys: [] },
    ),
    { nil: null },
  ),
});

// ---------------------------------------------------------------------------------------------------------
// Operations as Okta, Entra ID and the RFC's examples send them. `names` lists what each one names, in the
// terms of LEAVES below, so that a PATCH can be checked to touch nothing else.

type Verb = 'add' | 'replace' | 'remove';
interface Item {
  path: string;
  verb: Verb;
  value?: unknown;
  names: string[];
}

const LEAVES = {
  username: (u: UserState) => u.userName,
  externalid: (u: UserState) => u.externalId,
  displayname: (u: UserState) => u.displayName,
  'name.givenname': (u: UserState) => u.givenName,
  'name.familyname': (u: UserState) => u.familyName,
  active: (u: UserState) => u.active,
  emails: (u: UserState) => u.emails,
};
type Leaf = keyof typeof LEAVES | `extra:${string}`;

function leaf(state: UserState, name: Leaf): unknown {
  if (name.startsWith('extra:')) return state.extra?.[name.slice('extra:'.length)];
  return LEAVES[name as keyof typeof LEAVES](state);
}

const corePrefix = fc.constantFrom('', `${USER_SCHEMA}:`);
const setVerb = fc.constantFrom<Verb>('add', 'replace');

const simpleText = fc
  .tuple(
    fc.constantFrom(
      ['externalId', 'externalid'],
      ['displayName', 'displayname'],
      ['name.givenName', 'name.givenname'],
      ['name.familyName', 'name.familyname'],
    ),
    corePrefix,
    fc.oneof(fc.tuple(setVerb, optionalText), fc.constant(['remove', undefined] as const)),
  )
  .map(([[path, name], prefix, [verb, value]]): Item => ({
    path: prefix + path,
    verb,
    value,
    names: [name],
  }));

const userName = fc
  .tuple(corePrefix, setVerb, fc.string({ minLength: 1, maxLength: 20 }))
  .map(([prefix, verb, value]): Item => ({ path: `${prefix}userName`, verb, value, names: ['username'] }));

const active = fc
  .tuple(setVerb, fc.constantFrom(true, false, 'True', 'False', 'true'))
  .map(([verb, value]): Item => ({ path: 'active', verb, value, names: ['active'] }));

const name = fc.oneof(
  fc
    .tuple(setVerb, fc.record({ givenName: text, familyName: text }, { requiredKeys: [] }))
    .filter(([, value]) => Object.keys(value).length > 0)
    .map(([verb, value]): Item => ({
      path: 'name',
      verb,
      value,
      names: Object.keys(value).map((key) => `name.${key.toLowerCase()}`),
    })),
  fc.constant<Item>({ path: 'name', verb: 'remove', names: ['name.givenname', 'name.familyname'] }),
);

const emails = fc.oneof(
  fc
    .tuple(setVerb, fc.array(email, { maxLength: 3 }))
    .map(([verb, value]): Item => ({ path: 'emails', verb, value, names: ['emails'] })),
  fc.constant<Item>({ path: 'emails', verb: 'remove', names: ['emails'] }),
  // Entra's way: the value of the e-mail of one type, created when there is none.
  fc
    .tuple(setVerb, emailType, fc.constantFrom('a@x.example', 'd@w.example'))
    .map(([verb, type, value]): Item => ({
      path: `emails[type eq "${type}"].value`,
      verb,
      value,
      names: ['emails'],
    })),
  emailType.map((type): Item => ({ path: `emails[type eq "${type}"]`, verb: 'remove', names: ['emails'] })),
);

const kept = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('title', 'locale', EMPLOYEE_NUMBER),
      fc.oneof(setVerb, fc.constant<Verb>('remove')),
      text,
    )
    .map(([path, verb, value]): Item => ({
      path,
      verb,
      ...(verb === 'remove' ? {} : { value }),
      names: [`extra:${path}`],
    })),
  fc
    .tuple(setVerb, fc.record({ department: text, employeeNumber: text }, { requiredKeys: [] }))
    .map(([verb, value]): Item => ({
      path: ENTERPRISE_USER_SCHEMA,
      verb,
      value,
      names: [`extra:${ENTERPRISE_USER_SCHEMA}`],
    })),
);

const item = fc.oneof(simpleText, userName, active, name, emails, kept);

/** Operations on different attributes, as the clients send them (two on one attribute race each other). */
const items = fc.uniqueArray(item, {
  minLength: 1,
  maxLength: 4,
  comparator: (a, b) => a.names.some((n) => b.names.includes(n)),
});

const spell = (verb: Verb) =>
  fc.constantFrom(verb, verb.toUpperCase(), `${verb[0]!.toUpperCase()}${verb.slice(1)}`);

/** An RFC 7644 PATCH: one operation per path. */
const rfcPatch = items.chain((list) =>
  fc.tuple(...list.map((i) => spell(i.verb))).map((verbs) => ({
    body: {
      schemas: [PATCH_SCHEMA],
      Operations: list.map((i, n) => ({
        op: verbs[n],
        path: i.path,
        ...('value' in i ? { value: i.value } : {}),
      })),
    },
    names: list.flatMap((i) => i.names),
  })),
);

/** Entra ID's PATCH: one path-less "Replace" (or "Add") of dotted keys, removes with their own paths. */
const entraPatch = fc
  .tuple(items, spell('replace'), spell('add'), fc.boolean())
  .map(([list, replace, add, useAdd]) => {
    const sets = list.filter((i) => i.verb !== 'remove' && i.path !== ENTERPRISE_USER_SCHEMA);
    const removes = list.filter((i) => i.verb === 'remove');
    const operations = [
      ...(sets.length
        ? [{ op: useAdd ? add : replace, value: Object.fromEntries(sets.map((i) => [i.path, i.value])) }]
        : []),
      ...removes.map((i) => ({ op: 'Remove', path: i.path })),
    ];
    return {
      body: {
        schemas: [PATCH_SCHEMA],
        Operations: operations.length ? operations : [{ op: 'Replace', value: {} }],
      },
      names: [...sets, ...removes].flatMap((i) => i.names),
    };
  });

const anyPatch = fc.oneof(rfcPatch, entraPatch);

describe('User PATCH', () => {
  it('applied twice leaves the user as applied once', () => {
    fc.assert(
      fc.property(userState, anyPatch, (state, { body }) => {
        const once = outcome(() => stateOf(patch(state, body)));
        const twice = outcome(() => stateOf(patch(state, body, 2)));
        if (once instanceof ScimError) {
          expect(twice).toBeInstanceOf(ScimError);
          expect((twice as ScimError).scimType).toBe(once.scimType);
        } else {
          expect(twice).toEqual(once);
        }
      }),
      RUNS,
    );
  });

  it('changes only the attributes it names, and never id or meta', () => {
    fc.assert(
      fc.property(userState, anyPatch, (state, { body, names }) => {
        const user = outcome(() => patch(state, body));
        if (user instanceof ScimError) return;
        const after = stateOf(user);
        const leaves: Leaf[] = [
          ...(Object.keys(LEAVES) as Leaf[]),
          ...[...Object.keys(state.extra ?? {}), ...Object.keys(after.extra ?? {})].map(
            (key): Leaf => `extra:${key}`,
          ),
        ];
        for (const unnamed of leaves.filter((l) => !names.includes(l))) {
          expect(leaf(after, unnamed), unnamed).toEqual(leaf(state, unnamed));
        }
        const before = renderUser(userFrom(state), BASE);
        const rendered = renderUser(user, BASE);
        expect(rendered.id).toBe(before.id);
        expect(rendered.meta).toEqual(before.meta);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Refusals and garbage.

function scimErrorOf(run: () => unknown): ScimError {
  const result = outcome(run);
  expect(result).toBeInstanceOf(ScimError);
  return result as ScimError;
}

describe('User PATCH refusals', () => {
  it('refuses an unknown op with invalidSyntax', () => {
    const unknownOp = fc
      .oneof(fc.string(), fc.jsonValue())
      .filter((op) => typeof op !== 'string' || !['add', 'replace', 'remove'].includes(op.toLowerCase()));
    fc.assert(
      fc.property(rfcPatch, unknownOp, fc.nat(), ({ body }, op, at) => {
        const operations = [...body.Operations];
        operations.splice(at % (operations.length + 1), 0, { op, path: 'displayName', value: 'x' } as never);
        const error = scimErrorOf(() => patchOperations({ ...body, Operations: operations }));
        expect(error.status).toBe(400);
        expect(error.scimType).toBe('invalidSyntax');
      }),
      RUNS,
    );
  });

  it('ends garbage in a ScimError, never touches id or meta, and keeps no password', () => {
    // What JSON.parse can give that a literal rarely does: keys shadowing Object.prototype.
    const hostile = fc.constantFrom(
      ...['{"toString":[]}', '{"valueOf":{}}', '{"__proto__":{"polluted":1}}', '{"toJSON":"x"}'].map(
        (json) => JSON.parse(json) as unknown,
      ),
    );
    const value = fc.oneof(fc.jsonValue(), hostile);
    const path = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        'id',
        'meta',
        'ID',
        `${USER_SCHEMA}:id`,
        'meta.version',
        'password',
        'Password',
        'groups',
        'schemas',
        'emails[',
        'emails[type eq]',
        'name',
      ),
      fc.string({ maxLength: 40 }).map((rest) => `emails[${rest}`),
      fc.string({ maxLength: 40 }).map((rest) => `emails[type eq "work"]${rest}`),
    );
    const pathLess = fc.dictionary(path, value, { maxKeys: 3 });
    const operation = fc.record(
      {
        op: fc.oneof(spell('add'), spell('replace'), spell('remove'), value),
        path: fc.oneof(path, value),
        value: fc.oneof(value, pathLess),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.anything(),
      fc.record(
        {
          schemas: fc.oneof(fc.constant([PATCH_SCHEMA]), fc.jsonValue()),
          Operations: fc.oneof(fc.array(operation, { maxLength: 4 }), value),
        },
        { requiredKeys: [] },
      ),
      fc
        .array(operation, { minLength: 1, maxLength: 4 })
        .map((Operations) => ({ schemas: [PATCH_SCHEMA], Operations })),
    );
    fc.assert(
      fc.property(userState, body, (state, patchBody) => {
        const user = outcome(() => patch(state, patchBody));
        if (user instanceof ScimError) {
          expect([400, 409]).toContain(user.status);
          return;
        }
        const before = renderUser(userFrom(state), BASE);
        const rendered = renderUser(user, BASE);
        expect(rendered.id).toBe(before.id);
        expect(rendered.meta).toEqual(before.meta);
        // RFC 7643 §4.1: password is never returned; PUT (applyUserResource) does not keep one either.
        expect(Object.keys(rendered).map((key) => key.toLowerCase())).not.toContain('password');
        expect([[USER_SCHEMA], [USER_SCHEMA, ENTERPRISE_USER_SCHEMA]]).toContainEqual(rendered.schemas);
        expect(Object.prototype).not.toHaveProperty('polluted');
      }),
      { numRuns: 500 },
    );
  });
});

// Counterexamples the properties above found, kept as examples.
describe('User PATCH regressions', () => {
  const state: UserState = {
    id: '00000000-0000-7000-8000-000000000000',
    userName: 'bjensen',
    externalId: null,
    displayName: null,
    givenName: 'Barbara',
    familyName: 'Jensen',
    active: true,
    emails: [],
    extra: null,
  };
  const body = (...Operations: unknown[]) => ({ schemas: [PATCH_SCHEMA], Operations });

  it('adds an e-mail the user already has only once', () => {
    const add = body(
      { op: 'add', value: { emails: [{ value: 'a@x.example' }] } },
      { op: 'Remove', path: 'externalId' },
    );
    expect(patch(state, add, 2).emails).toEqual([{ value: 'a@x.example' }]);
    const again = body({ op: 'add', path: 'emails', value: [{ value: 'A@X.example', type: 'work' }] });
    const twice = patch({ ...state, emails: [{ value: 'a@x.example', type: 'Work' }] }, again);
    expect(twice.emails).toEqual([{ value: 'a@x.example', type: 'Work' }]);
  });

  it('keeps the name sub-attributes a name value leaves out', () => {
    const user = patch(state, body({ op: 'add', path: 'name', value: { givenName: '' } }));
    expect([user.givenName, user.familyName]).toEqual(['', 'Jensen']);
    const removed = patch(state, body({ op: 'remove', path: 'name' }));
    expect([removed.givenName, removed.familyName]).toEqual([null, null]);
  });

  it('keeps no password and no schemas, and refuses groups as read-only', () => {
    const user = patch(
      state,
      body(
        { op: 'replace', path: 'password', value: 'hunter2' },
        { op: 'replace', value: { Password: 'x', schemas: [] } },
      ),
    );
    expect(user.extra).toBeNull();
    expect(renderUser(user, BASE)).not.toHaveProperty('password');
    const error = scimErrorOf(() =>
      patch(state, body({ op: 'add', path: 'groups', value: [{ value: 'g' }] })),
    );
    expect(error.scimType).toBe('mutability');
  });

  it('refuses an op that cannot be turned into a string with invalidSyntax, not a TypeError', () => {
    const error = scimErrorOf(() => patchOperations(body({ op: JSON.parse('{"toString":[]}'), path: 'x' })));
    expect(error.scimType).toBe('invalidSyntax');
  });
});
