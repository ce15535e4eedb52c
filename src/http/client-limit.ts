import type { FastifyRequest } from 'fastify';
import type { RateLimitName, RateLimits } from '../lib/rate-limits.js';

/** A route hook counting each request against the client address's budget; over it, the route answers 429. */
export function perClientAddress(limits: RateLimits, name: RateLimitName) {
  return async (request: FastifyRequest) => limits.consume(name, request.ip);
}
