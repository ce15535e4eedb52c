import { separateSuite } from './vitest.config.js';

export default separateSuite('test/browser/**/*.test.ts');
