import { Entity, Enum, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';

export enum StaffRole {
  ACCOUNT_MANAGER = 'ACCOUNT_MANAGER',
  SALES = 'SALES',
}

@Entity({ tableName: 'users' })
export class User {
  [OptionalProps]?: 'staffRole' | 'name' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  /** Canonical form (see lib/names.ts): the one account per address. */
  @Property({ length: 254, unique: true })
  email: string;

  @Property({ length: 200, nullable: true })
  name?: string | null;

  @Enum({ items: () => StaffRole, nullable: true })
  staffRole?: StaffRole | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  updatedAt: Date;

  constructor(email: string, now: Date) {
    this.email = email;
    this.createdAt = now;
    this.updatedAt = now;
  }
}
