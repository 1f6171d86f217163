/**
 * Discovery at the seed's scale. Synthetic nodes around ~100 real cities (55 countries):
 *  - query latency (full shortlist: k-nearest with filters + RTT ranking, edge and cloud) for the
 *    memory backend at 210k and 1M nodes and the Redis backend at 210k, after a brute-force
 *    correctness check of the k-nearest;
 *  - heartbeat ingestion (registry only, and the full signed path: Ed25519 verify + nonce + touch);
 *  - memory per node (V8 heap for memory, Redis used_memory for Redis);
 *  - selection quality where geography and true RTT disagree (bench/discovery/selection.ts).
 * Acceptance: memory p99 < 1 ms at 210k, Redis p99 < 3 ms, ≥ 95 % sessions on the truly fastest node.
 */
import { parseCommandArgs } from '../bin/commands/args.js';
import { Admission } from '../discovery/admission.js';
import { greatCircleKm, type LatLon } from '../discovery/geo.js';
import { generateKeyPair, signHeartbeat } from '../discovery/identity.js';
import { IpLocator } from '../discovery/locate.js';
import { DEFAULT_RANK_OPTIONS, shortlist } from '../discovery/rank.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { RedisRegistry } from '../discovery/registry/RedisRegistry.js';
import type { NodeRecord, Registry } from '../discovery/registry/Registry.js';
import { TrustedOperators } from '../discovery/trust.js';
import { redisAvailable, startRedis } from './lib/redisServer.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { summarize, type Summary } from './lib/stats.js';
import { DEFAULT_SELECTION, simulateSelection } from './discovery/selection.js';
import { clientPoints, remotePoints, seeded, syntheticNode } from './discovery/synthetic.js';

const HELP = `Usage: npm run bench -- discovery [options]

Options:
  --quick        smaller run (no 1M-node memory run, fewer queries and sessions)
  --no-redis     skip the Redis backend (it needs redis-server: scripts/install-redis.sh)
  --selection-only
                 run only the selection-quality simulation (the SDK's own placement decision);
                 writes bench/results/discovery-selection.json and .svg
  -h, --help     show this help

Writes bench/results/discovery.json and discovery.svg.`;

interface QueryStats {
  backend: string;
  nodes: number;
  loadSeconds: number;
  bytesPerNode: number;
  /** Clients where users are (metro 80 %, regional 20 %): the acceptance figure. */
  query: Summary;
  /** Clients uniform over the sphere (mostly ocean, far from every node): the worst case, for reference. */
  remoteQuery: Summary;
  nearestCheck: string;
  heartbeatsPerSecond: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

function nodes(count: number, seed: number): NodeRecord[] {
  const rand = seeded(seed);
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => syntheticNode(i, rand, now));
}

/** Brute-force k-nearest for a few points; the registry must agree exactly. */
async function checkNearest(registry: Registry, all: NodeRecord[], points: LatLon[]): Promise<string> {
  for (const p of points) {
    const got = (await registry.nearest(p, 8, 'edge')).map((n) => n.node.id);
    const want = all
      .filter((n) => n.tier === 'edge')
      .map((n) => ({ id: n.id, d: greatCircleKm(p, n) }))
      .sort((a, b) => a.d - b.d)
      .slice(0, 8)
      .map((w) => w.id);
    if (got.join() !== want.join()) throw new Error(`${registry.kind}: k-nearest at ${p.lat},${p.lon} is ${got} but brute force says ${want}`);
  }
  return `k-nearest matches brute force at ${points.length} points`;
}

async function timeQueries(registry: Registry, points: LatLon[], warmup: number, mayBeEmpty = false): Promise<Summary> {
  const samples: number[] = [];
  const query = { caps: ['infer' as const], maxPrice: 0.08 };
  for (let i = 0; i < points.length; i++) {
    const t = performance.now();
    const found = await shortlist(registry, points[i]!, query, DEFAULT_RANK_OPTIONS);
    const dt = performance.now() - t;
    if (found.edge.length === 0 && !mayBeEmpty) throw new Error('a query found no edge node; the synthetic world is broken');
    if (i >= warmup) samples.push(dt);
  }
  return summarize(samples);
}

