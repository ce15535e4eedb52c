import { describe, expect, it } from 'vitest';
import { forEachConcurrently } from '../../src/lib/concurrency.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A call that records how many calls are in flight, and every item it ran. */
function recorder() {
  const ran: number[] = [];
  let inFlight = 0;
  let most = 0;
  const run = async (item: number) => {
    most = Math.max(most, ++inFlight);
    await tick();
    ran.push(item);
    inFlight--;
  };
  return { ran, run, most: () => most, inFlight: () => inFlight };
}

describe('forEachConcurrently', () => {
  it('runs every item of an array, at most `workers` at a time', async () => {
    const { ran, run, most } = recorder();
    await forEachConcurrently([1, 2, 3, 4, 5, 6, 7], 3, run);
    expect(ran.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most()).toBe(3);
  });

  it('takes items from an async generator as workers free up, each once, across its awaits', async () => {
    const { ran, run, most } = recorder();
    let asked = 0;
    async function* batches() {
      for (let batch = 0; batch < 3; batch++) {
        asked++;
        await tick();
        yield* [batch * 10 + 1, batch * 10 + 2, batch * 10 + 3];
      }
    }
    await forEachConcurrently(batches(), 2, run);
    expect(ran.sort((a, b) => a - b)).toEqual([1, 2, 3, 11, 12, 13, 21, 22, 23]);
    expect(asked).toBe(3);
    expect(most()).toBe(2);
  });

  it('rejects with a failure of its source only once the calls in flight have ended', async () => {
    const { ran, run, inFlight } = recorder();
    async function* failing() {
      yield 1;
      yield 2;
      throw new Error('lease failed');
    }
    await expect(forEachConcurrently(failing(), 4, run)).rejects.toThrow('lease failed');
    expect(inFlight()).toBe(0);
    expect(ran.sort()).toEqual([1, 2]);
  });

  it('rejects with the first failed call, after the others have run', async () => {
    const ran: number[] = [];
    const run = async (item: number) => {
      await tick();
      if (item === 2) throw new Error(`item ${item} failed`);
      ran.push(item);
    };
    await expect(forEachConcurrently([1, 2, 3, 4], 2, run)).rejects.toThrow('item 2 failed');
    // The failed call's worker stops; the other goes on through the rest.
    expect(ran.sort()).toEqual([1, 3, 4]);
  });
});
