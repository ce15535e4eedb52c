// The error model of the API. Expected business failures are values: `userErrors { code field message }`
// beside a nullable result, with a code enum per module. Everything else is a top-level error with
// `extensions.code`; an unexpected error is masked behind an error id that is logged with its stack, and
// a database outage is SERVICE_UNAVAILABLE, which the client may retry.
import { randomUUID } from 'node:crypto';
import { HeaderMap } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ArgumentValidationError, Field, InterfaceType, ObjectType, registerEnumType } from 'type-graphql';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/unavailable.js';
import { AccessError, DomainError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';

@InterfaceType('UserError', { description: 'An expected failure of a mutation; nothing was changed.' })
export abstract class UserError {
  @Field(() => [String], { nullable: true, description: 'Path of the input field at fault.' })
  field?: string[] | null;

  @Field({ description: 'Human-readable explanation.' })
  message!: string;
}

/** The userErrors type of one module: UserError with that module's code enum. */
export function userErrorType<E extends Record<string, string>>(module: string, codes: E) {
  registerEnumType(codes, { name: `${module}ErrorCode` });
  @ObjectType(`${module}UserError`, { implements: UserError })
  class ModuleUserError extends UserError {
    @Field(() => codes)
    code!: E[keyof E];
  }
  return ModuleUserError;
}

export interface UserErrorShape {
  code: string;
  field?: string[] | null;
  message: string;
}

/** Runs a service call; a DomainError becomes the payload's userErrors, anything else propagates. */
export async function mutate<T>(
  run: () => Promise<T>,
): Promise<{ result: T | null; userErrors: UserErrorShape[] }> {
  try {
    return { result: await run(), userErrors: [] };
  } catch (error) {
    if (error instanceof DomainError) {
      return {
        result: null,
        userErrors: [{ code: error.code, field: error.field ?? null, message: error.message }],
      };
    }
    throw error;
  }
}

const GRAPHQL_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'PERSISTED_QUERY_NOT_FOUND',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
  'QUERY_TOO_COMPLEX',
]);

/** graphql-js's "Did you mean …?" hints spell out the schema that disabled introspection hides. */
function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean .+\?$/s, '');
}

/**
 * Rethrows a database outage met before execution (authenticating the request) so that Apollo answers
 * 503 with Retry-After rather than its 500 for a failed context; formatError still shapes the body.
 */
export function unavailableBeforeExecution(error: unknown): never {
  if (!isDatabaseUnavailable(error)) throw error;
  throw new GraphQLError('Service unavailable.', {
    originalError: error as Error,
    extensions: {
      http: {
        status: 503,
        headers: new HeaderMap([['retry-after', String(DATABASE_RETRY_AFTER_SECONDS)]]),
      },
    },
  });
}

/** The error a resolver threw, under graphql-js's located wrappers. */
function unwrap(error: unknown): unknown {
  let current = error;
  while (current && typeof current === 'object' && 'originalError' in current && current.originalError) {
    current = current.originalError;
  }
  return current;
}

export function formatError(logger: Logger, options: { suggestions: boolean }) {
  const message = options.suggestions ? (text: string) => text : withoutSuggestions;
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrap(error);
    if (original instanceof AccessError) {
      return {
        message: original.message,
        path: formatted.path,
        locations: formatted.locations,
        extensions: { code: original.code, ...original.details },
      };
    }
    if (original instanceof ArgumentValidationError) {
      const fields = original.extensions.validationErrors?.map((v) => ({
        field: v.property,
        constraints: v.constraints,
      }));
      return {
        message: 'The input is not valid.',
        path: formatted.path,
        locations: formatted.locations,
        extensions: { code: 'BAD_USER_INPUT', fields },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && GRAPHQL_CODES.has(code)) {
      return {
        message: message(formatted.message),
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code },
      };
    }
    // A GraphQLError raised by graphql-js itself (variable coercion, unknown field) has no original error.
    if (original instanceof GraphQLError) {
      return {
        message: message(formatted.message),
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'BAD_USER_INPUT' },
      };
    }
    // Not a bug: the client may retry, and nothing is logged as an error for each request of an outage.
    if (isDatabaseUnavailable(original)) {
      logger.warn({ err: original }, 'database unavailable during a GraphQL operation');
      return {
        message: 'The service is briefly unavailable. Retry shortly.',
        path: formatted.path,
        extensions: { code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS },
      };
    }
    const errorId = randomUUID();
    logger.error({ errorId, err: original }, 'unexpected error in GraphQL operation');
    return {
      message: `Internal error. Quote this id to support: ${errorId}`,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR', errorId },
    };
  };
}
