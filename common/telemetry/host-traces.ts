import type { Logger } from 'pino';
import { createTraceRelay, isTraceMessage } from './trace-relay.js';
import type { TraceRelayLimits } from './trace-relay.js';
import { TRACE_SERVICE } from './tracing.js';
import type { Tracing } from './tracing.js';
import { TRACES_TO_HOST_VAR } from './worker-traces.js';

/** How often, at most, the host logs that it dropped or refused a worker's spans (a worker cannot flood the log). */
const DROP_LOG_EVERY_MS = 60_000;

/**
 * A region host's side of its workers' traces. With tracing, its workers are told to hand their
 * spans to it, and it exports them under the worker's service, with the environment's id and the
 * region. Without, workers trace nothing and span messages are ignored.
 */
export function hostTraces(
  tracing: Tracing | undefined,
  log: Logger,
  region: string,
  limits?: TraceRelayLimits,
) {
  const relay =
    tracing &&
    createTraceRelay({
      processor: tracing.processor,
      serviceName: TRACE_SERVICE.environmentWorker,
      resourceOf: (environment) => ({ 'tavio.environment.id': environment, 'tavio.region': region }),
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
    /** Variables of each worker's environment: whether it hands its spans to this host. */
    workerEnv: (): Record<string, string> => (relay ? { [TRACES_TO_HOST_VAR]: '1' } : {}),
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
      dropped.delete(worker);
    },
  };
}
