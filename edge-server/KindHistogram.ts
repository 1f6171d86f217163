/**
 * The per-frame metrics of an edge node (`edge_request_handling_seconds{kind}` and
 * `edge_requests_total{kind}`), counted in typed arrays and handed to prom-client's registry as
 * one custom collector (an object with prom-client's metric shape: `get()` returning the values,
 * `reset()`), so the text on `/metrics` and the cluster aggregation (`aggregator: 'sum'`) are
 * exactly what prom-client's own Histogram and Counter produce.
 *
 * Why not prom-client's Histogram: its `observe` builds a label/value pair, hashes the labels into
 * a string and looks the bucket up by a number-keyed property (a number → string conversion) on
 * every call, even on a label child: ~1–2 µs and ~200 bytes of garbage per observation, the
 * largest piece of the node's per-predict cost after the socket, msgpack and the predictor
 * (issue #15, bench/predict-load.ts). Here an observation is a binary search over the bucket
 * bounds and three increments.
 */
import type * as PromClient from 'prom-client';

interface Series {
  /** Observations per bucket (not cumulative); the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

type MetricValue = { labels: Record<string, string | number>; value: number; metricName?: string };

/** A histogram with one label (`labelName`), plus the matching `…_total` counter of its observations. */
export class KindHistogram<K extends string> {
  readonly #bounds: Float64Array;
  readonly #labelName: string;
  readonly #series = new Map<K, Series>();
  readonly histogram: PromClient.Metric;
  readonly counter: PromClient.Metric;

  /** `buckets`: upper bounds in seconds, ascending (prom-client's `buckets`). */
  constructor(options: { name: string; help: string; counterName: string; counterHelp: string; labelName: string; buckets: readonly number[] }) {
    const bounds = Float64Array.from(options.buckets);
    for (let i = 1; i < bounds.length; i++) if (!(bounds[i]! > bounds[i - 1]!)) throw new TypeError(`${options.name}: buckets must be ascending`);
    this.#bounds = bounds;
    this.#labelName = options.labelName;
    const reset = () => this.#series.clear();
    this.histogram = metric(options.name, options.help, 'histogram', () => this.#histogramValues(options.name), reset);
    this.counter = metric(options.counterName, options.counterHelp, 'counter', () => this.#counterValues(), reset);
  }

  /** One observation of `seconds` for label value `kind`. */
  observe(kind: K, seconds: number): void {
    let series = this.#series.get(kind);
    if (!series) this.#series.set(kind, (series = { counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 }));
    // first bound ≥ seconds (Prometheus buckets are `le`); NaN lands above every bound
    const bounds = this.#bounds;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seconds <= bounds[mid]!) hi = mid;
      else lo = mid + 1;
    }
    series.counts[lo]!++;
    series.sum += seconds;
    series.count++;
  }

  #histogramValues(name: string): MetricValue[] {
    const values: MetricValue[] = [];
    for (const [kind, series] of this.#series) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += series.counts[i]!;
        // `le` first: prom-client's own order, so the text is the same
        values.push({ labels: { le: this.#bounds[i]!, [this.#labelName]: kind }, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', [this.#labelName]: kind }, value: series.count, metricName: `${name}_bucket` });
      values.push({ labels: { [this.#labelName]: kind }, value: series.sum, metricName: `${name}_sum` });
      values.push({ labels: { [this.#labelName]: kind }, value: series.count, metricName: `${name}_count` });
    }
    return values;
  }

  #counterValues(): MetricValue[] {
    return [...this.#series].map(([kind, series]) => ({ labels: { [this.#labelName]: kind }, value: series.count }));
  }
}

/** The shape prom-client's Registry reads from a metric (`registerMetric`, `metrics()`, `getMetricsAsJSON()`). */
function metric(name: string, help: string, type: 'histogram' | 'counter', values: () => MetricValue[], reset: () => void): PromClient.Metric {
  return { name, help, type, aggregator: 'sum', get: async () => ({ name, help, type, aggregator: 'sum', values: values() }), reset } as unknown as PromClient.Metric;
}
