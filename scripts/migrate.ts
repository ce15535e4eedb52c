// `npm run migrate`: applies pending migrations to the database the server would use (see src/db/open.ts);
// the server also applies them at start-up.
import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/postgresql';
import { migrate } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/open.js';
import { ormOptions } from '../src/db/orm-options.js';

const database = await openDatabase(loadConfig());
const url = database.url;
const orm = await MikroORM.init(ormOptions(url));
try {
  await migrate(orm, url);
  const applied = await orm.getMigrator().getExecutedMigrations();
  console.log(`${database.description} is up to date (${applied.length} migrations applied).`);
} finally {
  await orm.close(true);
  await database.close();
}
