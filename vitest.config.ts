import { defineConfig } from 'vitest/config';

/**
 * One project per folder of __test__/, named after it. The test command (scripts/test.mjs) runs
 * them all under Node 22, `failover` in a process of its own beside the others; the subsets it
 * runs again under other settings are projects of scripts/vitest.runs.config.ts.
 */
export const SUBJECTS = ['runner', 'remote', 'replica', 'flue', 'reliability', 'failover', 'packaging', 'cli', 'repo'];

export default defineConfig({
  test: {
    // Child processes and native code: one process per test file, not worker threads.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: SUBJECTS.map((name) => ({ extends: true, test: { name, include: [`__test__/${name}/**/*.test.ts`] } })),
  },
});
