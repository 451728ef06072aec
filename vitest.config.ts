import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native modules (better-sqlite3) and child processes behave best in forked workers.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/support/global-setup.ts'],
    // Every HTTP reply is checked against its documented schema (src/server/reply-serializer.ts);
    // child processes the tests start inherit it.
    env: { NIGHTSHIFT_CHECK_REPLIES: '1' },
  },
});
