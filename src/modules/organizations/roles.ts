// Roles per organization kind, ordered from most to least privileged. The order decides "the most
// privileged role wins" and who counts as an administrator of the organization.

export enum OrganizationKind {
  ENTERPRISE = 'ENTERPRISE',
  API_CONSOLE = 'API_CONSOLE',
}

export enum MemberRole {
  PRIMARY_OWNER = 'PRIMARY_OWNER',
  OWNER = 'OWNER',
  ADMIN = 'ADMIN',
  MEMBER = 'MEMBER',
  DEVELOPER = 'DEVELOPER',
  BILLING = 'BILLING',
  USER = 'USER',
}

export const ROLES_BY_KIND: Record<OrganizationKind, readonly MemberRole[]> = {
  [OrganizationKind.ENTERPRISE]: [
    MemberRole.PRIMARY_OWNER,
    MemberRole.OWNER,
    MemberRole.ADMIN,
    MemberRole.MEMBER,
  ],
  [OrganizationKind.API_CONSOLE]: [
    MemberRole.ADMIN,
    MemberRole.DEVELOPER,
    MemberRole.BILLING,
    MemberRole.USER,
  ],
};

/** Roles that administer the organization: invite, change roles, remove, reach identity settings. */
export const ADMIN_ROLES: Record<OrganizationKind, readonly MemberRole[]> = {
  [OrganizationKind.ENTERPRISE]: [MemberRole.PRIMARY_OWNER, MemberRole.OWNER, MemberRole.ADMIN],
  [OrganizationKind.API_CONSOLE]: [MemberRole.ADMIN],
};

/** The role the creator of an organization receives. */
export const CREATOR_ROLE: Record<OrganizationKind, MemberRole> = {
  [OrganizationKind.ENTERPRISE]: MemberRole.PRIMARY_OWNER,
  [OrganizationKind.API_CONSOLE]: MemberRole.ADMIN,
};

export const DEFAULT_MEMBER_ROLE: Record<OrganizationKind, MemberRole> = {
  [OrganizationKind.ENTERPRISE]: MemberRole.MEMBER,
  [OrganizationKind.API_CONSOLE]: MemberRole.USER,
};

export function isRoleOfKind(kind: OrganizationKind, role: MemberRole): boolean {
  return ROLES_BY_KIND[kind].includes(role);
}

export function isAdminRole(kind: OrganizationKind, role: MemberRole): boolean {
  return ADMIN_ROLES[kind].includes(role);
}

/** Negative when `a` is more privileged than `b`. */
export function compareRoles(kind: OrganizationKind, a: MemberRole, b: MemberRole): number {
  const order = ROLES_BY_KIND[kind];
  return order.indexOf(a) - order.indexOf(b);
}

/**
 * Roles that reach the identity settings of the organization's parent and approve merges into or out of
 * it: Console admins, and Enterprise owners and primary owners (the guide's approvers).
 */
export const IDENTITY_ADMIN_ROLES: Record<OrganizationKind, readonly MemberRole[]> = {
  [OrganizationKind.ENTERPRISE]: [MemberRole.PRIMARY_OWNER, MemberRole.OWNER],
  [OrganizationKind.API_CONSOLE]: [MemberRole.ADMIN],
};

export function isIdentityAdminRole(kind: OrganizationKind, role: MemberRole): boolean {
  return IDENTITY_ADMIN_ROLES[kind].includes(role);
}
