// Advanced Group Mappings, evaluated in one place for both channels (SAML groups at login, SCIM pushed
// groups). A group grants a role in an organization only when its name is exactly
// `<prefix><org-slug>-<role>`: ASCII, case-sensitive, whole-string; the most privileged matching role
// wins; no matching group means no access; PRIMARY_OWNER is never granted by a group.
import type { Organization } from '../organizations/organization.entity.js';
import { compareRoles, MemberRole, ROLES_BY_KIND } from '../organizations/roles.js';

/** The roles a group can grant in an organization: every role of its kind but the primary owner. */
export function mappableRoles(organization: Pick<Organization, 'kind'>): MemberRole[] {
  return ROLES_BY_KIND[organization.kind].filter((role) => role !== MemberRole.PRIMARY_OWNER);
}

export function groupName(
  prefix: string,
  organization: Pick<Organization, 'slug'>,
  role: MemberRole,
): string {
  return `${prefix}${organization.slug}-${role.toLowerCase().replace(/_/g, '-')}`;
}

/** The role the groups give in the organization, or null for no access. */
export function roleFromGroups(
  prefix: string,
  organization: Pick<Organization, 'slug' | 'kind'>,
  groups: readonly string[],
): MemberRole | null {
  const names = new Set(groups);
  const granted = mappableRoles(organization).filter((role) =>
    names.has(groupName(prefix, organization, role)),
  );
  return granted.sort((a, b) => compareRoles(organization.kind, a, b))[0] ?? null;
}

/**
 * The SAML channel's groups: the claim, narrowed to the groups the parent's SCIM directories give the user
 * when the parent has a directory (null: none), so a look-alike group made up in the IdP grants nothing.
 */
export function narrowToDirectory(claim: string[] | null, directoryGroups: string[] | null): string[] | null {
  if (claim === null || directoryGroups === null) return claim;
  const known = new Set(directoryGroups);
  return claim.filter((g) => known.has(g));
}
