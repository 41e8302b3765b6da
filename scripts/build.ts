import { cp, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { writeWorkerCode } from '../workers/worker-code.js';

/**
 * The second half of `npm run build`, after `tsc -p tsconfig.build.json` has compiled the processes
 * into dist/: copies what the compiled code reads at run time (the control database's migrations)
 * and writes the environment workers' code (the worker as one module, the workflow bundle) into
 * dist/worker-code, so region hosts started from the build compile nothing.
 */
const dist = (path: string) => fileURLToPath(new URL(`../dist/${path}`, import.meta.url));

const started = Date.now();
process.stderr.write('build: copying the migrations into dist/db/migrations\n');
await rm(dist('db/migrations'), { recursive: true, force: true });
await cp(fileURLToPath(new URL('../db/migrations', import.meta.url)), dist('db/migrations'), {
  recursive: true,
});
process.stderr.write('build: bundling the environment worker and the workflows into dist/worker-code\n');
await rm(dist('worker-code'), { recursive: true, force: true });
await mkdir(dist('worker-code'), { recursive: true, mode: 0o755 });
await writeWorkerCode(dist('worker-code'));
process.stderr.write(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
