import { describe, expect, it } from 'vitest';
import {
  canonicalDomainName,
  canonicalEmail,
  InvalidEmailError,
  InvalidNameError,
} from '../../src/lib/names.js';

describe('canonicalDomainName', () => {
  it.each([
    ['Example.COM', 'example.com'],
    ['  example.com.  ', 'example.com'],
    ['sub.Example.com', 'sub.example.com'],
    ['bücher.de', 'xn--bcher-kva.de'],
    ['ＥＸＡＭＰＬＥ.com', 'example.com'],
    ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
    ['a-b.example.co.uk', 'a-b.example.co.uk'],
  ])('%s -> %s', (input, expected) => {
    expect(canonicalDomainName(input)).toBe(expected);
  });

  it.each([
    ['', 'EMPTY'],
    ['   ', 'EMPTY'],
    ['localhost', 'SINGLE_LABEL'],
    ['192.168.0.1', 'IP_ADDRESS'],
    ['[::1]', 'IP_ADDRESS'],
    ['-bad.example.com', 'INVALID_LABEL'],
    ['bad-.example.com', 'INVALID_LABEL'],
    ['a..example.com', 'INVALID_LABEL'],
    ['under_score.example.com', 'INVALID_CHARACTERS'],
    ['exa mple.com', 'INVALID_CHARACTERS'],
    ['example.com/path', 'INVALID_CHARACTERS'],
    ['*.example.com', 'INVALID_CHARACTERS'],
    [`${'a'.repeat(64)}.com`, 'INVALID_LABEL'],
    [`${'abcdefghi.'.repeat(26)}com`, 'TOO_LONG'],
    ['example.123', 'INVALID_LABEL'],
  ])('refuses %j with %s', (input, problem) => {
    let error: unknown;
    try {
      canonicalDomainName(input);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidNameError);
    expect((error as InvalidNameError).problem).toBe(problem);
  });
});

describe('canonicalEmail', () => {
  it.each([
    ['Alice@Example.COM', 'alice@example.com'],
    ['  bob.smith+tag@sub.example.com ', 'bob.smith+tag@sub.example.com'],
    ['carol@bücher.de', 'carol@xn--bcher-kva.de'],
    ['dave@example.com.', 'dave@example.com'],
  ])('%s -> %s', (input, expected) => {
    expect(canonicalEmail(input)).toBe(expected);
  });

  it.each([
    'no-at-sign',
    '@example.com',
    'user@',
    'user@localhost',
    'us er@example.com',
    '.user@example.com',
    'user.@example.com',
    'a..b@example.com',
    '"quoted"@example.com',
    `${'a'.repeat(65)}@example.com`,
    'user@exa_mple.com',
    'user@192.168.1.1',
  ])('refuses %j', (input) => {
    expect(() => canonicalEmail(input)).toThrowError(InvalidEmailError);
  });
});
