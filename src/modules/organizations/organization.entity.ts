import { Entity, Enum, ManyToOne, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { ParentOrganization } from './parent-organization.entity.js';
import { DEFAULT_MEMBER_ROLE, MemberRole, OrganizationKind } from './roles.js';

@Entity({ tableName: 'organizations' })
export class Organization {
  [OptionalProps]?: 'parent' | 'ssoFeatureEnabled' | 'advancedGroupMappings' | 'jitEnabled' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @Property({ length: 200 })
  name: string;

  /** Unique, lower-case; group names are built from it. */
  @Property({ length: 48, unique: true })
  slug: string;

  @Enum({ items: () => OrganizationKind })
  kind: OrganizationKind;

  /** Indexed (Migration20261130080000): parent-level audit events read the parent's organizations. */
  @ManyToOne(() => ParentOrganization, { nullable: true, deleteRule: 'set null', index: true })
  parent?: ParentOrganization | null;

  @Property({ default: false })
  ssoFeatureEnabled = false;

  @Property({ default: false })
  advancedGroupMappings = false;

  /** Whether first SSO logins of the parent's users join this organization (without group mappings). */
  @Property({ default: true })
  jitEnabled = true;

  @Enum({ items: () => MemberRole })
  jitDefaultRole: MemberRole;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  updatedAt: Date;

  constructor(name: string, slug: string, kind: OrganizationKind, now: Date) {
    this.name = name;
    this.slug = slug;
    this.kind = kind;
    this.jitDefaultRole = DEFAULT_MEMBER_ROLE[kind];
    this.createdAt = now;
    this.updatedAt = now;
  }
}
