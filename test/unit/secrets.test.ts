// constantTimeEqual decides SCIM tokens, sign-in codes, browser bindings and DNS records.
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, sha256 } from '../../src/lib/secrets.js';

describe('constantTimeEqual', () => {
  it('is true only for the same string', () => {
    expect(constantTimeEqual(sha256('a'), sha256('a'))).toBe(true);
    expect(constantTimeEqual(sha256('a'), sha256('b'))).toBe(false);
    expect(constantTimeEqual('brand-domain-verification=abc', 'brand-domain-verification=abd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });

  it('is false for strings of different lengths, a prefix included', () => {
    expect(constantTimeEqual('token', 'token-longer')).toBe(false);
    expect(constantTimeEqual('token-longer', 'token')).toBe(false);
    expect(constantTimeEqual('', 'x')).toBe(false);
  });

  it('compares the UTF-8 bytes: strings of one length in characters but not in bytes differ', () => {
    expect(constantTimeEqual('café', 'cafe')).toBe(false);
    expect(constantTimeEqual('cafe', 'café')).toBe(false);
    expect(constantTimeEqual('café', 'café')).toBe(true);
  });
});
