// Rule 11's group grammar, in one place for both channels: `<prefix><org-slug>-<role>`, ASCII,
// case-sensitive, whole-string; the most privileged matching role wins; no group, no access; a group never
// grants PRIMARY_OWNER.
import { describe, expect, it } from 'vitest';
import { groupName, mappableRoles, roleFromGroups } from '../../src/modules/mappings/group-mapping.js';
import { MemberRole, OrganizationKind } from '../../src/modules/organizations/roles.js';

const PREFIX = 'anthropic-';
const consoleOrg = { slug: 'acme-console', kind: OrganizationKind.API_CONSOLE };
const enterpriseOrg = { slug: 'acme', kind: OrganizationKind.ENTERPRISE };

describe('groupName', () => {
  it.each([
    [PREFIX, 'acme-console', MemberRole.ADMIN, 'anthropic-acme-console-admin'],
    [PREFIX, 'acme-console', MemberRole.DEVELOPER, 'anthropic-acme-console-developer'],
    [PREFIX, 'acme-console', MemberRole.BILLING, 'anthropic-acme-console-billing'],
    [PREFIX, 'acme-console', MemberRole.USER, 'anthropic-acme-console-user'],
    [PREFIX, 'acme', MemberRole.OWNER, 'anthropic-acme-owner'],
    [PREFIX, 'acme', MemberRole.ADMIN, 'anthropic-acme-admin'],
    [PREFIX, 'acme', MemberRole.MEMBER, 'anthropic-acme-member'],
    // The name a primary-owner group would have (it is never granted; see below).
    [PREFIX, 'acme', MemberRole.PRIMARY_OWNER, 'anthropic-acme-primary-owner'],
    ['okta-', 'acme', MemberRole.ADMIN, 'okta-acme-admin'],
    ['', 'acme', MemberRole.MEMBER, 'acme-member'],
  ])('%s + %s + %s = %s', (prefix, slug, role, expected) => {
    expect(groupName(prefix, { slug }, role)).toBe(expected);
  });
});

describe('mappableRoles', () => {
  it('lists every role of the kind but the primary owner, most privileged first', () => {
    expect(mappableRoles(consoleOrg)).toEqual([
      MemberRole.ADMIN,
      MemberRole.DEVELOPER,
      MemberRole.BILLING,
      MemberRole.USER,
    ]);
    expect(mappableRoles(enterpriseOrg)).toEqual([MemberRole.OWNER, MemberRole.ADMIN, MemberRole.MEMBER]);
  });
});

