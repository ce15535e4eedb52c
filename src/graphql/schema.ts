import { validateOrReject, type ValidationError, type ValidatorOptions } from 'class-validator';
import type { GraphQLSchema } from 'graphql';
import { ArgumentValidationError, buildSchema, type PubSub } from 'type-graphql';
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

// type-graphql's own argument validation runs `await import('class-validator')` on every validated
// argument of every resolver call, a trip through the module loader that cost about 4% of an
// authenticated query. This is the same check (its defaults: missing properties skipped, unknown values
// allowed) with class-validator imported once. Being global, it takes the place of any per-argument
// `validate` setting: none is used, and one added later would be ignored.
const validatorOptions: ValidatorOptions = { skipMissingProperties: true, forbidUnknownValues: false };
const isObject = (value: unknown): value is object => value !== null && typeof value === 'object';

async function validateArgument(value: unknown): Promise<void> {
  if (!isObject(value)) return;
  try {
    if (Array.isArray(value))
      await Promise.all(value.filter(isObject).map((item) => validateOrReject(item, validatorOptions)));
    else await validateOrReject(value, validatorOptions);
  } catch (error) {
    throw new ArgumentValidationError(error as ValidationError[]);
  }
}

let built: Promise<GraphQLSchema> | undefined;

/**
 * The schema is the same for every app in a process (resolvers reach their services through the
 * context, never through module state), so it is built once.
 */
export function graphqlSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers,
    validateFn: validateArgument,
    pubSub: noSharedPubSub,
    emitSchemaFile: false,
  });
  return built;
}
