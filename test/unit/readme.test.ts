// The README may only say what is true: its configuration table is the one the config schema renders,
// the fresh-machine commands are there, and every `npm run` it names is a script whose file exists.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { README, renderConfigTable, tableInReadme } from '../../scripts/config-table.js';
import { environmentSchema } from '../../src/config/config.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(README, 'utf8');
const scripts = (
  JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> }
).scripts;

describe('README.md', () => {
  it('has the configuration table rendered from environmentSchema', async () => {
    const rendered = await renderConfigTable();
    // On failure: node --import @swc-node/register/esm-register scripts/config-table.ts --write
    expect(tableInReadme(readme)).toBe(rendered);
  });

  it('documents every environment variable, with its default', async () => {
    const rendered = await renderConfigTable();
    for (const variable of Object.keys(environmentSchema.shape)) {
      expect(rendered).toMatch(new RegExp(`^\\| \`${variable}\` +\\|`, 'm'));
    }
    expect(rendered).toMatch(/^\| `PORT` +\| `4000` +\|/m);
    expect(rendered).toMatch(/^\| `DATABASE_URL` +\| \(unset\) +\|/m);
  });

  it('gives the fresh-machine commands', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toMatch(/^npm test\b/m);
  });

  it('names only npm scripts that exist, whose files exist', () => {
    const named = [...readme.matchAll(/npm run ([a-z][\w:-]*)/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(5);
    for (const name of new Set(named)) {
      expect(scripts, `README names "npm run ${name}"`).toHaveProperty([name]);
      for (const file of scripts[name]!.match(/\b(?:scripts|simulators|src)\/\S+\.ts\b/g) ?? []) {
        expect(existsSync(`${root}${file}`), `"npm run ${name}" runs ${file}`).toBe(true);
      }
    }
  });
});
