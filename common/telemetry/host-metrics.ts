import { Counter, Gauge } from 'prom-client';
import { createProcessRegistry } from './metrics.js';
import { runtimeMetricsMessageSchema } from './runtime-metrics-message.js';
import { createRuntimeMetricsStore } from './runtime-metrics-store.js';

/** Why an environment worker's process ended, as its supervisor saw it. */
export type WorkerExitReason = 'stopped' | 'exited' | 'crashed' | 'killed' | 'start-failed';
/** Why a host dropped a worker's IPC message unread: beyond its rate, not an object, or failed in its handler. */
export type DroppedMessageReason = 'rate' | 'not-an-object' | 'failed';
/** What a region host issues its workers, and renews before it expires. */
export type CredentialKind = 'aws' | 'temporal-token' | 'payload-key' | 'gateway';

/**
 * A region host's series: its running workers, their starts, restarts and exits, the credentials
 * it issued them, and their Temporal runtime's metrics (see runtime-metrics-store.ts). Every series
 * carries the host's `region`.
 */
export function createHostMetrics(region: string) {
  const registry = createProcessRegistry({ region });
  let runningWorkers = (): number => 0;
  new Gauge({
    name: 'tavio_host_workers',
    help: 'Environment worker processes running on this host',
    registers: [registry],
    collect() {
      this.set(runningWorkers());
    },
  });
  const starts = new Counter({
    name: 'tavio_host_worker_starts_total',
    help: 'Environment worker processes started',
    registers: [registry],
  });
  const restarts = new Counter({
    name: 'tavio_host_worker_restarts_total',
    help: 'Environment worker restarts scheduled after an exit or a failed start',
    registers: [registry],
  });
  const exits = new Counter({
    name: 'tavio_host_worker_exits_total',
    help: 'Environment worker processes ended, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const refreshes = new Counter({
    name: 'tavio_host_credential_refreshes_total',
    help: 'Credentials issued to environment workers (first issue and renewals), by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const droppedMessages = new Counter({
    name: 'tavio_host_worker_messages_dropped_total',
    help: "Environment workers' IPC messages dropped before they were handled, by reason",
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const runtime = createRuntimeMetricsStore();

  return {
    /** Where the gauge of running workers reads from. */
    countRunning(count: () => number): void {
      runningWorkers = count;
    },
    workerStarted: (): void => starts.inc(),
    workerRestarting: (): void => restarts.inc(),
    workerExited: (reason: WorkerExitReason): void => exits.inc({ reason }),
    workerMessageDropped: (reason: DroppedMessageReason): void => droppedMessages.inc({ reason }),
    /** Wraps a credential source: each issue counts as a success or a failure of its kind. */
    counted<T>(kind: CredentialKind, source: () => Promise<T>): () => Promise<T> {
      return () =>
        source().then(
          (value) => {
            refreshes.inc({ kind, outcome: 'success' });
            return value;
          },
          (error: unknown) => {
            refreshes.inc({ kind, outcome: 'failure' });
            throw error;
          },
        );
    },
    /** Takes a worker's IPC message when it carries runtime metrics; answers whether it did. */
    runtimeMessage(environment: string, message: unknown): boolean {
      if (typeof message !== 'object' || message === null || !('runtimeMetrics' in message)) return false;
      const parsed = runtimeMetricsMessageSchema.safeParse(message);
      if (parsed.success) runtime.apply(environment, parsed.data.runtimeMetrics);
      return true;
    },
    forgetWorker: (environment: string): void => runtime.forget(environment),
    render: async (): Promise<string> => `${await registry.metrics()}\n${runtime.render()}`,
  };
}
export type HostMetrics = ReturnType<typeof createHostMetrics>;
