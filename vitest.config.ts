import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration suites start real servers and worker threads; two cores do not gain from more forks.
    pool: 'forks',
    maxWorkers: 2,
  },
});
