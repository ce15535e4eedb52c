import { describe, expect, it } from 'vitest';
import { isUuid, uuidv7 } from '../../src/lib/ids.js';

describe('uuidv7', () => {
  it('is an RFC 9562 version 7 UUID carrying its millisecond timestamp', () => {
    const now = Date.UTC(2026, 10, 29, 4, 10, 0, 123);
    const id = uuidv7(now);
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
    expect(parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(now);
  });

  it('sorts in creation order across milliseconds and never repeats', () => {
    const start = Date.now();
    const ids = Array.from({ length: 10_000 }, (_, i) => uuidv7(start + Math.floor(i / 100)));
    expect(new Set(ids).size).toBe(ids.length);
    const firstOfEachMs = ids.filter((_, i) => i % 100 === 0);
    expect([...firstOfEachMs].sort()).toEqual(firstOfEachMs);
  });
});
