// The scenario DSL: a guide section as named steps, each citing the guide sentences it shows and acting as
// one of the story's people would, through the public API, the protocol endpoints and the simulators only.
// Steps of one scenario run in order on one World and share the scenario's own state (made fresh by
// `state()` for every run), so the same scenario runs under Vitest and in `npm run demo`.
import type { World } from '../../scenarios-support/world.js';

export interface Step<S> {
  /** What the person does, in the guide's words: `Admin clicks "Add Domain"`. No backticks. */
  name: string;
  /** The guide sentences this step shows: a whole line of the guide or a substring unique in the section. */
  guide: string[];
  run(world: World, state: S): Promise<void>;
}

export interface Scenario<S = unknown> {
  /** The guide's heading the scenario starts at, exactly as the guide writes it. */
  section: string;
  /** When the heading occurs more than once in the guide: the heading it comes after ("Advanced Group Mappings"). */
  after?: string;
  /** The scenario's name in reports and for `vitest -t`; unique. */
  title: string;
  state(): S;
  steps: Array<Step<S>>;
}

export function defineScenario<S>(scenario: Scenario<S>): Scenario<S> {
  const names = new Set<string>();
  for (const step of scenario.steps) {
    if (names.has(step.name)) throw new Error(`${scenario.title}: two steps named ${step.name}`);
    if (step.name.includes('`') || step.name.includes('|'))
      throw new Error(`${scenario.title}: a step name holds a backtick or a pipe: ${step.name}`);
    names.add(step.name);
  }
  return scenario;
}

/** Polls `probe` until it returns a value `accept` takes, or fails with the last value seen. */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  accept: (value: T) => boolean,
  { timeoutMs = 10_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await probe();
    if (accept(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Something the step needs from an earlier step of the same scenario. */
export function given<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`an earlier step did not leave ${what}`);
  return value;
}
