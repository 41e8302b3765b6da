import { bundleWorkflowCode } from '@temporalio/worker';
import { build, stop as stopEsbuild } from 'esbuild';
import { access, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where hosts write their workers' code: inside the project, so the compiled worker finds its packages. */
const BUILD_ROOT = fileURLToPath(new URL('../.build', import.meta.url));
/** Where `npm run build` puts the workers' code, beside the compiled host (dist/worker-code). */
const PREBUILT_DIR = fileURLToPath(new URL('../worker-code', import.meta.url));
const ENTRY_FILE = 'environment-worker.mjs';
const WORKFLOWS_FILE = 'workflows.js';

export interface WorkerCode {
  /** The environment worker compiled to one JavaScript file for plain `node`. */
  entryPath: string;
  /** The workflows bundled once, loaded by every environment worker of the host. */
  workflowBundlePath: string;
  remove(): Promise<void>;
}

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

/**
 * Writes into `dir` the code environment workers run: the worker compiled from TypeScript into one ES
 * module (packages stay in `node_modules`, native parts included; only the project's modules the
 * worker imports are in it), and the workflow bundle. The folder (0755) and the files (0644) can be
 * read by workers, whatever user they run as, and not changed by them. Needs the TypeScript sources.
 */
export async function writeWorkerCode(dir: string): Promise<Omit<WorkerCode, 'remove'>> {
  const entryPath = join(dir, ENTRY_FILE);
  const workflowBundlePath = join(dir, WORKFLOWS_FILE);
  try {
    const [workflows] = await Promise.all([
      bundleWorkflowCode({
        workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)),
        workflowInterceptorModules: [fileURLToPath(new URL('../workflows/interceptors.ts', import.meta.url))],
        logger: quiet,
      }),
      build({
        entryPoints: [fileURLToPath(new URL('./environment-worker.ts', import.meta.url))],
        outfile: entryPath,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        logLevel: 'error',
      }),
    ]);
    await writeFile(workflowBundlePath, workflows.code);
    // Modes given at creation are narrowed by the umask: set them explicitly.
    for (const file of [entryPath, workflowBundlePath]) await chmod(file, 0o644);
    await chmod(dir, 0o755);
  } finally {
    // esbuild's service process is not needed once the worker is built.
    await stopEsbuild();
  }
  return { entryPath, workflowBundlePath };
}

/**
 * The code a region host's environment workers run. A host started from the build (`npm run build`,
 * then `node dist/workers/region-host.js`) uses the code the build wrote beside it and compiles
 * nothing; a host started from the sources builds it once, into a folder of its own that it removes
 * when it stops.
 */
export async function prepareWorkerCode(): Promise<WorkerCode> {
  if (!import.meta.url.endsWith('.ts')) {
    const prebuilt = {
      entryPath: join(PREBUILT_DIR, ENTRY_FILE),
      workflowBundlePath: join(PREBUILT_DIR, WORKFLOWS_FILE),
    };
    try {
      await Promise.all([access(prebuilt.entryPath), access(prebuilt.workflowBundlePath)]);
    } catch {
      throw new Error(`the workers' code is missing from ${PREBUILT_DIR}: run npm run build`);
    }
    return { ...prebuilt, remove: async () => {} };
  }
  await mkdir(BUILD_ROOT, { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(BUILD_ROOT, 'host-'));
  try {
    return { ...(await writeWorkerCode(dir)), remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
