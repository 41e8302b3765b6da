import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { WorkerSecrets } from '../common/worker-secrets.js';

const WORKER_ENTRY = fileURLToPath(new URL('./environment-worker.ts', import.meta.url));
const MAX_BACKOFF_MS = 30_000;
const STABLE_AFTER_MS = 60_000;

export interface SupervisedWorker {
  key: string;
  /** Environment variables of the child: that environment's settings, no secret. */
  env: () => Record<string, string>;
  /** The child's first secrets, sent over its IPC channel as soon as it exists. */
  secrets: () => Promise<WorkerSecrets>;
}

interface Slot {
  spec: SupervisedWorker;
  child?: ChildProcess;
  startedAt: number;
  failures: number;
  stopping: boolean;
  restartTimer?: NodeJS.Timeout;
}

/**
 * Runs one OS process per environment worker; restarts a crashed one with exponential backoff and
 * stops those that are no longer wanted.
 */
export function createSupervisor(log: Logger) {
  const slots = new Map<string, Slot>();

  async function launch(slot: Slot): Promise<void> {
    const secrets = await slot.spec.secrets();
    if (slot.stopping) return;
    const child = fork(WORKER_ENTRY, [], {
      // Nothing is inherited from the host: the child gets its own environment's settings only.
      env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...slot.spec.env() },
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    slot.child = child;
    slot.startedAt = Date.now();
    child.send({ secrets });
    child.on('message', (message: { stopping?: string }) => {
      if (message.stopping)
        log.error({ worker: slot.spec.key, reason: message.stopping }, 'environment worker stopping');
    });
    log.info({ worker: slot.spec.key, pid: child.pid }, 'environment worker started');
    child.once('exit', (code, signal) => {
      slot.child = undefined;
      if (slot.stopping) return;
      slot.failures = Date.now() - slot.startedAt > STABLE_AFTER_MS ? 1 : slot.failures + 1;
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (slot.failures - 1));
      log.warn(
        { worker: slot.spec.key, code, signal, restartInMs: delay },
        'environment worker exited; restarting',
      );
      slot.restartTimer = setTimeout(() => void start(slot), delay);
    });
  }

  async function start(slot: Slot): Promise<void> {
    try {
      await launch(slot);
    } catch (error) {
      slot.failures += 1;
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (slot.failures - 1));
      log.error(
        { worker: slot.spec.key, err: (error as Error).message, retryInMs: delay },
        'environment worker could not start',
      );
      slot.restartTimer = setTimeout(() => void start(slot), delay);
    }
  }

  function stop(key: string): Promise<void> {
    const slot = slots.get(key);
    if (!slot) return Promise.resolve();
    slots.delete(key);
    slot.stopping = true;
    clearTimeout(slot.restartTimer);
    const child = slot.child;
    if (!child || child.exitCode !== null) return Promise.resolve();
    log.info({ worker: key }, 'stopping environment worker');
    return new Promise((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  return {
    ensure(spec: SupervisedWorker): void {
      if (slots.has(spec.key)) return;
      const slot: Slot = { spec, startedAt: 0, failures: 0, stopping: false };
      slots.set(spec.key, slot);
      void start(slot);
    },
    stop,
    /** Sends renewed secrets to a running worker. */
    sendSecrets(key: string, secrets: WorkerSecrets): void {
      slots.get(key)?.child?.send({ secrets });
    },
    keys: () => [...slots.keys()],
    stopAll: () => Promise.all([...slots.keys()].map(stop)).then(() => undefined),
  };
}
export type Supervisor = ReturnType<typeof createSupervisor>;
