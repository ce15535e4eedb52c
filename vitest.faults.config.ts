import { separateSuite } from './vitest.config.js';

// Fault injection: each test kills, restarts or stalls real processes on loopback.
export default separateSuite('test/faults/**/*.test.ts');
