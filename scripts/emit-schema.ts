// Writes schema/schema.graphql from the code (`npm run schema:emit`), or with --check exits 1 when the
// committed file differs from what the code emits.
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { emittedSchema } from '../src/graphql/print-schema.js';

const target = fileURLToPath(new URL('../schema/schema.graphql', import.meta.url));
const sdl = await emittedSchema();
if (process.argv.includes('--check')) {
  const committed = readFileSync(target, 'utf8');
  if (committed !== sdl) {
    console.error('schema/schema.graphql differs from the schema the code emits: run `npm run schema:emit`.');
    process.exit(1);
  }
  console.log('schema/schema.graphql is up to date.');
} else {
  writeFileSync(target, sdl);
  console.log(`wrote ${target}`);
}
