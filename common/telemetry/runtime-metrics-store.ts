import type { RuntimeMetricUpdate } from './runtime-metrics-message.js';

/**
 * What one environment's worker may hold on its host, its series and its metric names' types
 * together: a worker cannot flood the host's metrics.
 */
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
 * Names that would read as another family's samples: a counter's `_total`, a histogram's
 * `_bucket`, `_sum` and `_count`. Counters get `_total` added; a gauge or histogram may not end so.
 */
const SAMPLE_SUFFIX = /_(total|bucket|sum|count)$/;

/** The type the SDK's naming gives a name: counters end in `_total`, its histograms are latencies. */
const typeByConvention = (name: string): Type =>
  name.endsWith('_total') ? 'counter' : name.endsWith('_latency') ? 'histogram' : 'gauge';

interface Worker {
  series: Map<string, Series>;
  /** Each name keeps the type it first came with from this worker; a name counts against its cap. */
  types: Map<string, Type>;
}

/**
 * The type a name is rendered with when workers disagree: the one most workers gave it, and on a
 * tie the SDK's convention. One worker cannot take a name away from the others.
 */
function winningType(name: string, holders: Map<Type, number>): Type {
  const ranked = [...holders].sort(
    ([typeA, a], [typeB, b]) =>
      b - a || Number(typeB === typeByConvention(name)) - Number(typeA === typeByConvention(name)),
  );
  return ranked[0]![0];
}

/**
 * The Temporal runtime metrics of a host's environment workers, as their workers hand them over,
 * each series labelled with its `environment` (the environment's id). Counters add up across a
 * worker's restarts; a stopped worker's series go with `forget`.
 */
export function createRuntimeMetricsStore() {
  const byWorker = new Map<string, Worker>();
  const held = (worker: Worker) => worker.series.size + worker.types.size;

  function apply(environment: string, updates: readonly RuntimeMetricUpdate[]): void {
    let own = byWorker.get(environment);
    if (!own) byWorker.set(environment, (own = { series: new Map(), types: new Map() }));
    for (const update of updates) {
      const type = typeOf(update.kind);
      if (type !== 'counter' && SAMPLE_SUFFIX.test(update.name)) continue;
      const name =
        type === 'counter' && !update.name.endsWith('_total') ? `${update.name}_total` : update.name;
      const known = own.types.get(name);
      if (known === undefined) {
        if (held(own) >= MAX_SERIES_PER_WORKER) continue;
        own.types.set(name, type);
      } else if (known !== type) continue;
      const labels = labelsOf(environment, update.attributes);
      const key = `${name}{${labels}}`;
      let series = own.series.get(key);
      if (!series) {
        if (held(own) >= MAX_SERIES_PER_WORKER) continue;
        const bounds = update.unit === 's' || name.endsWith('_latency') ? SECONDS_BUCKETS : COUNT_BUCKETS;
        series = { name, type, help: update.help ?? name, labels, value: 0 };
        if (type === 'histogram') series.buckets = { bounds, counts: bounds.map(() => 0), sum: 0, count: 0 };
        own.series.set(key, series);
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

  /** The Prometheus text of every worker's series, grouped by metric name, one type per name. */
  function render(): string {
    const byName = new Map<string, Series[]>();
    /** Per name, how many workers gave it each type. */
    const typesByName = new Map<string, Map<Type, number>>();
    for (const own of byWorker.values()) {
      for (const series of own.series.values()) {
        const named = byName.get(series.name);
        if (named) named.push(series);
        else byName.set(series.name, [series]);
      }
      for (const [name, type] of own.types) {
        const holders = typesByName.get(name) ?? new Map<Type, number>();
        holders.set(type, (holders.get(type) ?? 0) + 1);
        typesByName.set(name, holders);
      }
    }
    const lines: string[] = [];
    for (const [name, named] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
      const type = winningType(name, typesByName.get(name)!);
      const all = named.filter((series) => series.type === type);
      const first = all[0];
      if (!first) continue;
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
    /** Forgets a stopped worker: its series and the types it gave its metric names. */
    forget: (environment: string): void => void byWorker.delete(environment),
    /** How much a worker holds on this host against its cap: its series and its metric names. */
    seriesOf: (environment: string): number => {
      const own = byWorker.get(environment);
      return own ? held(own) : 0;
    },
  };
}
export type RuntimeMetricsStore = ReturnType<typeof createRuntimeMetricsStore>;
