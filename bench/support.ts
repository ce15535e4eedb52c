// What every bench sets up the same way: its own database (on DATABASE_URL's server, or an embedded
// PostgreSQL when unset), an app on loopback with quiet logs, a signed-in user, and the scale knob.
import { readdirSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import os from 'node:os';
import path from 'node:path';
import { type App, createApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { dropDatabase, ensureDatabase } from '../src/db/database.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../src/db/embedded.js';
import { AuthMethod } from '../src/modules/sessions/session.entity.js';
import { User } from '../src/modules/sessions/user.entity.js';

/** BENCH_SCALE=0.1 runs every bench at a tenth of the issue's sizes (a quick smoke run). */
export function scaled(size: number): number {
  const scale = Number(process.env.BENCH_SCALE ?? 1);
  if (!(scale > 0))
    throw new Error(`BENCH_SCALE must be a positive number, not "${process.env.BENCH_SCALE}".`);
  return Math.max(1, Math.round(size * scale));
}

export interface BenchDatabase {
  url: string;
  /** Drops the database (and stops the embedded server, if any). */
  close(): Promise<void>;
}

/** A fresh database named `name`, dropped first should an interrupted run have left it behind. */
export async function benchDatabase(name: string): Promise<BenchDatabase> {
  let embedded: EmbeddedDatabase | undefined;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    embedded = await startEmbeddedPostgres({
      dir: path.join(os.tmpdir(), `${name}-${process.pid}`),
      persistent: false,
    });
    serverUrl = embedded.url;
  }
  await dropDatabase(serverUrl, name);
  const url = await ensureDatabase(serverUrl, name);
  return {
    url,
    async close() {
      await dropDatabase(serverUrl, name).catch(() => {});
      await embedded?.stop();
    },
  };
}

/** An app on a free loopback port; `env` adds or overrides configuration variables. */
export function benchApp(databaseUrl: string, env: Record<string, string> = {}): Promise<App> {
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', LOG_LEVEL: 'silent', ...env });
  return createApp({ config, databaseUrl });
}

/** A user with a real session: its bearer token and the viewer that token authenticates as. */
export async function signedInUser(app: App, email: string) {
  const issued = await app.orm.em.fork().transactional(async (em) => {
    const user = new User(email, new Date());
    em.persist(user);
    return app.services.sessions.issue(em, { requestId: 'bench' }, user, AuthMethod.EMAIL_CODE);
  });
  const viewer = await app.services.sessions.authenticate(app.orm.em.fork(), issued.token);
  if (!viewer) throw new Error('The session just issued does not authenticate.');
  return { token: issued.token, viewer };
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

/**
 * SQL for a UUIDv7 per generate_series row `g` (48-bit milliseconds from $1 + g, version 7, variant 8),
 * one millisecond apart, so seeded ids sort in creation order as the app's own do. `prefix` tells apart
 * the ids of different tables seeded from the same series.
 */
export const v7 = (prefix: string) =>
  `(lpad(to_hex($1::bigint + g), 12, '0') || '7' || substr(md5('${prefix}' || g), 1, 3) || '8' ||
    substr(md5('${prefix}' || g), 4, 15))::uuid`;

setFlagsFromString('--expose-gc');
/** A full garbage collection, for figures of what stays in memory rather than of GC slack. */
export const fullGc = runInNewContext('gc') as () => void;

/**
 * CPU seconds (user and system) the processes this one started have used so far, their children
 * included: an embedded PostgreSQL's server and backends. Read from /proc (Linux); null elsewhere.
 */
export function childProcessesCpuSeconds(): number | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return null;
  }
  const stats = new Map<number, { parent: number; ticks: number }>();
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name, which may hold spaces: state, ppid, ..., utime (12th), stime (13th).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(pid), { parent: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // The process ended while the list was read.
    }
  }
  const descends = (pid: number): boolean => {
    for (let at = stats.get(pid)?.parent; at !== undefined && at > 1; at = stats.get(at)?.parent)
      if (at === process.pid) return true;
    return false;
  };
  let ticks = 0;
  for (const [pid, { ticks: used }] of stats) if (descends(pid)) ticks += used;
  // USER_HZ: 100 on every Linux this runs on.
  return ticks / 100;
}

/** Bytes still held after a full GC: the JS heap plus external memory (buffers, wasm included). */
export function retainedBytes(): number {
  fullGc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}
