// Prometheus metrics of one app: a registry per app (tests run many apps in one process), GraphQL
// requests counted and timed by operation name and outcome.
import type { ApolloServerPlugin } from '@apollo/server';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  apolloPlugin: ApolloServerPlugin;
}

const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'graphql_requests_total',
    help: 'GraphQL operations by operation name, type and outcome.',
    labelNames: ['operation', 'type', 'outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'graphql_request_duration_seconds',
    help: 'GraphQL operation latency by operation name and type.',
    labelNames: ['operation', 'type'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const apolloPlugin: ApolloServerPlugin = {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ operationName, operation, errors }) {
          // Client-chosen names are labels only when well-formed, to bound what a caller can add to the registry.
          const name = operationName && OPERATION_NAME.test(operationName) ? operationName : 'anonymous';
          const type = operation?.operation ?? 'unknown';
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          requests.inc({ operation: name, type, outcome: errors?.length ? 'error' : 'ok' });
          duration.observe({ operation: name, type }, seconds);
        },
      };
    },
  };
  return { registry, apolloPlugin };
}
