// Every scenario of the guide under Vitest: one World (a whole stack on a fresh database) per scenario,
// each step an `it`, in order; once a step fails, the later steps of that scenario are skipped.
// One alone: npx vitest run test/e2e/scenarios -t "<scenario title>"
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';
import { dropDatabase, ensureDatabase } from '../../../src/db/database.js';
import { buildWorld, type World } from '../../scenarios-support/world.js';
import { scenarios } from './index.js';

async function startWorld(): Promise<World> {
  const serverUrl = inject('databaseServerUrl');
  const database = `t_${randomBytes(6).toString('hex')}`;
  const databaseUrl = await ensureDatabase(serverUrl, database, inject('templateDatabase'));
  return buildWorld({
    databaseUrl,
    logLevel: process.env.TEST_LOG_LEVEL,
    onClose: () => dropDatabase(serverUrl, database),
  });
}

for (const scenario of scenarios) {
  describe.sequential(scenario.title, () => {
    let world: World;
    const state = scenario.state();
    let failed = false;
    beforeAll(async () => {
      world = await startWorld();
    });
    afterAll(async () => {
      await world?.close();
    });
    for (const step of scenario.steps) {
      it(step.name, { timeout: 60_000 }, async (context) => {
        if (failed) context.skip('an earlier step of this scenario failed');
        try {
          await step.run(world, state);
        } catch (error) {
          failed = true;
          throw error;
        }
      });
    }
  });
}
