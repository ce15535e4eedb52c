// HTTP clients in a worker thread, so the server under test keeps the main event loop to itself.
// `load`: a closed-loop load generator (autocannon is not installed): `connections` keep-alive connections,
// each sending its next request as soon as the previous answer is read, for a fixed time.
// `push`: a fixed list of requests sent in order by `connections` keep-alive connections, as an IdP's
// clients push a directory or browsers post sign-ins; every answer comes back.
import http from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { forEachConcurrently } from '../src/lib/concurrency.js';

export interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Headers of each connection's own, the i-th connection's at i modulo their number (distinct sessions). */
  connectionHeaders?: Array<Record<string, string>>;
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

export interface PushRequest {
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
}

export interface PushOptions {
  requests: PushRequest[];
  connections: number;
}

export interface PushResult {
  /** From the first request sent to the last answer read. */
  seconds: number;
  /** In the order of the requests; `location` is a redirect's. */
  responses: Array<{ status: number; location: string | null; body: string }>;
}

type Job = { kind: 'load'; options: LoadOptions } | { kind: 'push'; options: PushOptions };

/**
 * A worker thread that runs jobs one at a time, kept between them: a bench that times rounds starts it
 * once.
 */
export class LoadWorker {
  private readonly worker = new Worker(new URL(import.meta.url), { workerData: { jobs: true } });

  load(options: LoadOptions): Promise<LoadResult> {
    return this.run({ kind: 'load', options });
  }

  push(options: PushOptions): Promise<PushResult> {
    return this.run({ kind: 'push', options });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private run<T>(job: Job): Promise<T> {
    return new Promise((resolve, reject) => {
      const settle = (outcome: () => void) => {
        this.worker.off('message', done).off('error', failed).off('exit', exited);
        outcome();
      };
      const done = (result: T) => settle(() => resolve(result));
      const failed = (error: Error) => settle(() => reject(error));
      const exited = (code: number) =>
        settle(() => reject(new Error(`The load worker exited with ${code}.`)));
      this.worker.on('message', done).on('error', failed).on('exit', exited);
      this.worker.postMessage(job);
    });
  }
}

export function load(options: LoadOptions): Promise<LoadResult> {
  return once((worker) => worker.load(options));
}

export function push(options: PushOptions): Promise<PushResult> {
  return once((worker) => worker.push(options));
}

async function once<T>(job: (worker: LoadWorker) => Promise<T>): Promise<T> {
  const worker = new LoadWorker();
  try {
    return await job(worker);
  } finally {
    await worker.close();
  }
}

function send(agent: http.Agent, options: PushRequest): Promise<PushResult['responses'][number]> {
  return new Promise((resolve, reject) => {
    const request = http.request(options.url, { method: options.method, headers: options.headers, agent });
    request.once('error', reject);
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('end', () =>
        resolve({
          status: response.statusCode!,
          location: response.headers.location ?? null,
          body: Buffer.concat(chunks).toString(),
        }),
      );
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
      Array.from({ length: options.connections }, async (_, i) => {
        const own = options.connectionHeaders?.[i % options.connectionHeaders.length];
        const request = own ? { ...options, headers: { ...options.headers, ...own } } : options;
        while (performance.now() < end) {
          const start = performance.now();
          const { status, body } = await send(agent, request);
          const ok = status < 300 && !body.includes('"errors"');
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

async function runPush({ requests, connections }: PushOptions): Promise<PushResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const responses: PushResult['responses'] = [];
  const start = performance.now();
  await forEachConcurrently([...requests.keys()], connections, async (i) => {
    responses[i] = await send(agent, requests[i]!);
  });
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  return { seconds, responses };
}

if (!isMainThread && (workerData as { jobs?: boolean } | undefined)?.jobs) {
  parentPort!.on('message', async (job: Job) =>
    parentPort!.postMessage(job.kind === 'load' ? await run(job.options) : await runPush(job.options)),
  );
}