async function benchMemory(count: number, queries: number, log: (s: string) => void): Promise<QueryStats> {
  log(`memory: generating ${count.toLocaleString()} nodes…`);
  const all = nodes(count, 1);
  const before = heapUsed();
  const registry = new MemoryRegistry({ heartbeatIntervalMs: 3_600_000 });
  const t0 = performance.now();
  for (const n of all) registry.putSync(n);
  const loadSeconds = (performance.now() - t0) / 1000;
  // the records themselves were allocated before `before`; the registry copies them, so the delta is index + copies
  const bytesPerNode = (heapUsed() - before) / count;
  log(`memory: loaded in ${loadSeconds.toFixed(2)} s, ${bytesPerNode.toFixed(0)} B/node; checking k-nearest against brute force…`);
  const nearestCheck = await checkNearest(registry, all, clientPoints(count >= 1_000_000 ? 3 : 10, 99));
  const ids = all.map((n) => n.id);
  all.length = 0; // only the registry's own copies stay alive while timing
  log(`memory: ${queries} queries…`);
  const query = await timeQueries(registry, clientPoints(queries + 1000, 7), 1000);
  const remoteQuery = await timeQueries(registry, remotePoints(1000, 8), 0, true);
  const beats = Math.min(count, 300_000);
  const t1 = performance.now();
  for (let i = 0; i < beats; i++) registry.touchSync(ids[i]!, { load: 0.5, freeCapacity: 3 });
  const heartbeatsPerSecond = beats / ((performance.now() - t1) / 1000);
  await registry.close();
  log(`memory ${count.toLocaleString()}: query p50 ${query.p50.toFixed(3)} ms p99 ${query.p99.toFixed(3)} ms; ${Math.round(heartbeatsPerSecond).toLocaleString()} heartbeats/s`);
  return { backend: 'memory', nodes: count, loadSeconds, bytesPerNode, query, remoteQuery, nearestCheck, heartbeatsPerSecond };
}

async function benchRedis(count: number, queries: number, log: (s: string) => void): Promise<QueryStats> {
  const redis = await startRedis();
  const registry = await RedisRegistry.connect({ url: redis.url, heartbeatIntervalMs: 3_600_000 });
  try {
    const all = nodes(count, 1);
    const baseline = await registry.usedMemoryBytes();
    log(`redis: loading ${count.toLocaleString()} nodes (pipelined)…`);
    const t0 = performance.now();
    for (let i = 0; i < all.length; i += 5000) await registry.putMany(all.slice(i, i + 5000));
    const loadSeconds = (performance.now() - t0) / 1000;
    const bytesPerNode = ((await registry.usedMemoryBytes()) - baseline) / count;
    log(`redis: loaded in ${loadSeconds.toFixed(2)} s, ${bytesPerNode.toFixed(0)} B/node in Redis; checking k-nearest…`);
    const nearestCheck = await checkNearest(registry, all, clientPoints(10, 99));
    const ids = all.map((n) => n.id);
    all.length = 0; // as benchMemory: 210k records kept alive only add GC work to the timed queries
    // and collect now: the memory runs leave GBs of garbage (the 1M registry) in the old generation,
    // which made every young-generation GC during the timed queries take ~7 ms
    gc?.();
    log(`redis: ${queries} queries…`);
    const query = await timeQueries(registry, clientPoints(queries + 500, 7), 500);
    const remoteQuery = await timeQueries(registry, remotePoints(300, 8), 0, true);
    // heartbeats with 256 in flight: node-redis pipelines what is issued together
    const beats = Math.min(count, 50_000);
    const t1 = performance.now();
    for (let i = 0; i < beats; i += 256) {
      await Promise.all(ids.slice(i, Math.min(beats, i + 256)).map((id) => registry.touch(id, { load: 0.5, freeCapacity: 3 })));
    }
    const heartbeatsPerSecond = beats / ((performance.now() - t1) / 1000);
    log(`redis ${count.toLocaleString()}: query p50 ${query.p50.toFixed(3)} ms p99 ${query.p99.toFixed(3)} ms; ${Math.round(heartbeatsPerSecond).toLocaleString()} heartbeats/s`);
    return { backend: 'redis', nodes: count, loadSeconds, bytesPerNode, query, remoteQuery, nearestCheck, heartbeatsPerSecond };
  } finally {
    await registry.close();
    await redis.stop();
  }
}

