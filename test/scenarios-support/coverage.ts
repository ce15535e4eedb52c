// The guide ↔ scenarios map behind docs/seed-coverage.md: reads the guide (one sentence or heading a line),
// finds the line each step's `guide` reference cites (first inside the scenario's own section, else anywhere),
// and reads and writes the coverage table.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario } from '../e2e/scenarios/scenario.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
/** The guide as it lives beside the project (../shared/seeds), and the copy kept in the repository. */
export const sharedGuidePath = path.resolve(repoRoot, '../shared/seeds/000_e3acba32fa609fac.txt');
export const guideCopyPath = path.join(here, 'guide.txt');
export const coverageDocPath = path.join(repoRoot, 'docs/seed-coverage.md');

export function guideLines(text: string): string[] {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  while (lines.length && lines.at(-1)!.trim() === '') lines.pop();
  return lines;
}

export function readGuide(): string[] {
  return guideLines(readFileSync(existsSync(sharedGuidePath) ? sharedGuidePath : guideCopyPath, 'utf8'));
}

export interface Citation {
  scenario: string;
  step: string;
  ref: string;
  /** 0-based line of the guide, or undefined when the reference is not found or is ambiguous. */
  line?: number;
  problem?: string;
}

/** The first line of each scenario's section (its heading), in the guide. */
function sectionStart(lines: string[], scenario: Scenario<never>): number {
  const from = scenario.after ? lines.indexOf(scenario.after) : 0;
  if (from < 0) return -1;
  return lines.indexOf(scenario.section, from);
}

export function citations(lines: string[], scenarios: Array<Scenario<never>>): Citation[] {
  const starts = scenarios.map((s) => sectionStart(lines, s));
  const result: Citation[] = [];
  scenarios.forEach((scenario, i) => {
    const start = starts[i]!;
    const later = starts.filter((s) => s > start);
    const end = later.length ? Math.min(...later) : lines.length;
    for (const step of scenario.steps) {
      for (const ref of step.guide) {
        const base = { scenario: scenario.title, step: step.name, ref };
        if (start < 0) {
          result.push({
            ...base,
            problem: `section heading "${scenario.section}" is not a line of the guide`,
          });
          continue;
        }
        const find = (from: number, to: number) => {
          const found: number[] = [];
          for (let n = from; n < to; n++) if (lines[n]!.includes(ref)) found.push(n);
          return found;
        };
        let found = find(start, end);
        if (found.length === 0) found = find(0, lines.length);
        if (found.length === 1) result.push({ ...base, line: found[0] });
        else if (found.length === 0) result.push({ ...base, problem: 'does not occur in the guide' });
        else {
          const exact = found.filter((n) => lines[n] === ref);
          if (exact.length === 1) result.push({ ...base, line: exact[0] });
          else result.push({ ...base, problem: `is ambiguous: lines ${found.map((n) => n + 1).join(', ')}` });
        }
      }
    }
  });
  return result;
}

export interface CoverageRow {
  line: number;
  text: string;
  /** The step names, or null for an informational row. */
  steps: string[] | null;
  informational?: string;
}

const escapeCell = (text: string) => text.replace(/\|/g, '\\|');
const unescapeCell = (text: string) => text.replace(/\\\|/g, '|');

export function parseCoverage(markdown: string): CoverageRow[] {
  const rows: CoverageRow[] = [];
  for (const raw of markdown.split('\n')) {
    // Cells are split on the pipes that are not escaped.
    const cells = raw.trim().split(/(?<!\\)\|/);
    if (cells.length !== 5 || !/^\s*\d+\s*$/.test(cells[1]!)) continue;
    const cell = cells[3]!.trim();
    const informational = /^informational:\s*(.+)$/.exec(cell);
    rows.push({
      line: Number(cells[1]),
      text: unescapeCell(cells[2]!.trim()),
      steps: informational ? null : [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!),
      informational: informational?.[1],
    });
  }
  return rows;
}

export function renderCoverage(lines: string[], cells: Map<number, string>): string {
  const head = [
    '# The guide, line by line, and the scenario steps that show it',
    '',
    'Every line of the guide (`../shared/seeds/000_e3acba32fa609fac.txt`, copied in',
    '`test/scenarios-support/guide.txt`) with the steps of `test/e2e/scenarios/` that show it, or',
    '`informational:` and why it describes nothing the product does. Statements about things outside the',
    'product map to the product action that stands for them. `test/e2e/scenarios/coverage.test.ts` fails',
    'when a line has no row, a row names a step that does not exist, a step cites a sentence that is not in',
    'the guide, or a line a step cites does not name that step here.',
    '',
    '<!-- prettier-ignore-start -->',
    '| Line | Guide | Shown by |',
    '| ---- | ----- | -------- |',
  ];
  const body = lines.map(
    (text, i) => `| ${i + 1} | ${escapeCell(text)} | ${cells.get(i) ?? 'informational: TODO'} |`,
  );
  return [...head, ...body, '<!-- prettier-ignore-end -->', ''].join('\n');
}
