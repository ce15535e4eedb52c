import { separateSuite } from './vitest.config.js';

// Several API instances on one PostgreSQL and one Redis (REDIS_URL, default redis://127.0.0.1:6379).
export default separateSuite('test/scale/**/*.test.ts');
