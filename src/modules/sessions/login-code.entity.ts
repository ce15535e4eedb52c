import { Entity, Index, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';

/** An e-mailed one-time sign-in code. Keyed by address, not by account, so requesting one reveals nothing. */
@Entity({ tableName: 'login_codes' })
@Index({ properties: ['email', 'createdAt'] })
export class LoginCode {
  [OptionalProps]?: 'attempts' | 'consumedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @Property({ length: 254 })
  email: string;

  @Property({ length: 64 })
  codeHash: string;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz' })
  expiresAt: Date;

  @Property({ type: 'integer', default: 0 })
  attempts = 0;

  @Property({ type: 'timestamptz', nullable: true })
  consumedAt?: Date | null;

  constructor(email: string, codeHash: string, now: Date, expiresAt: Date) {
    this.email = email;
    this.codeHash = codeHash;
    this.createdAt = now;
    this.expiresAt = expiresAt;
  }
}
