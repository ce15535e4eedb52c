import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export const baseConfig = defineConfig({
  resolve: {
    // graphql 16 has no "exports": Node loads its CommonJS entry for the libraries (type-graphql, Apollo)
    // while Vite would pick the "module" entry for our files, giving two graphql realms. Pin one.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Suites that need more than a fresh machine has (a Redis; PostgreSQL servers they stop and start; a
    // Chromium) run apart: `npm run test:scale`, `test:faults` and `test:browser`; .ci/run runs all three.
    exclude: ['test/faults/**', 'test/scale/**', 'test/browser/**', 'node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['reflect-metadata'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});

export default baseConfig;

/** The configuration of a suite `npm test` leaves out. */
export function separateSuite(include: string) {
  return defineConfig({
    ...baseConfig,
    test: { ...baseConfig.test, include: [include], exclude: ['node_modules/**'], testTimeout: 120_000 },
  });
}
