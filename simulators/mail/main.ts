// Runs the mail simulator as its own process so a locally started API (or a developer) can use it.
import { startMailSimulator } from './mail-simulator.js';

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number between 0 and 65535, got ${JSON.stringify(raw)}`);
  }
  return port;
}

const simulator = await startMailSimulator({
  host: process.env.MAIL_SIM_HOST || '127.0.0.1',
  smtpPort: portFromEnv('MAIL_SIM_SMTP_PORT', 1025),
  httpPort: portFromEnv('MAIL_SIM_HTTP_PORT', 8025),
});

const smtpHost = simulator.host.includes(':') ? `[${simulator.host}]` : simulator.host;
console.log(`Mail simulator SMTP listening on smtp://${smtpHost}:${simulator.smtpPort}`);
console.log(`Mail simulator HTTP API listening on ${simulator.httpUrl}`);

let shuttingDown = false;
const shutdown = (signal: NodeJS.Signals): void => {
  // A second signal means the operator wants out now, not another graceful attempt.
  if (shuttingDown) process.exit(1);
  shuttingDown = true;
  console.log(`Mail simulator received ${signal}, shutting down`);
  simulator.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error('Mail simulator failed to close cleanly', error);
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
