import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/** A SAML assertion ID already used at this connection, kept until the assertion expires: replays fail on every instance. */
@Entity({ tableName: 'sso_consumed_assertions' })
export class ConsumedAssertion {
  @PrimaryKey({ type: 'uuid' })
  connectionId: string;

  @PrimaryKey({ length: 256 })
  assertionId: string;

  @Property({ type: 'timestamptz' })
  expiresAt: Date;

  constructor(connectionId: string, assertionId: string, expiresAt: Date) {
    this.connectionId = connectionId;
    this.assertionId = assertionId;
    this.expiresAt = expiresAt;
  }
}
