import type { AccessCode } from '../lib/errors.js';

/** The HTTP status of each access failure, for the routes that answer outside GraphQL. */
export const ACCESS_HTTP_STATUS: Record<AccessCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  RATE_LIMITED: 429,
};
