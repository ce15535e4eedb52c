// `npm run demo`: the guide as a story told live. Starts an embedded PostgreSQL in a temporary folder, the
// mail, DNS and IdP simulators and the API in this process, runs every scenario of test/e2e/scenarios on
// that one instance, narrating each step, and ends with a summary (exit status 1 if a step failed).
// `npm run demo -- --keep` leaves everything running and prints the URLs and the accounts to sign in with.
import 'reflect-metadata';
import os from 'node:os';
import path from 'node:path';
import { ensureDatabase } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { scenarios } from '../test/e2e/scenarios/index.js';
import { buildWorld } from '../test/scenarios-support/world.js';

const keep = process.argv.includes('--keep');
const colour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = (code: number) => (text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
const green = paint(32);
const red = paint(31);
const dim = paint(2);
const bold = paint(1);

function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text
    .split('\n')
    .slice(0, 12)
    .map((line) => `      ${line}`)
    .join('\n');
}

async function main(): Promise<number> {
  const started = Date.now();
  console.log(bold('Console Identity: the guide, end to end'));
  console.log(dim('Starting an embedded PostgreSQL, the simulators and the API…'));
  const database = await startEmbeddedPostgres({
    dir: path.join(os.tmpdir(), `console-identity-demo-${process.pid}`),
    persistent: false,
  });
  let world;
  try {
    const databaseUrl = await ensureDatabase(database.url, 'console_identity');
    world = await buildWorld({ databaseUrl, logLevel: 'warn' });
  } catch (error) {
    await database.stop();
    throw error;
  }
  const w = world;
  const shutdown = async () => {
    await w.close();
    await database.stop();
  };

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const scenario of scenarios) {
    console.log(
      `\n${bold(scenario.title)} ${dim(`(guide: ${scenario.after ? `${scenario.after} › ` : ''}${scenario.section})`)}`,
    );
    const state = scenario.state();
    let broken = false;
    for (const step of scenario.steps) {
      if (broken) {
        skipped++;
        console.log(dim(`  - ${step.name} (skipped: an earlier step failed)`));
        continue;
      }
      const t0 = Date.now();
      try {
        await step.run(w, state);
        passed++;
        console.log(`  ${green('✓')} ${step.name} ${dim(`${Date.now() - t0} ms`)}`);
      } catch (error) {
        failed++;
        broken = true;
        console.log(`  ${red('✗')} ${red(step.name)}\n${red(describeError(error))}`);
      }
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const summary = `${scenarios.length} scenarios, ${passed + failed + skipped} steps: ${passed} passed, ${failed} failed, ${skipped} skipped (${seconds} s)`;
  console.log(`\n${failed ? red(summary) : green(summary)}`);

  if (!keep) {
    await shutdown();
    return failed ? 1 : 0;
  }
  console.log(`
${bold('Still running (Ctrl-C stops everything):')}
GraphQL:        ${w.url}/graphql (WebSocket subscriptions on the same path)
Web console:    ${w.url}/console
Login page:     ${w.url}/login
Mail inbox:     ${w.mail.httpUrl}/messages  (sign-in codes arrive here)
DNS records:    ${w.dns.httpUrl}/records
IdP simulator:  ${w.idp.url} (tenants: ${w.idp.apiUrl}/tenants)
Database:       ${database.url.replace(/\/\/[^@]*@/, '//')} (data in a temporary folder, deleted on exit)

${bold('Accounts to sign in with:')}`);
  for (const [name, actor] of w.actors) {
    console.log(`  ${name.padEnd(32)} ${actor.email.padEnd(48)} ${actor.role}; ${actor.signInWith}`);
  }
  console.log(
    dim('\nE-mailed code: mutation loginCodeRequest, read the code in the mail inbox, then loginCodeVerify.'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  console.log(dim('\nStopping…'));
  await shutdown();
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(
      red(
        `The demo could not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      ),
    );
    process.exit(1);
  },
);
