import { describe, expect, it } from 'vitest';
import {
  MAX_SERIES_PER_WORKER,
  createRuntimeMetricsStore,
} from '../../common/telemetry/runtime-metrics-store.js';
import { runtimeMetricsMessageSchema } from '../../common/telemetry/runtime-metrics-message.js';

const ENV = '0b6f1c2e-0000-4000-8000-000000000001';
const attributes = { namespace: 'acme-production', task_queue: 'us1', poller_type: 'workflow_task' };

describe('worker runtime metrics on the host', () => {
  it('adds counters up, keeps gauges, and buckets histograms, labelled by environment and not by namespace', () => {
    const store = createRuntimeMetricsStore();
    store.apply(ENV, [
      { name: 'temporal_request', kind: 'counter', value: 2, attributes },
      { name: 'temporal_request', kind: 'counter', value: 3, attributes },
      { name: 'temporal_num_pollers', kind: 'gauge', value: 4, attributes },
      { name: 'temporal_num_pollers', kind: 'gauge', value: 1, attributes },
      { name: 'temporal_request_latency', kind: 'histogram', unit: 's', value: 0.02, attributes },
    ]);
    const text = store.render();
    const labels = `environment="${ENV}",poller_type="workflow_task",task_queue="us1"`;
    expect(text).toContain(`# TYPE temporal_request_total counter\ntemporal_request_total{${labels}} 5\n`);
    expect(text).toContain(`temporal_num_pollers{${labels}} 1\n`);
    expect(text).toContain(`temporal_request_latency_bucket{${labels},le="0.01"} 0\n`);
    expect(text).toContain(`temporal_request_latency_bucket{${labels},le="0.025"} 1\n`);
    expect(text).toContain(`temporal_request_latency_count{${labels}} 1\n`);
    expect(text).not.toContain('acme');
    store.forget(ENV);
    expect(store.render()).toBe('');
  });

  it('bounds what a worker can add: a series cap, one type per name, escaped values', () => {
    const store = createRuntimeMetricsStore();
    const many = Array.from({ length: MAX_SERIES_PER_WORKER + 50 }, (_, i) => ({
      name: 'temporal_request',
      kind: 'counter' as const,
      value: 1,
      attributes: { operation: `op${i}` },
    }));
    store.apply(ENV, many);
    expect(store.seriesOf(ENV)).toBe(MAX_SERIES_PER_WORKER);
    store.apply(ENV, [{ name: 'temporal_request_total', kind: 'gauge', value: 1, attributes: {} }]);
    expect(store.render().match(/^# TYPE temporal_request_total /gm)).toEqual([
      '# TYPE temporal_request_total ',
    ]);
    const other = createRuntimeMetricsStore();
    other.apply(ENV, [{ name: 'temporal_x', kind: 'gauge', value: 1, attributes: { a: 'q"\n\\' } }]);
    expect(other.render()).toContain('a="q\\"\\n\\\\"');
  });

  it('refuses a message with a name outside temporal_ or a label name that is not one', () => {
    const ok = { name: 'temporal_request', kind: 'counter', value: 1, attributes: {} };
    expect(runtimeMetricsMessageSchema.safeParse({ runtimeMetrics: [ok] }).success).toBe(true);
    for (const bad of [
      { ...ok, name: 'tavio_http_requests_total' },
      { ...ok, attributes: { 'bad label': 'x' } },
      { ...ok, value: Number.NaN },
    ])
      expect(runtimeMetricsMessageSchema.safeParse({ runtimeMetrics: [bad] }).success).toBe(false);
  });
});
