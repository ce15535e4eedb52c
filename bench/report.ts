// One format for every figure of every bench, so a run can be read (and summed up by run.ts) without
// knowing each bench: the figure, its baseline measured in the same run, their ratio, and the target.

/** A target on the ratio (figure / baseline) or on the figure itself, e.g. peak RSS growth < 50 MB. */
export interface Target {
  of: 'ratio' | 'value';
  op: '>=' | '<=' | '<' | '>';
  value: number;
}

/** A target that is not a number, e.g. "the plan uses an index": the bench decides whether it is met. */
export interface Check {
  text: string;
  met: boolean;
}

export interface FigureInput {
  metric: string;
  value: number;
  unit: string;
  baseline: number;
  /** The figure's unit when omitted. */
  baselineUnit?: string;
  baselineName: string;
  /** Omitted for a figure reported for information only. */
  target?: Target | Check;
}

export interface Figure {
  metric: string;
  value: number;
  unit: string;
  baseline: number;
  baselineUnit: string;
  baselineName: string;
  /** Null when the baseline is zero (e.g. a baseline that grew RSS by nothing measurable). */
  ratio: number | null;
  target: string | null;
  met: boolean | null;
}

const COMPARE = {
  '>=': (a: number, b: number) => a >= b,
  '<=': (a: number, b: number) => a <= b,
  '<': (a: number, b: number) => a < b,
  '>': (a: number, b: number) => a > b,
};

/** Enough digits to compare runs, not so many that noise looks like precision. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 100) return Math.round(value);
  return Number(value.toPrecision(3));
}

export const verdict = (met: boolean | null) => (met === null ? 'INFO' : met ? 'MET' : 'NOT MET');

/** Prints one figure on one line and returns it for the bench's JSON result. */
export function report(input: FigureInput): Figure {
  const value = round(input.value);
  const baseline = round(input.baseline);
  const ratio = input.baseline === 0 ? null : Number((input.value / input.baseline).toPrecision(3));
  const unit = input.unit;
  const baselineUnit = input.baselineUnit ?? unit;
  let target: string | null = null;
  let met: boolean | null = null;
  if (input.target && 'text' in input.target) {
    target = input.target.text;
    met = input.target.met;
  } else if (input.target) {
    const { of, op, value: bound } = input.target;
    target = of === 'ratio' ? `ratio ${op} ${bound}` : `${op} ${bound} ${unit}`;
    const measured = of === 'ratio' ? ratio : input.value;
    met = measured !== null && COMPARE[op](measured, bound);
  }
  console.log(
    `${input.metric}: ${value} ${unit} | baseline ${baseline} ${baselineUnit} (${input.baselineName}) | ` +
      `ratio ${ratio ?? 'n/a'} | target ${target ?? 'none'} | ${verdict(met)}`,
  );
  return {
    metric: input.metric,
    value,
    unit,
    baseline,
    baselineUnit,
    baselineName: input.baselineName,
    ratio,
    target,
    met,
  };
}

/** A figure that could not be measured in this run (a service was unreachable), and why. */
export function skipped(metric: string, reason: string): Figure {
  console.log(`${metric}: SKIPPED (${reason})`);
  return {
    metric,
    value: NaN,
    unit: '',
    baseline: NaN,
    baselineUnit: '',
    baselineName: reason,
    ratio: null,
    target: `SKIPPED: ${reason}`,
    met: null,
  };
}
