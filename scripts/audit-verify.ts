// `npm run audit:verify [-- --parent <id>]`: walks the hash chains of the audit log, every chain or the one
// of a parent organization (or of an organization without a parent, or `global`), and prints OK with the
// counts or the first broken link of each broken chain. The database is the one `npm start` would use:
// DATABASE_URL, else the embedded PostgreSQL of EMBEDDED_PG_DIR. Nothing is written.
// Exit codes: 0 intact, 1 broken (or the check could not run), 2 usage.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/open.js';
import { describeVerification, verifyAuditChains } from '../src/modules/audit/audit-chain.js';

const USAGE = 'Usage: npm run audit:verify [-- --parent <parent organization id | organization id | global>]';

async function main(): Promise<number> {
  let chainKey: string | undefined;
  try {
    chainKey = parseArgs({ options: { parent: { type: 'string' } } }).values.parent;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  const database = await openDatabase(config);
  const client = new pg.Client({ connectionString: database.url });
  try {
    await client.connect();
    const result = await verifyAuditChains(client, { chainKey });
    if (chainKey && result.chains.length === 0) console.log(`No audit events in chain ${chainKey}.`);
    for (const line of describeVerification(result)) (result.ok ? console.log : console.error)(line);
    return result.ok ? 0 : 1;
  } finally {
    await client.end();
    await database.close();
  }
}

// Exit explicitly: a pool or timer left open by a library must not keep a finished command alive.
process.exit(
  await main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    return 1;
  }),
);
