import type { FastifyReply } from 'fastify';
import type { AccessCode, AccessError } from '../lib/errors.js';

/** The HTTP status of each access failure, for the routes that answer outside GraphQL. */
export const ACCESS_HTTP_STATUS: Record<AccessCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  RATE_LIMITED: 429,
};

/** Puts an access failure's status on a REST reply, and Retry-After when it is a rate limit. */
export function replyAccessStatus(reply: FastifyReply, error: AccessError): FastifyReply {
  const retryAfter = error.details.retryAfterSeconds;
  if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
  return reply.code(ACCESS_HTTP_STATUS[error.code]);
}
