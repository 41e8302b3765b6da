import { describe, expect, it } from 'vitest';
import {
  MAX_SERIES_PER_WORKER,
  createRuntimeMetricsStore,
} from '../../common/telemetry/runtime-metrics-store.js';
import {
  MAX_RUNTIME_LABEL_VALUE,
  runtimeMetricsMessageSchema,
} from '../../common/telemetry/runtime-metrics-message.js';

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
    // The metric's name counts against the cap with its series.
    expect(store.seriesOf(ENV)).toBe(MAX_SERIES_PER_WORKER);
    expect(store.render().match(/^temporal_request_total\{/gm)).toHaveLength(MAX_SERIES_PER_WORKER - 1);
    store.apply(ENV, [{ name: 'temporal_request_total', kind: 'gauge', value: 1, attributes: {} }]);
    expect(store.render().match(/^# TYPE temporal_request_total /gm)).toEqual([
      '# TYPE temporal_request_total ',
    ]);
    const other = createRuntimeMetricsStore();
    other.apply(ENV, [
      { name: 'temporal_x', kind: 'gauge', value: 1, attributes: { workflow_type: 'q"\n\\' } },
    ]);
    expect(other.render()).toContain('workflow_type="q\\"\\n\\\\"');
  });

  it("keeps each worker's types to itself: one worker cannot take a name from the others", () => {
    const store = createRuntimeMetricsStore();
    const [evil, honest, another] = [ENV, ENV.replace(/1$/, '2'), ENV.replace(/1$/, '3')];
    // The first to send a name gives it a type for itself only.
    store.apply(evil, [{ name: 'temporal_num_pollers', kind: 'histogram', value: 1, attributes }]);
    store.apply(honest, [{ name: 'temporal_num_pollers', kind: 'gauge', value: 2, attributes }]);
    store.apply(another, [{ name: 'temporal_num_pollers', kind: 'gauge', value: 3, attributes }]);
    let text = store.render();
    expect(text.match(/^# TYPE temporal_num_pollers .*$/gm)).toEqual(['# TYPE temporal_num_pollers gauge']);
    expect(text).toContain(`temporal_num_pollers{environment="${honest}",`);
    expect(text).toContain(`temporal_num_pollers{environment="${another}",`);
    expect(text).not.toContain('temporal_num_pollers_bucket');
    // On a tie the SDK's naming decides: latencies are histograms, other names gauges.
    store.forget(another);
    text = store.render();
    expect(text).toContain(`temporal_num_pollers{environment="${honest}",`);
    store.apply(evil, [{ name: 'temporal_request_latency', kind: 'gauge', value: 1, attributes }]);
    store.apply(honest, [{ name: 'temporal_request_latency', kind: 'histogram', value: 1, attributes }]);
    expect(store.render()).toContain('# TYPE temporal_request_latency histogram');
    // A worker's types go with it: a name it typed is free again.
    store.forget(evil);
    store.forget(honest);
    store.apply(another, [{ name: 'temporal_num_pollers', kind: 'gauge', value: 3, attributes }]);
    expect(store.render()).toContain(`temporal_num_pollers{environment="${another}",`);
    // Names that would read as another family's samples are refused for gauges and histograms.
    store.apply(another, [
      { name: 'temporal_request_total', kind: 'gauge', value: 1, attributes: {} },
      { name: 'temporal_request_latency_bucket', kind: 'gauge', value: 1, attributes: {} },
      { name: 'temporal_x_count', kind: 'histogram', value: 1, attributes: {} },
    ]);
    expect(store.seriesOf(another)).toBe(2);
  });

  it("refuses a message with a name outside temporal_ or a label that is not the SDK's", () => {
    const ok = { name: 'temporal_request', kind: 'counter', value: 1, attributes: {} };
    expect(runtimeMetricsMessageSchema.safeParse({ runtimeMetrics: [ok] }).success).toBe(true);
    const labelled = {
      ...ok,
      attributes: { ...attributes, operation: 'PollWorkflowTaskQueue', eager: false },
    };
    expect(runtimeMetricsMessageSchema.safeParse({ runtimeMetrics: [labelled] }).success).toBe(true);
    for (const bad of [
      { ...ok, name: 'tavio_http_requests_total' },
      { ...ok, attributes: { 'bad label': 'x' } },
      { ...ok, value: Number.NaN },
      // Labels the host's text or Prometheus already uses, or that the SDK never sends.
      { ...ok, attributes: { le: '0.5' } },
      { ...ok, attributes: { quantile: '0.5' } },
      { ...ok, attributes: { environment: 'another-environment' } },
      { ...ok, attributes: { region: 'us' } },
      { ...ok, attributes: { email: 'jane.doe@example.com' } },
      { ...ok, attributes: { task_queue: 'q'.repeat(MAX_RUNTIME_LABEL_VALUE + 1) } },
    ])
      expect(runtimeMetricsMessageSchema.safeParse({ runtimeMetrics: [bad] }).success).toBe(false);
  });
});
