// Reads that many concurrent requests make at once (the caller's session, the caller's organizations)
// are answered together: under load a round trip per request was most of their cost, the socket write
// alone about as much as the database's work.

/**
 * A function whose calls made in one turn of the event loop are answered together: the first call waits
 * for the turn to end (setImmediate), then `answer` gets every call's key, in order, and returns an answer
 * for each, in the same order. A failed `answer` fails every call of its turn.
 */
export function turnBatch<K, A>(answer: (keys: K[]) => Promise<A[]>): (key: K) => Promise<A> {
  let waiting: Array<{ key: K; resolve: (answer: A) => void; reject: (error: unknown) => void }> = [];
  const answerWaiting = async () => {
    const calls = waiting;
    waiting = [];
    try {
      const answers = await answer(calls.map(({ key }) => key));
      if (answers.length !== calls.length)
        throw new Error(`A turn's batch answered ${answers.length} of ${calls.length} calls.`);
      calls.forEach(({ resolve }, i) => resolve(answers[i]!));
    } catch (error) {
      for (const { reject } of calls) reject(error);
    }
  };
  return (key) =>
    new Promise<A>((resolve, reject) => {
      waiting.push({ key, resolve, reject });
      if (waiting.length === 1) setImmediate(() => void answerWaiting());
    });
}
