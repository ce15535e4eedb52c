import type { GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { AuditResolver } from '../modules/audit/audit.resolver.js';
import { MemberResolver } from '../modules/members/member.resolver.js';
import { OrganizationResolver } from '../modules/organizations/organization.resolver.js';
import { SessionResolver } from '../modules/sessions/session.resolver.js';
import { MergeResolver } from '../modules/merges/merge.resolver.js';
import { DomainMembershipResolver } from '../modules/domains/domain-membership.resolver.js';
import { DomainResolver } from '../modules/domains/domain.resolver.js';
import { SsoResolver } from '../modules/sso/sso.resolver.js';
import { DirectoryResolver } from '../modules/scim/directory.resolver.js';
import { GroupMappingResolver } from '../modules/mappings/group-mapping.resolver.js';
import { ParentOrganizationResolver } from '../modules/organizations/parent-organization.resolver.js';

export const resolvers = [
  SessionResolver,
  OrganizationResolver,
  ParentOrganizationResolver,
  MemberResolver,
  MergeResolver,
  DomainMembershipResolver,
  DomainResolver,
  SsoResolver,
  DirectoryResolver,
  GroupMappingResolver,
  AuditResolver,
] as const;

// Every subscription declares its own `subscribe` on the app's event bus (from the context); type-graphql
// still insists on a pubSub, so it gets one that refuses use instead of a shared bus that would mix apps.
const noSharedPubSub: PubSub = {
  publish: () => {
    throw new Error('Publish through the event bus of the app (context.services.events).');
  },
  subscribe: () => {
    throw new Error('Subscriptions must declare `subscribe` on the event bus of the app.');
  },
};

let built: Promise<GraphQLSchema> | undefined;

/**
 * The schema is the same for every app in a process (resolvers reach their services through the
 * context, never through module state), so it is built once.
 */
export function graphqlSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers,
    validate: { forbidUnknownValues: false },
    pubSub: noSharedPubSub,
    emitSchemaFile: false,
  });
  return built;
}
