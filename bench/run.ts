// `npm run bench [filter]`: runs every bench/*.bench.ts in name order, one after the other (they measure
// time and memory, so never in parallel), each in a process of its own, writes each result to
// bench/results/<name>.json, then prints every figure's ratio and target in one table and writes it to
// bench/results/summary.json. In one process, a bench ran after the heap and the compiled code the ones
// before it left: the subscription fan-out, last, took 50 ms there against 40 ms alone.
// A bench file default-exports an async function that prints its figures (bench/report.ts) and returns them.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Figure, verdict } from './report.js';

export type BenchResult = { figures: Figure[] } & Record<string, unknown>;
export type Bench = () => Promise<BenchResult>;

const dir = path.dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const files = (await readdir(dir)).filter((f) => f.endsWith('.bench.ts') && f.includes(filter)).sort();
if (files.length === 0) throw new Error(`No bench/*.bench.ts matches "${filter}".`);
await mkdir(path.join(dir, 'results'), { recursive: true });

const writeJson = (file: string, value: object) =>
  writeFile(path.join(dir, 'results', file), `${JSON.stringify(value, null, 2)}\n`);

/** Runs the bench of `file` in this process and writes its result. */
async function runOne(file: string): Promise<void> {
  const name = file.slice(0, -'.bench.ts'.length);
  const { default: bench } = (await import(pathToFileURL(path.join(dir, file)).href)) as { default: Bench };
  console.log(`\n# ${name}`);
  const benchStarted = performance.now();
  const result = await bench();
  const seconds = Number(((performance.now() - benchStarted) / 1000).toFixed(1));
  await writeJson(`${name}.json`, {
    name,
    at: new Date().toISOString(),
    node: process.version,
    seconds,
    ...result,
  });
  console.log(`wrote bench/results/${name}.json (${seconds} s)`);
}

/** Runs the bench of `file` in a child process of this script, with the same Node options. */
function runInChild(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_FILE: file },
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${file} failed (${signal ?? `exit code ${code}`}).`)),
    );
  });
}

/** Runs every bench, each in its own process, then prints and writes the summary of their figures. */
async function summarise(): Promise<void> {
  const started = performance.now();
  const summary: Array<{ bench: string } & Pick<Figure, 'metric' | 'ratio' | 'target' | 'met'>> = [];
  for (const file of files) {
    await runInChild(file);
    const name = file.slice(0, -'.bench.ts'.length);
    const result = JSON.parse(
      await readFile(path.join(dir, 'results', `${name}.json`), 'utf8'),
    ) as BenchResult;
    for (const { metric, ratio, target, met } of result.figures)
      summary.push({ bench: name, metric, ratio, target, met });
  }

  const totalSeconds = Number(((performance.now() - started) / 1000).toFixed(1));
  const rows = summary.map((s) => [
    s.bench,
    s.metric,
    String(s.ratio ?? 'n/a'),
    s.target ?? '-',
    verdict(s.met),
  ]);
  const header = ['bench', 'metric', 'ratio', 'target', 'met'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  console.log(`\n# summary (${totalSeconds} s)`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
  await writeJson('summary.json', {
    at: new Date().toISOString(),
    node: process.version,
    totalSeconds,
    figures: summary,
  });
  console.log('wrote bench/results/summary.json');
}

// A child runs the one bench it is given; the parent runs them all.
if (process.env.BENCH_FILE) await runOne(process.env.BENCH_FILE);
else await summarise();
