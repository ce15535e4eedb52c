// Runs the DNS simulator as its own process, so the product (or a person) can point a resolver at it.
import { startDnsSimulator } from './dns-simulator.js';

function portFromEnv(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${variable} must be a port number between 0 and 65535, got "${raw}"`);
  }
  return port;
}

const simulator = await startDnsSimulator({
  host: process.env.DNS_SIM_HOST || '127.0.0.1',
  port: portFromEnv('DNS_SIM_PORT', 5353),
  httpPort: portFromEnv('DNS_SIM_HTTP_PORT', 8053),
});

console.log(`DNS simulator answering on ${simulator.server} (udp+tcp)`);
console.log(`DNS simulator HTTP API on ${simulator.httpUrl}`);

let stopping = false;
const shutdown = (signal: NodeJS.Signals) => {
  // A second signal means the operator is impatient; do not wait for a close that may be stuck.
  if (stopping) process.exit(1);
  stopping = true;
  console.log(`${signal} received, shutting down the DNS simulator`);
  simulator.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