/** The full heartbeat path a real node pays for: schema, Ed25519 verify, nonce, touch. */
async function benchSignedHeartbeats(count: number, log: (s: string) => void): Promise<{ heartbeats: number; perSecond: number }> {
  const registry = new MemoryRegistry({ heartbeatIntervalMs: 3_600_000 });
  const admission = new Admission(registry, new TrustedOperators(), new IpLocator());
  const keys = Array.from({ length: 200 }, () => generateKeyPair());
  const rand = seeded(5);
  keys.forEach((k, i) => registry.putSync({ ...syntheticNode(i, rand, Date.now()), publicKey: k.publicKey }));
  const signed = Array.from({ length: count }, (_, i) => signHeartbeat(`n${i % keys.length}`, { load: 0.3, freeCapacity: 2 }, keys[i % keys.length]!.privateKeyPem));
  const t = performance.now();
  for (const hb of signed) await admission.heartbeat(hb);
  const perSecond = count / ((performance.now() - t) / 1000);
  await registry.close();
  log(`signed heartbeats (verify + nonce + touch, one core): ${Math.round(perSecond).toLocaleString()}/s`);
  return { heartbeats: count, perSecond };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { quick: { type: 'boolean' }, 'no-redis': { type: 'boolean' }, 'selection-only': { type: 'boolean' } }, HELP);
  if (!args) return;
  const quick = args.values.quick === true;
  if (args.values['selection-only'] === true) return selectionOnly(quick);
  const withRedis = args.values['no-redis'] !== true;
  const env = environment({ bench: 'discovery', quick, gcExposed: gc !== undefined, redis: withRedis ? (redisAvailable() ? 'redis-server (local, loopback)' : 'missing') : 'skipped' });
  printEnvironment(env);
  if (!gc) console.log('# note: run with node --expose-gc for steadier memory-per-node figures');
  const log = (s: string) => console.log(s);
  const started = performance.now();

  const backends: QueryStats[] = [];
  backends.push(await benchMemory(210_000, quick ? 2000 : 5000, log));
  if (!quick) backends.push(await benchMemory(1_000_000, 3000, log));
  if (withRedis) {
    if (!redisAvailable()) throw new Error('redis-server not found: run scripts/install-redis.sh, or pass --no-redis');
    backends.push(await benchRedis(210_000, quick ? 1000 : 3000, log));
  }
  const signedHeartbeats = await benchSignedHeartbeats(quick ? 5000 : 20_000, log);
  log('selection quality…');
  const selection = await simulateSelection({ ...DEFAULT_SELECTION, sessions: quick ? 1000 : DEFAULT_SELECTION.sessions }, log);

  const find = (b: string, n: number) => backends.find((x) => x.backend === b && x.nodes === n);
  const acceptance = {
    memoryP99At210kUnder1ms: find('memory', 210_000)!.query.p99 < 1,
    redisP99At210kUnder3ms: withRedis ? find('redis', 210_000)!.query.p99 < 3 : null,
    selectionAtLeast95pct: selection.correctFraction >= 0.95,
  };
  const result = { env, backends, signedHeartbeats, selection, acceptance, seconds: (performance.now() - started) / 1000 };

  console.log('\nbackend  nodes       load s   B/node   query p50   query p99   remote p50/p99     heartbeats/s');
  for (const b of backends) {
    console.log(
      `${b.backend.padEnd(8)} ${b.nodes.toLocaleString().padEnd(11)} ${b.loadSeconds.toFixed(2).padStart(6)}   ${b.bytesPerNode.toFixed(0).padStart(6)}   ${b.query.p50.toFixed(3).padStart(6)} ms   ${b.query.p99.toFixed(3).padStart(6)} ms   ${b.remoteQuery.p50.toFixed(2)}/${b.remoteQuery.p99.toFixed(2)} ms   ${Math.round(b.heartbeatsPerSecond).toLocaleString()}`,
    );
  }
  console.log(
    `selection: ${(100 * selection.correctFraction).toFixed(1)} % of ${selection.sessions} sessions on the truly fastest node ` +
      `(${(100 * selection.correctFractionAfterWarmup).toFixed(1)} % after warm-up, ${(100 * selection.within1msFraction).toFixed(1)} % within 1 ms); ` +
      `decide p50 ${selection.decideMs.p50.toFixed(1)} ms p99 ${selection.decideMs.p99.toFixed(1)} ms (simulated probe time + real query time)`,
  );
  console.log(`acceptance: ${JSON.stringify(acceptance)}  (${result.seconds.toFixed(1)} s)`);

  const svg = barChart({
    title: `Discovery shortlist query latency (${selection.sessions} sessions: ${(100 * selection.correctFraction).toFixed(1)} % on the truly fastest node)`,
    yLabel: 'ms',
    categories: backends.map((b) => `${b.backend} ${b.nodes >= 1_000_000 ? b.nodes / 1_000_000 + 'M' : b.nodes / 1000 + 'k'}`),
    series: [
      { name: 'p50', values: backends.map((b) => b.query.p50) },
      { name: 'p99', values: backends.map((b) => b.query.p99) },
    ],
  });
  writeResult('discovery', result, svg);
}

/** The selection-quality simulation alone: it runs the SDK's own placement decision (chooseNode). */
async function selectionOnly(quick: boolean): Promise<void> {
  const env = environment({ bench: 'discovery-selection', quick });
  printEnvironment(env);
  const started = performance.now();
  const selection = await simulateSelection({ ...DEFAULT_SELECTION, sessions: quick ? 1000 : DEFAULT_SELECTION.sessions }, (s) => console.log(s));
  const acceptance = { selectionAtLeast95pct: selection.correctFraction >= 0.95 };
  console.log(
    `selection: ${(100 * selection.correctFraction).toFixed(1)} % of ${selection.sessions} sessions on the truly fastest node ` +
      `(${(100 * selection.correctFractionAfterWarmup).toFixed(1)} % after warm-up, ${(100 * selection.within1msFraction).toFixed(1)} % within 1 ms); ` +
      `decide p50 ${selection.decideMs.p50.toFixed(1)} ms p99 ${selection.decideMs.p99.toFixed(1)} ms (simulated probe time + real query time)`,
  );
  console.log(`acceptance: ${JSON.stringify(acceptance)}`);
  const svg = barChart({
    title: `Sessions on the truly fastest node, cumulative (${selection.sessions} sessions, SDK placement code)`,
    yLabel: '%',
    categories: selection.curve.map(([n]) => String(n)),
    series: [{ name: 'correct %', values: selection.curve.map(([, f]) => 100 * f) }],
  });
  writeResult('discovery-selection', { env, selection, acceptance, seconds: (performance.now() - started) / 1000 }, svg);
}
