import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files run in parallel in separate processes; each makes its own database.
    pool: 'forks',
    // Finds the PostgreSQL server the suites also run on (test/helpers/test-database.ts).
    globalSetup: ['test/helpers/test-database.ts'],
  },
});
