import type { FastifyReply } from 'fastify';
import type { ExecutionResult } from 'graphql';
import type { Scope } from '../lib/scope.js';
import type { Services } from '../services.js';

// A type alias, not an interface: graphql-ws requires the context to be a plain record type.
export type Context = {
  scope: Scope;
  services: Services;
  /** Present over HTTP (to set cookies); absent on WebSocket subscriptions. */
  reply?: FastifyReply;
  /**
   * Present on WebSocket operations: delivers one result of the subscription to its client, false once
   * the client can take no more.
   */
  live?: (result: ExecutionResult) => boolean;
};
