/** How long the tests' region hosts keep an environment's worker running without work. */
export const TEST_WORKER_IDLE_MS = 8_000;
