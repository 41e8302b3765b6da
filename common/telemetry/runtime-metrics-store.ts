import type { RuntimeMetricUpdate } from './runtime-metrics-message.js';

/** Series one environment's worker may hold on its host: a worker cannot flood the host's metrics. */
export const MAX_SERIES_PER_WORKER = 2_000;
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const COUNT_BUCKETS = [1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000];
/** Attributes left out: the namespace names the organization, which the `environment` label replaces. */
const DROPPED_ATTRIBUTES = new Set(['namespace', 'environment']);

type Type = 'counter' | 'gauge' | 'histogram';
interface Series {
  name: string;
  type: Type;
  help: string;
  labels: string;
  value: number;
  buckets?: { bounds: number[]; counts: number[]; sum: number; count: number };
}

const escapeValue = (value: string) =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function labelsOf(environment: string, attributes: RuntimeMetricUpdate['attributes']): string {
  const pairs = Object.entries(attributes)
    .filter(([name]) => !DROPPED_ATTRIBUTES.has(name))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}="${escapeValue(String(value))}"`);
  return [`environment="${escapeValue(environment)}"`, ...pairs].join(',');
}

const typeOf = (kind: RuntimeMetricUpdate['kind']): Type =>
  kind === 'counter' ? 'counter' : kind === 'histogram' ? 'histogram' : 'gauge';

/**
 * The Temporal runtime metrics of a host's environment workers, as their workers hand them over,
 * each series labelled with its `environment` (the environment's id). Counters add up across a
 * worker's restarts; a stopped worker's series go with `forget`.
 */
export function createRuntimeMetricsStore() {
  const byWorker = new Map<string, Map<string, Series>>();
  /** Each name keeps the type it first came with, so that the text stays valid whatever a worker sends. */
  const typeByName = new Map<string, Type>();

  function apply(environment: string, updates: readonly RuntimeMetricUpdate[]): void {
    let own = byWorker.get(environment);
    if (!own) byWorker.set(environment, (own = new Map()));
    for (const update of updates) {
      const type = typeOf(update.kind);
      const name =
        type === 'counter' && !update.name.endsWith('_total') ? `${update.name}_total` : update.name;
      if ((typeByName.get(name) ?? type) !== type) continue;
      typeByName.set(name, type);
      const labels = labelsOf(environment, update.attributes);
      const key = `${name}{${labels}}`;
      let series = own.get(key);
      if (!series) {
        if (own.size >= MAX_SERIES_PER_WORKER) continue;
        const bounds = update.unit === 's' || name.endsWith('_latency') ? SECONDS_BUCKETS : COUNT_BUCKETS;
        series = { name, type, help: update.help ?? name, labels, value: 0 };
        if (type === 'histogram') series.buckets = { bounds, counts: bounds.map(() => 0), sum: 0, count: 0 };
        own.set(key, series);
      }
      if (series.buckets) {
        const { bounds, counts } = series.buckets;
        bounds.forEach((bound, i) => {
          if (update.value <= bound) counts[i] = (counts[i] ?? 0) + 1;
        });
        series.buckets.sum += update.value;
        series.buckets.count += 1;
      } else if (update.kind === 'gauge') series.value = update.value;
      else series.value += update.value;
    }
  }

  /** The Prometheus text of every worker's series, grouped by metric name. */
  function render(): string {
    const byName = new Map<string, Series[]>();
    for (const own of byWorker.values())
      for (const series of own.values())
        byName.set(series.name, [...(byName.get(series.name) ?? []), series]);
    const lines: string[] = [];
    for (const [name, all] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
      const first = all[0]!;
      lines.push(`# HELP ${name} ${escapeHelp(first.help)}`, `# TYPE ${name} ${first.type}`);
      for (const series of all) {
        if (!series.buckets) {
          lines.push(`${name}{${series.labels}} ${series.value}`);
          continue;
        }
        const { bounds, counts, sum, count } = series.buckets;
        bounds.forEach((bound, i) =>
          lines.push(`${name}_bucket{${series.labels},le="${bound}"} ${counts[i]}`),
        );
        lines.push(`${name}_bucket{${series.labels},le="+Inf"} ${count}`);
        lines.push(`${name}_sum{${series.labels}} ${sum}`, `${name}_count{${series.labels}} ${count}`);
      }
    }
    return lines.length > 0 ? `${lines.join('\n')}\n` : '';
  }

  return {
    apply,
    render,
    forget: (environment: string): void => void byWorker.delete(environment),
    /** How many series a worker holds on this host. */
    seriesOf: (environment: string): number => byWorker.get(environment)?.size ?? 0,
  };
}
export type RuntimeMetricsStore = ReturnType<typeof createRuntimeMetricsStore>;
