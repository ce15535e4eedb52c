// `npm run bench [filter]`: runs every bench/*.bench.ts in name order, one after the other (they measure
// time and memory, so never in parallel), and writes each result to bench/results/<name>.json.
// A bench file default-exports an async function that prints its figures and returns them.
import 'reflect-metadata';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type Bench = () => Promise<Record<string, unknown>>;

const dir = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const files = (await readdir(dir)).filter((f) => f.endsWith('.bench.ts') && f.includes(filter)).sort();
if (files.length === 0) throw new Error(`No bench/*.bench.ts matches "${filter}".`);
await mkdir(path.join(dir, 'results'), { recursive: true });

for (const file of files) {
  const name = file.slice(0, -'.bench.ts'.length);
  const { default: bench } = (await import(pathToFileURL(path.join(dir, file)).href)) as { default: Bench };
  console.log(`\n# ${name}`);
  const result = await bench();
  const target = path.join(dir, 'results', `${name}.json`);
  await writeFile(
    target,
    `${JSON.stringify({ name, at: new Date().toISOString(), node: process.version, ...result }, null, 2)}\n`,
  );
  console.log(`wrote ${path.relative(process.cwd(), target)}`);
}
