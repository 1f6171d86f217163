/**
 * The attacked node's garbage collections, from its `/metrics` (prom-client's gc histogram, which
 * counts V8's GC callbacks by kind): attack 4b's tail was major GCs driven by ArrayBuffer churn, so
 * each attack reports GCs a second and their pause time, unloaded vs under attack.
 */
import type { NodeProcess } from '../../bin/demo/NodeProcess.js';
import { parsePrometheusText } from '../lib/prometheusText.js';

/** GC counts and pause seconds by kind (major, minor, incremental, weakcb) from the node's `/metrics` (prom-client's gc histogram). */
export async function gcTotals(node: NodeProcess): Promise<Record<string, { count: number; s: number }>> {
  const families = parsePrometheusText(await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text());
  const totals: Record<string, { count: number; s: number }> = {};
  for (const sample of families.get('edge_nodejs_gc_duration_seconds')?.samples ?? []) {
    const kind = sample.labels['kind'];
    if (!kind) continue;
    const t = (totals[kind] ??= { count: 0, s: 0 });
    if (sample.name.endsWith('_count')) t.count = sample.value;
    else if (sample.name.endsWith('_sum')) t.s = sample.value;
  }
  return totals;
}

/** GCs a second and their pause ms a second, by kind, between two `gcTotals`. */
export function gcRates(from: Record<string, { count: number; s: number }>, to: Record<string, { count: number; s: number }>, seconds: number): Record<string, { perS: number; pauseMsPerS: number }> {
  const rates: Record<string, { perS: number; pauseMsPerS: number }> = {};
  for (const [kind, t] of Object.entries(to)) {
    const f = from[kind] ?? { count: 0, s: 0 };
    rates[kind] = { perS: +((t.count - f.count) / seconds).toFixed(2), pauseMsPerS: +((1000 * (t.s - f.s)) / seconds).toFixed(2) };
  }
  return rates;
}
