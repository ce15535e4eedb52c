// The fresh-machine start: `src/main.ts` as its own process with no DATABASE_URL, so it starts the
// embedded PostgreSQL and the simulators itself. It must print its URLs (as the README shows them),
// answer GraphQL and readiness, and on SIGTERM exit 0 leaving no PostgreSQL behind. A bad configuration
// must stop it with exit code 2 naming the variable.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { environmentSchema } from '../../src/config/config.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const BANNER_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 30_000;

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns main.ts with exactly `env` as its configuration: nothing of this process's configuration leaks in. */
function startMain(env: Record<string, string>): Started {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(environmentSchema.shape)) delete childEnv[name];
  Object.assign(childEnv, env);
  const child = spawn(process.execPath, ['--import', '@swc-node/register/esm-register', 'src/main.ts'], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function within<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what())), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function waitForOutput(started: Started, pattern: RegExp): Promise<RegExpExecArray> {
  return within(
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(started.stdout());
        if (match) resolve(match);
      };
      started.child.stdout!.on('data', check);
      void started.exited.then(({ code, signal }) =>
        reject(
          new Error(`main.ts exited (${code ?? signal}) before printing ${pattern}:\n${started.stderr()}`),
        ),
      );
      check();
    }),
    BANNER_TIMEOUT_MS,
    () =>
      `no ${pattern} within ${BANNER_TIMEOUT_MS} ms.\nstdout:\n${started.stdout()}\nstderr:\n${started.stderr()}`,
  );
}

/** The pid in a data folder's postmaster.pid when that process is alive. */
function livePostmaster(dataDir: string): number | undefined {
  const file = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** Ports and folders differ between machines and runs; the rest of the banner must not. */
function normaliseBanner(text: string): string {
  return text
    .replace(/embedded PostgreSQL \([^)]*\)/g, 'embedded PostgreSQL (DIR)')
    .replace(/:\d{1,5}\b/g, ':PORT')
    .trim();
}

function readmeBanner(): string {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const block = /`npm start` prints:\s*```text\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no "`npm start` prints:" block');
  return block[1]!;
}

describe('fresh-machine start (src/main.ts without DATABASE_URL)', () => {
  let base: string;
  let dataDir: string;
  let started: Started | undefined;
  let apiUrl: string;

  beforeAll(async () => {
    base = mkdtempSync(path.join(os.tmpdir(), 'console-identity-start-'));
    chmodSync(base, 0o755); // the tests run as root; PostgreSQL then runs as the OS user postgres
    dataDir = path.join(base, 'pg');
    started = startMain({
      EMBEDDED_PG_DIR: dataDir,
      PORT: '0',
      MAIL_SIM_SMTP_PORT: '0',
      MAIL_SIM_HTTP_PORT: '0',
      DNS_SIM_PORT: '0',
      DNS_SIM_HTTP_PORT: '0',
      IDP_SIM_PORT: '0',
      LOG_LEVEL: 'warn',
    });
    const match = await waitForOutput(started, /^GraphQL: {8}(http:\/\/\S+:\d+)\/graphql /m);
    apiUrl = match[1]!;
  }, BANNER_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    // Only on failure is anything still running here: the child, then the PostgreSQL it started.
    if (started && started.child.exitCode === null && started.child.signalCode === null) {
      started.child.kill('SIGKILL');
      await started.exited;
    }
    const orphan = dataDir ? livePostmaster(dataDir) : undefined;
    if (orphan) process.kill(orphan, 'SIGINT');
    for (let i = 0; i < 50 && dataDir && livePostmaster(dataDir); i++)
      await new Promise((r) => setTimeout(r, 100));
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('prints the banner the README shows: API, embedded database, mail and DNS simulators', async () => {
    const banner = started!.stdout();
    expect(banner).toContain(`Database:       embedded PostgreSQL (${dataDir})`);
    const mail = /^Mail simulator: SMTP 127\.0\.0\.1:\d+, inbox (http:\/\/127\.0\.0\.1:\d+\/messages)$/m.exec(
      banner,
    );
    const dns =
      /^DNS simulator: {2}127\.0\.0\.1:\d+ \(UDP and TCP\), records API (http:\/\/127\.0\.0\.1:\d+\/records)$/m.exec(
        banner,
      );
    expect(mail, banner).not.toBeNull();
    expect(dns, banner).not.toBeNull();
    // The simulator URLs are live, not just printed.
    const inbox = await fetch(mail![1]!);
    expect(inbox.status).toBe(200);
    expect(await inbox.json()).toEqual([]);
    expect((await fetch(dns![1]!)).status).toBe(200);
    expect(normaliseBanner(banner)).toBe(normaliseBanner(readmeBanner()));
  });

  it('answers GraphQL, serves the web console and is ready', async () => {
    const response = await fetch(`${apiUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });

    const page = await fetch(`${apiUrl}/console`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Identity settings · Console Identity</title>');

    const ready = await fetch(`${apiUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect(livePostmaster(dataDir)).toBeDefined();
  });

  it(
    'exits 0 on SIGTERM, logging no error, and stops the embedded PostgreSQL',
    async () => {
      const postmaster = livePostmaster(dataDir);
      expect(postmaster).toBeDefined();
      started!.child.kill('SIGTERM');
      const exit = await within(
        started!.exited,
        EXIT_TIMEOUT_MS,
        () => `no exit within ${EXIT_TIMEOUT_MS} ms`,
      );
      expect(exit, started!.stderr()).toEqual({ code: 0, signal: null });
      // pino writes JSON lines; level 50 and above are errors.
      const errors = started!
        .stderr()
        .split('\n')
        .filter((line) => /"level":(50|60)\b/.test(line));
      expect(errors).toEqual([]);
      expect(livePostmaster(dataDir)).toBeUndefined();
      let alive = true;
      try {
        process.kill(postmaster!, 0);
      } catch {
        alive = false;
      }
      expect(alive).toBe(false);
    },
    EXIT_TIMEOUT_MS + 5_000,
  );
});

describe('start-up with an invalid configuration', () => {
  it('exits 2 and names the variable', async () => {
    const started = startMain({ PORT: 'abc', LOG_LEVEL: 'warn' });
    const exit = await within(started.exited, EXIT_TIMEOUT_MS, () => `no exit:\n${started.stderr()}`);
    expect(exit.code).toBe(2);
    expect(started.stderr()).toMatch(/^Invalid configuration:/m);
    expect(started.stderr()).toMatch(/\bPORT\b/);
    expect(started.stdout()).not.toContain('GraphQL:');
  });
});
