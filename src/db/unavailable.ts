// Tells "the database cannot be reached right now" apart from a bug, for every edge of the API at once:
// GraphQL answers such a failure with SERVICE_UNAVAILABLE, SCIM and the other routes with 503 and a
// Retry-After, instead of masking it as an internal error. Other outbound calls (DNS, IdP metadata, OIDC)
// turn their own failures into DomainErrors inside their adapters, so a bare socket error reaching an
// edge comes from the database.

/** What clients are told to wait: a PostgreSQL restart or failover takes seconds, not minutes. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

// Socket errors on the way to the server; SQLSTATE 57P01 admin_shutdown, 57P02 crash_shutdown and
// 57P03 cannot_connect_now (starting up or shutting down). Class 08 (connection_exception) is checked apart.
const CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03']);
// node-postgres reports a socket closed under a query, and knex a pool that could not hand out a
// connection in time, without a code. A transaction whose connection was lost is completed by knex, and the
// next statement of its unit of work is refused with "Transaction query already complete" (seen in the
// PostgreSQL restart fault test). MikroORM and knex prefix the message with the SQL, hence no anchors.
const MESSAGES = [
  /Connection terminated/,
  /is not queryable/,
  /Timeout acquiring a connection/,
  /Transaction query already complete/,
];

export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  return MESSAGES.some((pattern) => pattern.test(error.message));
}
