import type { Logger } from 'pino';
import { createTraceRelay, isTraceMessage } from './trace-relay.js';
import type { TraceRelayLimits, WorkerAssignment } from './trace-relay.js';
import { TRACE_SERVICE } from './tracing.js';
import type { Tracing } from './tracing.js';

/** How often, at most, the host logs that it dropped or refused a worker's spans (a worker cannot flood the log). */
const DROP_LOG_EVERY_MS = 60_000;

/**
 * A region host's side of its workers' traces. With tracing, its workers are told (their settings'
 * `traces`) to hand their spans to it, and it exports them under the worker's service, with the
 * environment's id and the region, for the namespace and task queue it assigned the worker alone.
 * Without, workers trace nothing and span messages are ignored.
 */
export function hostTraces(
  tracing: Tracing | undefined,
  log: Logger,
  region: string,
  limits?: TraceRelayLimits,
) {
  const assignments = new Map<string, WorkerAssignment>();
  const relay =
    tracing &&
    createTraceRelay({
      processor: tracing.processor,
      serviceName: TRACE_SERVICE.environmentWorker,
      resourceOf: (environment) => ({ 'tavio.environment.id': environment, 'tavio.region': region }),
      assignmentOf: (worker) => assignments.get(worker),
      limits,
    });
  const dropped = new Map<string, { count: number; loggedAt: number }>();

  function noteDropped(worker: string, count: number, refused?: string): void {
    const entry = dropped.get(worker) ?? { count: 0, loggedAt: 0 };
    entry.count += count;
    dropped.set(worker, entry);
    if (Date.now() - entry.loggedAt < DROP_LOG_EVERY_MS) return;
    log.warn({ worker, droppedSpans: entry.count, reason: refused ?? 'rate' }, "dropped a worker's spans");
    entry.count = 0;
    entry.loggedAt = Date.now();
  }

  return {
    /** Whether workers hand their spans to this host (their settings' `traces`). */
    enabled: relay !== undefined,
    /** Names the namespace and task queue a worker serves: its spans may name these alone. */
    assign(worker: string, assignment: WorkerAssignment): void {
      assignments.set(worker, { namespace: assignment.namespace, taskQueue: assignment.taskQueue });
    },
    /** Takes a worker's message when it carries spans; answers whether it did. */
    message(worker: string, message: unknown): boolean {
      if (!isTraceMessage(message)) return false;
      if (!relay) return true;
      const outcome = relay.receive(worker, message);
      if (outcome.dropped > 0 || outcome.refused) noteDropped(worker, outcome.dropped, outcome.refused);
      return true;
    },
    forget(worker: string): void {
      relay?.forget(worker);
      assignments.delete(worker);
      dropped.delete(worker);
    },
  };
}