describe('roleFromGroups', () => {
  type Case = [string, typeof consoleOrg, string[], MemberRole | null];
  const cases: Case[] = [
    // Grants.
    ['one exact group', consoleOrg, ['anthropic-acme-console-developer'], MemberRole.DEVELOPER],
    ['each Console role', consoleOrg, ['anthropic-acme-console-billing'], MemberRole.BILLING],
    ['the least Console role', consoleOrg, ['anthropic-acme-console-user'], MemberRole.USER],
    ['an Enterprise owner', enterpriseOrg, ['anthropic-acme-owner'], MemberRole.OWNER],
    ['an Enterprise member', enterpriseOrg, ['anthropic-acme-member'], MemberRole.MEMBER],
    [
      'several groups: the most privileged wins, whatever the order',
      consoleOrg,
      ['anthropic-acme-console-user', 'anthropic-acme-console-admin', 'anthropic-acme-console-billing'],
      MemberRole.ADMIN,
    ],
    [
      'several groups without admin',
      consoleOrg,
      ['anthropic-acme-console-user', 'anthropic-acme-console-billing', 'anthropic-acme-console-developer'],
      MemberRole.DEVELOPER,
    ],
    [
      'several Enterprise groups',
      enterpriseOrg,
      ['anthropic-acme-member', 'anthropic-acme-admin'],
      MemberRole.ADMIN,
    ],
    [
      'unrelated groups around an exact one',
      consoleOrg,
      ['engineering', 'anthropic-other-admin', 'anthropic-acme-console-user'],
      MemberRole.USER,
    ],
    // No group, no access.
    ['no groups', consoleOrg, [], null],
    ['only unrelated groups', consoleOrg, ['engineering', 'everyone'], null],
    ['the bare prefix and slug', consoleOrg, ['anthropic-acme-console', 'anthropic-acme-console-'], null],
    // Look-alikes: ASCII, case-sensitive, anchored.
    ['upper-case prefix', consoleOrg, ['ANTHROPIC-acme-console-admin'], null],
    ['upper-case role', consoleOrg, ['anthropic-acme-console-ADMIN'], null],
    ['upper-case slug', consoleOrg, ['anthropic-ACME-console-admin'], null],
    ['trailing space', consoleOrg, ['anthropic-acme-console-admin '], null],
    ['leading space', consoleOrg, [' anthropic-acme-console-admin'], null],
    ['trailing newline', consoleOrg, ['anthropic-acme-console-admin\n'], null],
    ['Unicode hyphen U+2010 in the prefix', consoleOrg, ['anthropic\u2010acme-console-admin'], null],
    ['Unicode hyphen U+2010 before the role', consoleOrg, ['anthropic-acme-console\u2010admin'], null],
    ['non-breaking hyphen U+2011', consoleOrg, ['anthropic-acme-console\u2011admin'], null],
    ['en dash', consoleOrg, ['anthropic-acme-console\u2013admin'], null],
    ['Cyrillic a in the prefix', consoleOrg, ['\u0430nthropic-acme-console-admin'], null],
    ['Cyrillic a in the role', consoleOrg, ['anthropic-acme-console-\u0430dmin'], null],
    ['zero-width space', consoleOrg, ['anthropic-acme-console-ad\u200bmin'], null],
    ['an extra suffix', consoleOrg, ['anthropic-acme-console-admins'], null],
    ['a suffix after a dash', consoleOrg, ['anthropic-acme-console-admin-old'], null],
    ['something before the prefix', consoleOrg, ['x-anthropic-acme-console-admin'], null],
    ['the prefix twice', consoleOrg, ['anthropic-anthropic-acme-console-admin'], null],
    ['without the prefix', consoleOrg, ['acme-console-admin'], null],
    ['an underscore role spelling', enterpriseOrg, ['anthropic-acme-primary_owner'], null],
    // Another organization whose slug shares a start with this one's.
    ['a longer slug', enterpriseOrg, ['anthropic-acme-console-admin'], null],
    ['a shorter slug', consoleOrg, ['anthropic-acme-admin'], null],
    // Roles of the other kind.
    ['an Enterprise role on a Console organization', consoleOrg, ['anthropic-acme-console-owner'], null],
    ['a Console role on an Enterprise organization', enterpriseOrg, ['anthropic-acme-developer'], null],
    ['member is not a Console role', consoleOrg, ['anthropic-acme-console-member'], null],
    // Never the primary owner.
    ['a primary-owner group', enterpriseOrg, ['anthropic-acme-primary-owner'], null],
    [
      'a primary-owner group next to a real one',
      enterpriseOrg,
      ['anthropic-acme-primary-owner', 'anthropic-acme-member'],
      MemberRole.MEMBER,
    ],
  ];

  it.each(cases)('%s', (_label, organization, groups, expected) => {
    expect(roleFromGroups(PREFIX, organization, groups)).toBe(expected);
  });

  it('uses the configured prefix, literally', () => {
    expect(roleFromGroups('okta.', consoleOrg, ['okta.acme-console-admin'])).toBe(MemberRole.ADMIN);
    // Not a pattern: "." is a dot, not any character.
    expect(roleFromGroups('okta.', consoleOrg, ['oktaXacme-console-admin'])).toBeNull();
    // The default prefix means nothing under another one.
    expect(roleFromGroups('okta.', consoleOrg, ['anthropic-acme-console-admin'])).toBeNull();
  });

  it('does not change the groups it is given', () => {
    const groups = Object.freeze(['anthropic-acme-console-user', 'anthropic-acme-console-admin']);
    expect(roleFromGroups(PREFIX, consoleOrg, groups)).toBe(MemberRole.ADMIN);
    expect(groups).toEqual(['anthropic-acme-console-user', 'anthropic-acme-console-admin']);
  });
});
