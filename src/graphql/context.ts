import type { FastifyReply } from 'fastify';
import type { Scope } from '../lib/scope.js';
import type { Services } from '../services.js';

// A type alias, not an interface: graphql-ws requires the context to be a plain record type.
export type Context = {
  scope: Scope;
  services: Services;
  /** Present over HTTP (to set cookies); absent on WebSocket subscriptions. */
  reply?: FastifyReply;
};
