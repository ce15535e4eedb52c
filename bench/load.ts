// A closed-loop HTTP load generator (autocannon is not installed): `connections` keep-alive connections,
// each sending its next request as soon as the previous answer is read, for a fixed time. It runs in a
// worker thread, so the server under test keeps the main event loop to itself.
import http from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  seconds: number;
  /** Unmeasured requests first, so JIT and caches are warm. */
  warmupSeconds?: number;
}

export interface LoadResult {
  requests: number;
  /** Non-2xx answers, and GraphQL answers carrying `errors`. */
  errors: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export function load(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: options });
    worker.once('message', (result: LoadResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`The load worker exited with ${code}.`));
    });
  });
}

function send(agent: http.Agent, options: LoadOptions): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const request = http.request(options.url, { method: options.method, headers: options.headers, agent });
    request.once('error', reject);
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('end', () => {
        const ok = response.statusCode! < 300 && !Buffer.concat(chunks).includes('"errors"');
        resolve(ok);
      });
    });
    request.end(options.body);
  });
}

async function run(options: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  const phase = (seconds: number) => {
    const end = performance.now() + seconds * 1000;
    return Promise.all(
      Array.from({ length: options.connections }, async () => {
        while (performance.now() < end) {
          const start = performance.now();
          const ok = await send(agent, options);
          if (!measuring) continue;
          latencies.push(performance.now() - start);
          if (!ok) errors++;
        }
      }),
    );
  };
  await phase(options.warmupSeconds ?? 1);
  measuring = true;
  const start = performance.now();
  await phase(options.seconds);
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    requests: latencies.length,
    errors,
    perSecond: latencies.length / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

if (!isMainThread && (workerData as LoadOptions | undefined)?.url) {
  parentPort!.postMessage(await run(workerData as LoadOptions));
}
