// docs/seed-coverage.md cannot drift from the guide or the scenarios: every guide line has its row, every
// step a row names exists, every sentence a step cites is in the guide, and the row of every cited line
// names the step that cites it.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  citations,
  coverageDocPath,
  guideCopyPath,
  guideLines,
  parseCoverage,
  readGuide,
  sharedGuidePath,
} from '../../scenarios-support/coverage.js';
import { scenarios } from './index.js';

describe('the guide coverage table', () => {
  const lines = readGuide();
  const rows = parseCoverage(readFileSync(coverageDocPath, 'utf8'));
  const stepNames = new Set(scenarios.flatMap((s) => s.steps.map((step) => step.name)));
  const cites = citations(lines, scenarios);

  it('keeps the copy of the guide in the repository equal to the guide', () => {
    if (!existsSync(sharedGuidePath)) return;
    expect(guideLines(readFileSync(guideCopyPath, 'utf8'))).toEqual(lines);
  });

  it('has one row per line of the guide, with the line as the guide writes it', () => {
    expect(rows.map((r) => r.line)).toEqual(lines.map((_, i) => i + 1));
    const differing = rows.filter((r) => r.text !== lines[r.line - 1]).map((r) => r.line);
    expect(differing).toEqual([]);
  });

  it('maps every line to existing steps or says why it is informational', () => {
    const empty = rows.filter((r) => (r.steps ? r.steps.length === 0 : !r.informational?.trim()));
    expect(empty.map((r) => `${r.line}: ${r.text}`)).toEqual([]);
    const unknown = rows.flatMap((r) =>
      (r.steps ?? []).filter((s) => !stepNames.has(s)).map((s) => `${r.line}: ${s}`),
    );
    expect(unknown).toEqual([]);
    expect(rows.filter((r) => r.informational === 'TODO').map((r) => r.line)).toEqual([]);
  });

  it("finds every step's guide reference in the guide, once", () => {
    const problems = cites
      .filter((c) => c.problem)
      .map((c) => `${c.scenario} › ${c.step}: "${c.ref}" ${c.problem}`);
    expect(problems).toEqual([]);
  });

  it('names, on the row of every cited line, the step that cites it', () => {
    const missing = cites
      .filter((c) => c.line !== undefined)
      .filter((c) => !(rows[c.line!]?.steps ?? []).includes(c.step))
      .map((c) => `line ${c.line! + 1} should name \`${c.step}\``);
    expect(missing).toEqual([]);
  });

  it('starts every scenario at a heading of the guide, in the guide’s order', () => {
    const starts = scenarios.map((s) => lines.indexOf(s.section, s.after ? lines.indexOf(s.after) : 0));
    expect(starts.every((n) => n >= 0)).toBe(true);
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    expect(new Set(scenarios.map((s) => s.title)).size).toBe(scenarios.length);
  });
});
