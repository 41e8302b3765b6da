import { z } from 'zod';

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
  attributes: z.record(
    z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/),
    z.union([z.string().max(200), z.number(), z.boolean()]),
  ),
});
export type RuntimeMetricUpdate = z.infer<typeof runtimeMetricUpdateSchema>;

/** The most updates one message carries; a worker sends at most one message a second. */
export const MAX_RUNTIME_METRIC_UPDATES = 5_000;

export const runtimeMetricsMessageSchema = z.object({
  runtimeMetrics: z.array(runtimeMetricUpdateSchema).max(MAX_RUNTIME_METRIC_UPDATES),
});
export type RuntimeMetricsMessage = z.infer<typeof runtimeMetricsMessageSchema>;
