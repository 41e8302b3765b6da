import { bundleWorkflowCode } from '@temporalio/worker';
import { build, stop as stopEsbuild } from 'esbuild';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where hosts write their workers' code: inside the project, so the compiled worker finds its packages. */
const BUILD_ROOT = fileURLToPath(new URL('../.build', import.meta.url));

export interface WorkerCode {
  /** The environment worker compiled to one JavaScript file for plain `node`. */
  entryPath: string;
  /** The workflows bundled once, loaded by every environment worker of the host. */
  workflowBundlePath: string;
  remove(): Promise<void>;
}

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

/**
 * Builds, once per region host, the code its environment workers run: the worker compiled from
 * TypeScript into one ES module (packages stay in `node_modules`, native parts included; only the
 * project's modules the worker imports are in it), and the workflow bundle. The folder (0755) and
 * the files (0644) belong to the host: workers, whatever user they run as, can read them and cannot
 * change them.
 */
export async function buildWorkerCode(): Promise<WorkerCode> {
  await mkdir(BUILD_ROOT, { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(BUILD_ROOT, 'host-'));
  const entryPath = join(dir, 'environment-worker.mjs');
  const workflowBundlePath = join(dir, 'workflows.js');
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
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  } finally {
    // esbuild's service process is not needed once the worker is built.
    await stopEsbuild();
  }
  return { entryPath, workflowBundlePath, remove: () => rm(dir, { recursive: true, force: true }) };
}
