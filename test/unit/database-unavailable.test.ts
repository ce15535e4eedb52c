// Which failures the API answers as "the database is away, retry" (SERVICE_UNAVAILABLE, 503) rather than
// masking them as internal errors. The real failures are provoked in test/faults/postgres-restart.test.ts.
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/unavailable.js';

const withCode = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['connection refused', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['connection reset', withCode('ECONNRESET')],
    ['57P01 admin_shutdown', withCode('57P01', 'terminating connection due to administrator command')],
    ['57P03 cannot_connect_now', withCode('57P03', 'the database system is starting up')],
    ['08006 connection_failure', withCode('08006')],
    ['08P01 protocol_violation', withCode('08P01')],
    ['a socket closed under a query', new Error('insert into "x" - Connection terminated unexpectedly')],
    [
      'a client that lost its connection',
      new Error('Client has encountered a connection error and is not queryable'),
    ],
    ['an exhausted pool', new Error('Knex: Timeout acquiring a connection. The pool is probably full.')],
    [
      'a statement after the transaction lost its connection',
      new Error('Transaction query already complete, run with DEBUG=knex:tx for more info'),
    ],
  ])('is true for %s', (_case, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', withCode('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error', withCode('42601')],
    ['a plain bug', new TypeError("Cannot read properties of undefined (reading 'id')")],
    // An outbound fetch wraps its socket error: it is the adapter's failure, not the database's.
    ['a failed fetch', Object.assign(new TypeError('fetch failed'), { cause: withCode('ECONNREFUSED') })],
    ['something that is not an Error', { code: 'ECONNREFUSED' }],
  ])('is false for %s', (_case, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
