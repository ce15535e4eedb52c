import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { Directory } from './directory.entity.js';
import { DirectoryUser } from './directory-user.entity.js';

/** A SCIM Group resource of one directory (IdP groups pushed for group mappings). */
@Entity({ tableName: 'directory_groups' })
@Index({ properties: ['directory', 'id'] })
export class DirectoryGroup {
  [OptionalProps]?: 'externalId' | 'version';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Directory, { deleteRule: 'cascade' })
  directory: Directory;

  @Property({ length: 500 })
  displayName: string;

  @Property({ length: 500, nullable: true })
  externalId?: string | null;

  @Property({ type: 'integer', default: 1 })
  version = 1;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  updatedAt: Date;

  constructor(directory: Directory, displayName: string, now: Date) {
    this.directory = directory;
    this.displayName = displayName;
    this.createdAt = now;
    this.updatedAt = now;
  }
}

@Entity({ tableName: 'directory_group_members' })
@Unique({ properties: ['group', 'member'] })
@Index({ properties: ['member'] })
export class DirectoryGroupMember {
  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => DirectoryGroup, { deleteRule: 'cascade' })
  group: DirectoryGroup;

  @ManyToOne(() => DirectoryUser, { deleteRule: 'cascade' })
  member: DirectoryUser;

  constructor(group: DirectoryGroup, member: DirectoryUser) {
    this.group = group;
    this.member = member;
  }
}
