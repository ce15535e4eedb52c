import { describe, expect, it } from 'vitest';
import { turnBatch } from '../../src/lib/turn-batch.js';

describe('turnBatch', () => {
  it('answers the calls of one turn together, in order, and those of the next turn apart', async () => {
    const batches: number[][] = [];
    const double = turnBatch(async (keys: number[]) => {
      batches.push(keys);
      return keys.map((key) => key * 2);
    });
    expect(await Promise.all([double(1), double(2), double(3)])).toEqual([2, 4, 6]);
    expect(await double(4)).toBe(8);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('answers a call made while a turn is being answered in a turn of its own', async () => {
    const batches: number[][] = [];
    let later: Promise<number> | undefined;
    const double = turnBatch(async (keys: number[]) => {
      batches.push(keys);
      later ??= double(5);
      return keys.map((key) => key * 2);
    });
    expect(await Promise.all([double(1), double(2)])).toEqual([2, 4]);
    expect(await later).toBe(10);
    expect(batches).toEqual([[1, 2], [5]]);
  });

  it('fails every call of a turn whose answer fails, and answers the next turn', async () => {
    let fail = true;
    const echo = turnBatch(async (keys: string[]) => {
      if (fail) throw new Error('database down');
      return keys;
    });
    const calls = [echo('a'), echo('b')];
    for (const call of calls) await expect(call).rejects.toThrow('database down');
    fail = false;
    expect(await echo('c')).toBe('c');
  });

  it('fails the calls of a turn whose answer does not answer each of them', async () => {
    const short = turnBatch(async (keys: string[]) => keys.slice(1));
    const calls = [short('a'), short('b')];
    for (const call of calls) await expect(call).rejects.toThrow('answered 1 of 2 calls');
  });
});
