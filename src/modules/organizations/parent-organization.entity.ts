import { Entity, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';

/** Holds the identity settings (domains, SSO, SCIM, group mappings) shared by every organization linked to it. */
@Entity({ tableName: 'parent_organizations' })
export class ParentOrganization {
  [OptionalProps]?: 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @Property({ length: 200 })
  name: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  updatedAt: Date;

  constructor(name: string, now: Date) {
    this.name = name;
    this.createdAt = now;
    this.updatedAt = now;
  }
}
