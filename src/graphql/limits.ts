// Abuse limits of the GraphQL API, applied the same way over HTTP (Apollo) and WebSocket (graphql-ws):
// tokens while parsing, depth/aliases/directives while validating (graphql-armor), and a cost computed
// with the operation's real variables once it is resolved. Validation rules alone cannot price
// `members(first: $n)`, and Apollo caches validation per document, so the cost check runs per request
// (priced once per operation when it has no variables).
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type OperationDefinitionNode,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { DEFAULT_PAGE_SIZE } from '../lib/page.js';

export const GRAPHQL_LIMITS = {
  maxTokens: 1000,
  maxDepth: 8,
  maxAliases: 15,
  maxDirectives: 50,
  maxCost: 5000,
} as const;

const armor = new ApolloArmor({
  maxDepth: { n: GRAPHQL_LIMITS.maxDepth },
  maxAliases: { n: GRAPHQL_LIMITS.maxAliases },
  maxDirectives: { n: GRAPHQL_LIMITS.maxDirectives },
  // Tokens are limited by graphql-js's own parser option (one parse, not two); cost is priced below with
  // variables; suggestions are stripped by formatError so that both transports lose them.
  maxTokens: { enabled: false },
  costLimit: { enabled: false },
  blockFieldSuggestion: { enabled: false },
});

export const limitRules: ValidationRule[] = armor.protect().validationRules as ValidationRule[];

export const parseOptions = { maxTokens: GRAPHQL_LIMITS.maxTokens };

/** A page of a connection costs its children once per requested row; anything else costs one. */
const pagedEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (!field.args.some((arg) => arg.name === 'first')) return undefined;
  const rows = typeof args.first === 'number' ? args.first : DEFAULT_PAGE_SIZE;
  return 1 + rows * childComplexity;
};

// Apollo hands every request of the same query text the same parsed document, so an operation without
// variables (the common case of a console polling one query) is priced once per resolved operation node,
// not walked again on every request. Keyed by the node Apollo resolved, never by the client's name for
// it: a name that resolves to nothing prices as nothing and must not stand for the real operation.
const costsWithoutVariables = new WeakMap<OperationDefinitionNode, number>();

export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined | null,
  resolved?: OperationDefinitionNode,
): number {
  if (!resolved || (variables && Object.keys(variables).length > 0))
    return priceOperation(schema, document, variables ?? {}, operationName);
  let cost = costsWithoutVariables.get(resolved);
  if (cost === undefined) {
    cost = priceOperation(schema, document, {}, operationName);
    costsWithoutVariables.set(resolved, cost);
  }
  return cost;
}

function priceOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName: string | undefined | null,
): number {
  try {
    return getComplexity({
      schema,
      query: document,
      variables,
      operationName: operationName ?? undefined,
      estimators: [pagedEstimator, simpleEstimator({ defaultComplexity: 1 })],
    });
  } catch (error) {
    // Variables that do not coerce cannot run either; execution reports them as BAD_USER_INPUT.
    if (error instanceof GraphQLError) return 0;
    throw error;
  }
}

function tooCostly(cost: number): GraphQLError {
  return new GraphQLError(
    `The operation would cost ${cost}, over the limit of ${GRAPHQL_LIMITS.maxCost}; ask for fewer rows per page.`,
    { extensions: { code: 'QUERY_TOO_COMPLEX', http: { status: 400 } } },
  );
}

/** Apollo plugin: refuses an operation whose cost, with its variables, is over the limit. */
export const costLimitPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ request, document, schema, operation }) {
        const cost = operationCost(schema, document, request.variables, request.operationName, operation);
        if (cost > GRAPHQL_LIMITS.maxCost) throw tooCostly(cost);
      },
    };
  },
};

/**
 * graphql-ws onSubscribe: the same parse, validation and cost limits as over HTTP. Returns the errors to
 * send, or the execution arguments (graphql-ws then adds the context and runs the operation).
 */
export function checkSubscribe(
  schema: GraphQLSchema,
  payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
):
  | readonly GraphQLError[]
  | {
      schema: GraphQLSchema;
      document: DocumentNode;
      operationName?: string;
      variableValues?: Record<string, unknown>;
    } {
  let document: DocumentNode;
  try {
    document = parse(payload.query, parseOptions);
  } catch (error) {
    if (error instanceof GraphQLError) return [error];
    throw error;
  }
  const errors = validate(schema, document, [...specifiedRules, ...limitRules]);
  if (errors.length > 0) return errors;
  const variables = payload.variables ?? undefined;
  const cost = operationCost(schema, document, variables, payload.operationName);
  if (cost > GRAPHQL_LIMITS.maxCost) return [tooCostly(cost)];
  return {
    schema,
    document,
    operationName: payload.operationName ?? undefined,
    variableValues: variables,
  };
}
