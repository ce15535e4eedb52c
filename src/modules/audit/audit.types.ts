import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType } from '../../graphql/connection.js';
import { ActorType, type AuditEvent } from './audit-event.entity.js';

registerEnumType(ActorType, { name: 'ActorType' });

@ObjectType('AuditEvent', {
  description: 'One identity change: who did what to which object, before and after.',
})
export class AuditEventType {
  @Field(() => ID)
  id!: string;

  @Field()
  occurredAt!: Date;

  @Field(() => ActorType)
  actorType!: ActorType;

  @Field(() => ID, { nullable: true })
  actorUserId!: string | null;

  @Field(() => String, { nullable: true })
  actorEmail!: string | null;

  @Field()
  action!: string;

  @Field()
  targetType!: string;

  @Field(() => ID)
  targetId!: string;

  @Field(() => GraphQLJSONObject, { nullable: true })
  before!: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  after!: Record<string, unknown> | null;

  @Field(() => String, { nullable: true })
  requestId!: string | null;

  static from(event: AuditEvent): AuditEventType {
    return {
      id: event.id,
      occurredAt: event.occurredAt,
      actorType: event.actorType,
      actorUserId: event.actorUserId ?? null,
      actorEmail: event.actorEmail ?? null,
      action: event.action,
      targetType: event.targetType,
      targetId: event.targetId,
      before: event.before ?? null,
      after: event.after ?? null,
      requestId: event.requestId ?? null,
    };
  }
}

export const AuditEventConnection = connectionType('AuditEvent', AuditEventType);
