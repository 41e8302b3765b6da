import { z } from 'zod';

/**
 * The labels the Temporal core SDK puts on its runtime metrics (its worker and client metrics), and
 * no other: a worker cannot add `le`, `quantile`, `environment` or `region`, which the host's text
 * already carries or Prometheus reserves. `namespace` is dropped on the host.
 */
export const RUNTIME_METRIC_LABELS = [
  'service_name',
  'namespace',
  'task_queue',
  'workflow_type',
  'activity_type',
  'poller_type',
  'worker_type',
  'eager',
  'operation',
  'status_code',
  'failure_reason',
] as const;

/** The longest label value kept: task queues, types and status codes are short names. */
export const MAX_RUNTIME_LABEL_VALUE = 128;

/**
 * What an environment worker sends its host over IPC about its Temporal runtime's metrics: the
 * updates the SDK buffered since the last message. Counters and up-down counters carry deltas,
 * gauges and histograms the value itself. Attributes are Temporal's own (task queue, workflow and
 * activity types, poller kinds): names of code, never data.
 */
export const runtimeMetricUpdateSchema = z.object({
  name: z.string().regex(/^temporal_[a-z0-9_]{1,120}$/),
  kind: z.enum(['counter', 'up-down-counter', 'gauge', 'histogram']),
  unit: z.string().max(16).optional(),
  help: z.string().max(300).optional(),
  value: z.number().finite(),
  attributes: z.partialRecord(
    z.enum(RUNTIME_METRIC_LABELS),
    z.union([z.string().max(MAX_RUNTIME_LABEL_VALUE), z.number().finite(), z.boolean()]),
  ),
});
export type RuntimeMetricUpdate = z.infer<typeof runtimeMetricUpdateSchema>;

/** The most updates one message carries; a worker sends at most one message a second. */
export const MAX_RUNTIME_METRIC_UPDATES = 5_000;

export const runtimeMetricsMessageSchema = z.object({
  runtimeMetrics: z.array(runtimeMetricUpdateSchema).max(MAX_RUNTIME_METRIC_UPDATES),
});
export type RuntimeMetricsMessage = z.infer<typeof runtimeMetricsMessageSchema>;
