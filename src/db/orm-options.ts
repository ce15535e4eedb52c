import { fileURLToPath } from 'node:url';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { entities } from './entities.js';

const migrationsJs = fileURLToPath(new URL('../../dist/src/db/migrations', import.meta.url));
const migrationsTs = fileURLToPath(new URL('./migrations', import.meta.url));

/** MikroORM options for a database URL. The same options serve the server, the CLI and the tests. */
export function ormOptions(clientUrl: string, overrides: Partial<Options> = {}): Options {
  const compiled = import.meta.url.endsWith('.js');
  return defineConfig({
    clientUrl,
    entities,
    extensions: [Migrator],
    // Vitest rewrites this import() so TypeScript migrations load under it; plain node gets native import().
    dynamicImportProvider: (id: string) => import(id),
    migrations: {
      path: compiled ? fileURLToPath(new URL('./migrations', import.meta.url)) : migrationsJs,
      pathTs: migrationsTs,
      glob: compiled ? '!(*.d).js' : '!(*.d).{js,ts}',
      emit: 'ts',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    pool: { min: 0, max: 10 },
    preferTs: !compiled,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    debug: false,
    ...overrides,
  });
}
