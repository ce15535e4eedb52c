// Properties of rule 11's group grammar on generated prefixes, slugs and group lists: a group grants a role
// only when its name is exactly `<prefix><slug>-<role>`, one changed character is never a match, the most
// privileged role wins whatever the order, and a group never grants PRIMARY_OWNER.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupName, mappableRoles, roleFromGroups } from '../../src/modules/mappings/group-mapping.js';
import { MemberRole, OrganizationKind, ROLES_BY_KIND } from '../../src/modules/organizations/roles.js';

const RUNS = { numRuns: 300 };

// The shapes config.ts (GROUP_PREFIX) and organization.service.ts (slugs) accept.
const prefix = fc.oneof(fc.constant('anthropic-'), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$/));
const slug = fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,46}[a-z0-9]$/);
const organization = fc.record({
  slug,
  kind: fc.constantFrom(OrganizationKind.ENTERPRISE, OrganizationKind.API_CONSOLE),
});

/** The oracle: the most privileged mappable role whose exact group name is in the list. */
function expectedRole(p: string, org: { slug: string; kind: OrganizationKind }, groups: readonly string[]) {
  return mappableRoles(org).find((role) => groups.includes(groupName(p, org, role))) ?? null;
}

// Characters a mistyped or spoofed group name could hold instead: the other case, Cyrillic and Greek
// look-alikes, full-width forms, dotless i, spaces and invisible characters.
const LOOK_ALIKES: Record<string, string[]> = {
  a: ['а', 'ɑ', 'ａ'],
  c: ['с', 'ϲ'],
  e: ['е', 'ё', 'ｅ'],
  i: ['і', 'ı', 'ｉ'],
  l: ['ӏ', 'ℓ', 'I'],
  m: ['м', 'ｍ'],
  n: ['п', 'ո'],
  o: ['о', 'ο', '0', 'ｏ'],
  p: ['р', 'ρ'],
  r: ['г', 'ｒ'],
  s: ['ѕ', 'ｓ'],
  u: ['υ', 'ս'],
  w: ['ѡ', 'ԝ'],
  '-': ['‐', '–', '_', '－', '\u00ad'],
};

type Mutation = (name: string, at: number) => string;
const mutations: Record<string, (pick: number) => Mutation> = {
  caseFlip: () => (name, at) => {
    const char = name[at]!;
    const flipped = char === char.toLowerCase() ? char.toUpperCase() : char.toLowerCase();
    return name.slice(0, at) + flipped + name.slice(at + 1);
  },
  lookAlike: (pick) => (name, at) => {
    const options = LOOK_ALIKES[name[at]!.toLowerCase()] ?? ['\u200b'];
    return name.slice(0, at) + options[pick % options.length]! + name.slice(at + 1);
  },
  insertion: (pick) => (name, at) =>
    name.slice(0, at) + [' ', '\u200b', '\u200d', '-', 'x', '\t'][pick % 6]! + name.slice(at),
  deletion: () => (name, at) => name.slice(0, at) + name.slice(at + 1),
  trailing: (pick) => (name) => name + [' ', '\n', 's', '-', '.', '\u0000', '\u200b'][pick % 7]!,
  leading: (pick) => (name) => [' ', '\t', '@', '/', '\ufeff'][pick % 5]! + name,
  extraSuffix: (pick) => (name) => `${name}${['-x', '-admin', '-owner', '2', ':admin'][pick % 5]}`,
};
const mutation = fc.record({
  kind: fc.constantFrom(...Object.keys(mutations)),
  at: fc.nat(),
  pick: fc.nat(),
});

describe('roleFromGroups', () => {
  it('grants the most privileged exact group name, whatever else is in the list and in any order', () => {
    const listed = fc
      .tuple(
        prefix,
        organization,
        fc.array(fc.constantFrom(...Object.values(MemberRole)), { maxLength: 6 }),
        fc.array(fc.string({ maxLength: 40 }), { maxLength: 5 }),
      )
      .chain(([p, org, roles, noise]) => {
        const names = [...roles.map((role) => groupName(p, org, role)), ...noise];
        return fc.tuple(
          fc.constant(p),
          fc.constant(org),
          fc.constant(roles),
          fc.shuffledSubarray(names, { minLength: names.length }),
        );
      });
    fc.assert(
      fc.property(listed, ([p, org, roles, groups]) => {
        const granted = roleFromGroups(p, org, groups);
        expect(granted).toBe(expectedRole(p, org, groups));
        const best = ROLES_BY_KIND[org.kind].find(
          (role) => role !== MemberRole.PRIMARY_OWNER && roles.includes(role),
        );
        expect(granted).toBe(best ?? null);
      }),
      RUNS,
    );
  });

  it('never grants PRIMARY_OWNER, even when the list names it', () => {
    fc.assert(
      fc.property(prefix, organization, fc.array(fc.string(), { maxLength: 5 }), (p, org, noise) => {
        const groups = [groupName(p, org, MemberRole.PRIMARY_OWNER), ...noise];
        expect(roleFromGroups(p, org, groups)).not.toBe(MemberRole.PRIMARY_OWNER);
        for (const role of Object.values(MemberRole)) {
          expect(roleFromGroups(p, org, [...groups, groupName(p, org, role)])).not.toBe(
            MemberRole.PRIMARY_OWNER,
          );
        }
      }),
      RUNS,
    );
  });

  it('grants nothing for a one-character mutation of a matching name', () => {
    fc.assert(
      fc.property(prefix, organization, fc.nat(), mutation, (p, org, index, change) => {
        const roles = mappableRoles(org);
        const name = groupName(p, org, roles[index % roles.length]!);
        const mutated = mutations[change.kind]!(change.pick)(name, change.at % name.length);
        fc.pre(mutated !== name);
        // No role's group name is one edit away from another's, so a mutation never lands on a match.
        expect(roleFromGroups(p, org, [mutated])).toBeNull();
      }),
      RUNS,
    );
  });

  it('grants nothing for another organization’s groups', () => {
    fc.assert(
      fc.property(prefix, organization, slug, (p, org, otherSlug) => {
        fc.pre(otherSlug !== org.slug);
        const other = { ...org, slug: otherSlug };
        const groups = Object.values(MemberRole).map((role) => groupName(p, other, role));
        // Slugs are ambiguous only through "primary-owner": "x-primary" + "-owner" is "x" + "-primary-owner".
        expect(roleFromGroups(p, org, groups)).toBe(expectedRole(p, org, groups));
        if (!`${otherSlug}-`.startsWith(`${org.slug}-`) && !`${org.slug}-`.startsWith(`${otherSlug}-`)) {
          expect(roleFromGroups(p, org, groups)).toBeNull();
        }
      }),
      RUNS,
    );
  });

  it('grants nothing for another prefix', () => {
    fc.assert(
      fc.property(prefix, prefix, organization, (p, otherPrefix, org) => {
        fc.pre(otherPrefix !== p);
        const groups = Object.values(MemberRole).map((role) => groupName(otherPrefix, org, role));
        expect(roleFromGroups(p, org, groups)).toBe(expectedRole(p, org, groups));
        if (!otherPrefix.startsWith(p) && !p.startsWith(otherPrefix)) {
          expect(roleFromGroups(p, org, groups)).toBeNull();
        }
      }),
      RUNS,
    );
  });
});
