// Renders the README's configuration table from `environmentSchema` (src/config/config.ts), so the
// documentation of every variable lives once, beside its parser. `--write` rewrites the table between
// the markers in README.md; without it the table is printed. test/unit/readme.test.ts fails on drift.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import type { z } from 'zod';
import { environmentSchema } from '../src/config/config.js';

export const README = fileURLToPath(new URL('../README.md', import.meta.url));
export const START_MARKER = '<!-- config:start -->';
export const END_MARKER = '<!-- config:end -->';

export interface ConfigRow {
  variable: string;
  /** The default as the schema produces it, or undefined when the variable is optional without one. */
  defaultValue: unknown;
  description: string;
  /** Accepted values, when the variable is an enumeration. */
  values?: string[];
}

type Def = z.core.$ZodTypeDef & {
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  defaultValue?: unknown;
  entries?: Record<string, string | number>;
};

const defOf = (schema: z.core.$ZodType): Def => schema._zod.def as Def;

/** The enumeration a variable's text must be one of, looking through default, optional and transforms. */
function acceptedValues(schema: z.core.$ZodType): string[] | undefined {
  let def = defOf(schema);
  for (;;) {
    if ((def.type === 'default' || def.type === 'optional') && def.innerType) def = defOf(def.innerType);
    else if (def.type === 'pipe' && def.in) def = defOf(def.in);
    else break;
  }
  if (def.type !== 'enum' || !def.entries) return undefined;
  // Object key order puts integer-like keys ('0', '1') first; list the words first, as the schema does.
  const values = Object.values(def.entries).map(String);
  return [...values.filter((v) => !/^\d+$/.test(v)), ...values.filter((v) => /^\d+$/.test(v))];
}

export function configRows(): ConfigRow[] {
  return Object.entries(environmentSchema.shape).map(([variable, schema]) => {
    const def = defOf(schema);
    return {
      variable,
      defaultValue: def.type === 'default' ? def.defaultValue : undefined,
      description: schema.description ?? '',
      values: acceptedValues(schema),
    };
  });
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The table as Markdown, formatted with the repository's Prettier settings (as `npm run lint` wants it). */
export async function renderConfigTable(): Promise<string> {
  const lines = ['| Variable | Default | Description |', '| --- | --- | --- |'];
  for (const row of configRows()) {
    const fallback = row.defaultValue === undefined ? '(unset)' : `\`${String(row.defaultValue)}\``;
    const values = row.values ? ` One of: ${row.values.map((v) => `\`${v}\``).join(', ')}.` : '';
    lines.push(`| \`${row.variable}\` | ${cell(fallback)} | ${cell(row.description + values)} |`);
  }
  const options = (await prettier.resolveConfig(README)) ?? {};
  return (await prettier.format(lines.join('\n'), { ...options, parser: 'markdown' })).trim();
}

/** The table currently between the markers of a README text. */
export function tableInReadme(readme: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`README.md needs ${START_MARKER} ... ${END_MARKER}`);
  return readme.slice(start + START_MARKER.length, end).trim();
}

/** The README text with the table between the markers replaced. */
export function withTable(readme: string, table: string): string {
  tableInReadme(readme); // asserts the markers
  const start = readme.indexOf(START_MARKER) + START_MARKER.length;
  const end = readme.indexOf(END_MARKER);
  return `${readme.slice(0, start)}\n\n${table}\n\n${readme.slice(end)}`;
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  try {
    return !!entry && realpathSync(path.resolve(entry)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const table = await renderConfigTable();
  if (process.argv.includes('--write')) {
    const before = readFileSync(README, 'utf8');
    const after = withTable(before, table);
    if (after !== before) writeFileSync(README, after);
    console.log(after === before ? 'README.md configuration table is up to date.' : `updated ${README}`);
  } else {
    console.log(table);
  }
}
