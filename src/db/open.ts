// The database the server, `npm run migrate` and `npm run admin` use: DATABASE_URL when set; otherwise
// the embedded PostgreSQL of EMBEDDED_PG_DIR, reused when another live process runs it, and started
// (then stopped on close) when none does. An orphan left by a crash is stopped and replaced.
import type { Config } from '../config/config.js';
import { ensureDatabase } from './database.js';
import { findRunningEmbeddedPostgres, isOrphaned, serverUrl, startEmbeddedPostgres } from './embedded.js';

export const EMBEDDED_DATABASE = 'console_identity';

export interface OpenDatabase {
  url: string;
  /** Where the database came from, for logs and banners. */
  description: string;
  close(): Promise<void>;
}

export async function openDatabase(config: Config, onLog?: (line: string) => void): Promise<OpenDatabase> {
  if (config.databaseUrl)
    return { url: config.databaseUrl, description: 'DATABASE_URL', close: async () => {} };
  const dir = config.embeddedPostgres.dir;
  const running = findRunningEmbeddedPostgres(dir);
  if (running && !isOrphaned(running.pid)) {
    try {
      return {
        url: await ensureDatabase(serverUrl(running.port), EMBEDDED_DATABASE),
        description: `embedded PostgreSQL (${dir}) run by another process, port ${running.port}`,
        close: async () => {},
      };
    } catch (error) {
      throw new Error(
        `${dir}/postmaster.pid names a running PostgreSQL (pid ${running.pid}, port ${running.port}) ` +
          `but connecting to it failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
  const embedded = await startEmbeddedPostgres({ dir, port: config.embeddedPostgres.port, onLog });
  try {
    return {
      url: await ensureDatabase(embedded.url, EMBEDDED_DATABASE),
      description: `embedded PostgreSQL (${dir})`,
      close: embedded.stop,
    };
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}
