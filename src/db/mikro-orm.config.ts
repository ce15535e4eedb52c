// Configuration file for the MikroORM CLI (`npm run orm -- migration:create`); the server builds its own.
import { ormOptions } from './orm-options.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('Set DATABASE_URL to run the MikroORM CLI (it diffs against a live database).');

export default ormOptions(url);
