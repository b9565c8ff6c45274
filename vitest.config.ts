// Test runner configuration: one real nats-server for the whole run (test/helpers/global-setup.ts),
// test files in child processes (the kernel starts worker threads of its own), two at a time.

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // Test files share no mutable globals (each test has its own systems and namespace); not
    // re-importing the package per file saves ~10 s of module loading.
    isolate: false,
    testTimeout: 20_000,
    hookTimeout: 20_000,
    teardownTimeout: 10_000,
    reporters: ['default'],
  },
});
