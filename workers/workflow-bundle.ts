import { bundleWorkflowCode } from '@temporalio/worker';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface WorkflowBundle {
  path: string;
  remove(): Promise<void>;
}

/**
 * Bundles the workflows once so every environment worker loads the same code without rebuilding it.
 * The folder (0755) and the file (0644) belong to the host: workers, whatever user they run as, can
 * read the bundle and cannot change it.
 */
export async function writeWorkflowBundle(): Promise<WorkflowBundle> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)),
    workflowInterceptorModules: [fileURLToPath(new URL('../workflows/interceptors.ts', import.meta.url))],
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: (m) => console.error(m), log() {} },
  });
  const dir = await mkdtemp(join(tmpdir(), 'tavio-bundle-'));
  const path = join(dir, 'workflows.js');
  await writeFile(path, code, { mode: 0o644 });
  // Modes given at creation are narrowed by the umask: set them explicitly.
  await chmod(path, 0o644);
  await chmod(dir, 0o755);
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}
