import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry, Counter, Histogram, AggregatorRegistry } from 'prom-client';
import { KindHistogram } from '../../edge-server/KindHistogram.js';
import { LATENCY_BUCKETS } from '../../protocol/server/prometheus.js';

const test = suite('ops: KindHistogram');

// the same observations through prom-client's own Histogram + Counter and through KindHistogram
function both(observations: [string, number][]) {
  const theirs = new Registry();
  const counter = new Counter({ name: 'x_requests_total', help: 'Requests', labelNames: ['kind'], registers: [theirs] });
  const histogram = new Histogram({ name: 'x_handling_seconds', help: 'Handling', labelNames: ['kind'], buckets: LATENCY_BUCKETS, registers: [theirs] });
  const ours = new Registry();
  const kinds = new KindHistogram<string>({ name: 'x_handling_seconds', help: 'Handling', counterName: 'x_requests_total', counterHelp: 'Requests', labelName: 'kind', buckets: LATENCY_BUCKETS });
  ours.registerMetric(kinds.counter);
  ours.registerMetric(kinds.histogram);
  for (const [kind, seconds] of observations) {
    counter.inc({ kind });
    histogram.observe({ kind }, seconds);
    kinds.observe(kind, seconds);
  }
  return { theirs, ours, kinds };
}

// values on and next to every bound (`le` is inclusive), below the first, above the last
const observations: [string, number][] = [];
for (const bound of LATENCY_BUCKETS) observations.push(['predict', bound], ['predict', bound * 0.999], ['predict', bound * 1.001]);
observations.push(['predict', 0], ['predict', 1e-7], ['predict', 99], ['ping', 0.0003], ['render', 0.012], ['render', 7]);

test("its /metrics text is prom-client's Histogram + Counter text, byte for byte", async () => {
  const { theirs, ours } = both(observations);
  assert.is(await ours.metrics(), await theirs.metrics());
});

test('cluster aggregation (sum over workers) matches prom-client too', async () => {
  const a = both(observations.slice(0, 20));
  const b = both(observations.slice(20));
  const theirs = await AggregatorRegistry.aggregate([await a.theirs.getMetricsAsJSON(), await b.theirs.getMetricsAsJSON()]).metrics();
  const ours = await AggregatorRegistry.aggregate([await a.ours.getMetricsAsJSON(), await b.ours.getMetricsAsJSON()]).metrics();
  assert.is(ours, theirs);
});

test('reset empties both series', async () => {
  const { ours, kinds } = both(observations);
  ours.resetMetrics();
  assert.not.match(await ours.metrics(), /kind="predict"/);
  kinds.observe('predict', 0.0002);
  assert.match(await ours.metrics(), /x_requests_total\{kind="predict"\} 1/);
});

test('buckets must be ascending', () => {
  assert.throws(() => new KindHistogram({ name: 'y', help: 'y', counterName: 'y_total', counterHelp: 'y', labelName: 'kind', buckets: [0.1, 0.1] }), (e: Error) => e instanceof TypeError);
});

test.run();
