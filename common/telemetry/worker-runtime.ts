import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import type { RuntimeOptions } from '@temporalio/worker/lib/runtime-options.js';
import { MetricsBuffer } from '@temporalio/worker/lib/runtime-metrics.js';
import type { BufferedMetricUpdate } from '@temporalio/worker/lib/runtime-metrics.js';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { loggerOptions } from './logging.js';
import { MAX_RUNTIME_METRIC_UPDATES } from './runtime-metrics-message.js';
import type { RuntimeMetricUpdate, RuntimeMetricsMessage } from './runtime-metrics-message.js';

/** How often a worker hands its host the runtime's metric updates. */
const SEND_EVERY_MS = 1_000;

const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/**
 * The SDK's logger on pino. An activity's lines carry its `workflowId` and `workflowRunId` (the
 * SDK adds them), and its task token is redacted like any credential.
 */
export function temporalLoggerOn(log: Logger): TemporalLogger {
  const write = (level: LogLevel, message: string, meta?: LogMetadata) =>
    log[PINO_LEVEL[level]]({ ...meta }, message);
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}

/** Sums counter deltas per series; gauges keep their last value; histogram values go as they are. */
function compact(updates: Iterable<BufferedMetricUpdate>): RuntimeMetricUpdate[] {
  const out: RuntimeMetricUpdate[] = [];
  const summed = new Map<string, RuntimeMetricUpdate>();
  for (const { metric, value, attributes } of updates) {
    const name = `temporal_${metric.name
      .replace(/^temporal_/, '')
      .replace(/[^a-z0-9_]/gi, '_')
      .toLowerCase()}`;
    const update: RuntimeMetricUpdate = {
      name,
      kind: metric.kind,
      unit: metric.unit || undefined,
      help: metric.description || undefined,
      value,
      attributes: { ...(attributes as RuntimeMetricUpdate['attributes']) },
    };
    if (metric.kind === 'histogram') {
      out.push(update);
      continue;
    }
    const key = `${name}${JSON.stringify(update.attributes)}`;
    const seen = summed.get(key);
    if (!seen) summed.set(key, update);
    else seen.value = metric.kind === 'gauge' ? value : seen.value + value;
  }
  return [...summed.values(), ...out].slice(0, MAX_RUNTIME_METRIC_UPDATES);
}

/**
 * The options of an environment worker's SDK runtime (`Runtime.install`): its logs on pino and,
 * when `runtimeMetrics` is set, its metrics buffered and handed to the host over the IPC channel
 * every second. A worker opens no port for them: its sandbox lets it reach Temporal and its
 * gateway only, and its host, which speaks with it over IPC already, exposes them.
 */
export function workerRuntimeOptions(settings: {
  logLevel: string;
  environmentId: string;
  region: string;
  runtimeMetrics?: boolean;
}): RuntimeOptions {
  const log = pino(
    loggerOptions(settings.logLevel, { worker: settings.environmentId, region: settings.region }),
  );
  const logger = temporalLoggerOn(log);
  if (!settings.runtimeMetrics || !process.send) return { logger };
  const buffer = new MetricsBuffer({ maxBufferSize: 20_000, useSecondsForDurations: true });
  // The buffer is drained once the runtime is installed with it; until then it answers nothing.
  const timer = setInterval(() => {
    const runtimeMetrics = compact(buffer.retrieveUpdates());
    if (runtimeMetrics.length > 0 && process.connected)
      process.send?.({ runtimeMetrics } satisfies RuntimeMetricsMessage);
  }, SEND_EVERY_MS);
  timer.unref();
  return { logger, telemetryOptions: { metrics: { buffer } } };
}
