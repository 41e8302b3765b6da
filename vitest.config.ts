import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The Temporal SDK's native bridge needs processes, not threads.
    pool: 'forks',
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'integrations/**/*.unit.test.ts'],
          pool: 'forks',
        },
      },
      {
        // The kernel's side of the worker sandbox: needs root (skipped without it), not the stack.
        test: {
          name: 'sandbox',
          include: ['test/isolation/sandbox.test.ts'],
          pool: 'forks',
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: [
            'test/integration/**/*.test.ts',
            'test/isolation/**/*.test.ts',
            'integrations/**/*.test.ts',
          ],
          exclude: ['test/isolation/sandbox.test.ts', 'integrations/**/*.unit.test.ts'],
          pool: 'forks',
          globalSetup: ['test/support/global-setup.ts'],
          // Files share one stack and one set of region hosts; running them one at a time keeps 2 cores honest.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        // The platform as deployed: `npm run build`, then the control API and a region host on plain
        // node from dist/. Starts its own control API on the stack's port: runs on its own.
        test: {
          name: 'production',
          include: ['test/production/**/*.test.ts'],
          pool: 'forks',
          globalSetup: ['test/production/setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        // Restarts shared services (Temporal, PostgreSQL, gateways) under running syncs: run on its
        // own, after the others (`npm test` runs it as a second pass).
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          pool: 'forks',
          globalSetup: ['test/faults/setup.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
