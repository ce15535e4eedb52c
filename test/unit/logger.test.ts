import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { rejectionHandler } from '../../src/lib/rejection-guard.js';

function captured() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', destination), lines };
}

describe('logger', () => {
  it('redacts codes and tokens in logged objects, but keeps an error code to tell failures apart', () => {
    const { logger, lines } = captured();
    logger.info({ attempt: { email: 'a@example.com', code: '123456', token: 'secret' } }, 'sign-in');
    const failure = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    logger.error({ err: failure }, 'unexpected error');
    expect(lines[0]!.attempt).toEqual({ email: 'a@example.com', code: '[redacted]', token: '[redacted]' });
    expect(lines[1]!.err).toMatchObject({ message: failure.message, errorCode: 'ECONNREFUSED' });
    expect(JSON.stringify(lines)).not.toContain('123456');
  });
});

describe('rejectionHandler', () => {
  it('survives a rejection that is a database outage, and exits on any other', () => {
    const { logger, lines } = captured();
    const exits: number[] = [];
    const handle = rejectionHandler(logger, (code) => exits.push(code));
    handle(
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    );
    expect(exits).toEqual([]);
    expect(lines.at(-1)).toMatchObject({ level: 40, err: { errorCode: '57P01' } });
    handle(new TypeError("Cannot read properties of undefined (reading 'id')"));
    expect(exits).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({ level: 60, msg: 'unhandled promise rejection' });
  });
});
