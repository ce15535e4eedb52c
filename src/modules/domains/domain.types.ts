import { MaxLength } from 'class-validator';
import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType } from '../../graphql/connection.js';
import { type UserErrorShape, userErrorType } from '../../graphql/errors.js';
import type { DomainStatusChangedEvent } from '../../lib/events.js';
import { DnsCheckOutcome, type Domain, DomainStatus } from './domain.entity.js';
import { DomainErrorCode } from './domain.errors.js';
import type { TxtInstructions } from './domain.service.js';

registerEnumType(DomainStatus, { name: 'DomainStatus' });
registerEnumType(DnsCheckOutcome, {
  name: 'DnsCheckOutcome',
  description: 'What the last DNS check saw. DNS_ERROR (SERVFAIL, timeout) never counts as an absent record.',
});

export const DomainUserError = userErrorType('Domain', DomainErrorCode);

@ObjectType('DomainVerificationRecord', {
  description: 'The TXT record to publish to prove control of the domain.',
})
export class DomainVerificationRecordType {
  @Field({
    description:
      'Where to publish it: _<brand>-challenge.<domain> (on the subdomain itself for a subdomain).',
  })
  name!: string;

  @Field()
  type!: string;

  @Field({ description: 'The whole value of the record.' })
  value!: string;
}

@ObjectType('Domain', { description: "A parent organization's claim on an e-mail domain." })
export class DomainType {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Canonical form (lower-case; internationalised names as punycode A-labels).' })
  name!: string;

  @Field(() => DomainStatus)
  status!: DomainStatus;

  @Field(() => DomainVerificationRecordType)
  verificationRecord!: DomainVerificationRecordType;

  @Field(() => ID)
  parentOrganizationId!: string;

  @Field()
  createdAt!: Date;

  @Field({ description: 'When a pending claim becomes FAILED if its record was not seen.' })
  claimExpiresAt!: Date;

  @Field(() => Date, { nullable: true })
  verifiedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  lastCheckedAt!: Date | null;

  @Field(() => DnsCheckOutcome, { nullable: true })
  lastCheckOutcome!: DnsCheckOutcome | null;

  @Field(() => String, {
    nullable: true,
    description: 'Resolver error code of a DNS_ERROR, e.g. ESERVFAIL or ETIMEOUT.',
  })
  lastCheckDetail!: string | null;

  @Field(() => Date, { nullable: true })
  nextCheckAt!: Date | null;

  static from(domain: Domain, record: TxtInstructions, claimExpiresAt: Date): DomainType {
    return {
      id: domain.id,
      name: domain.name,
      status: domain.status,
      verificationRecord: { name: record.recordName, type: 'TXT', value: record.recordValue },
      parentOrganizationId: domain.parent.id,
      createdAt: domain.createdAt,
      claimExpiresAt,
      verifiedAt: domain.verifiedAt ?? null,
      lastCheckedAt: domain.lastCheckedAt ?? null,
      lastCheckOutcome: domain.lastCheckOutcome ?? null,
      lastCheckDetail: domain.lastCheckDetail ?? null,
      nextCheckAt: domain.nextCheckAt ?? null,
    };
  }
}

export const DomainConnection = connectionType('Domain', DomainType);

@ObjectType('DomainStatusChangedEvent')
export class DomainStatusChangedEventType {
  @Field(() => ID)
  parentOrganizationId!: string;

  @Field(() => ID)
  domainId!: string;

  @Field()
  name!: string;

  @Field({ description: 'A DomainStatus, or REMOVED.' })
  status!: string;

  @Field(() => DnsCheckOutcome, { nullable: true })
  lastCheckOutcome!: DnsCheckOutcome | null;

  @Field()
  occurredAt!: Date;

  static from(event: DomainStatusChangedEvent): DomainStatusChangedEventType {
    return { ...event, lastCheckOutcome: (event.lastCheckOutcome as DnsCheckOutcome | null) ?? null };
  }
}

@InputType()
export class DomainAddInput {
  @Field({ description: 'The domain, e.g. acme.com or eu.acme.com; internationalised names are accepted.' })
  @MaxLength(300)
  name!: string;
}

@ObjectType()
export class DomainPayload {
  @Field(() => DomainType, { nullable: true })
  domain!: DomainType | null;

  @Field(() => [DomainUserError])
  userErrors!: UserErrorShape[];
}
