/**
 * The replica's own work per Redis query (issue #13), without Redis, sockets or other processes:
 * node-redis's RESP decoder on a NEAREST reply's bytes, then the reply's rows into candidates
 * (this build: descriptorCache.ts nearestRows on Buffer rows; the `--before` build: its
 * rowDescriptors + rowRecord + sort, as its RedisRegion.nearest ran them), and the ranking
 * (rank.ts shortlist on each build's MemoryRegistry). Rounds of both builds interleaved, CPU per
 * query (median of rounds) and bytes allocated per query (V8's sampling heap profiler).
 */
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { seeded } from './discovery/synthetic.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { summarize } from './lib/stats.js';

const HELP = `Usage: npm run bench -- query-parse --before DIR [options]

  --before DIR      compiled output of the build to compare (e.g. a checkout of main's dist/)
  --nodes N         nodes held by the replica (default 8000)
  --rows R          rows per NEAREST reply (default 40: an edge query's 32 candidates × 1.25)
  --k K             candidates kept per reply (default 32)
  --rounds R        interleaved rounds per build (default 15)
  --iterations N    queries per round (default 3000)
  --name NAME       results file name (default query-parse)
  -h, --help        show this help`;

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const NOW = 1_764_567_890_123;

/** RESP2 bytes of an array of bulk strings. */
function resp(items: string[]): Buffer {
  return Buffer.from(`*${items.length}\r\n` + items.map((s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`).join(''));
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { before: { type: 'string' }, nodes: { type: 'string' }, rows: { type: 'string' }, k: { type: 'string' }, rounds: { type: 'string' }, iterations: { type: 'string' }, name: { type: 'string' } }, HELP);
  if (!args) return;
  const beforeDir = stringFlag(args.values.before);
  if (!beforeDir) throw new Error('--before DIR is required (the compiled build to compare with)');
  const nodes = intFlag(args.values.nodes, 'nodes', 1, 1_000_000) ?? 8000;
  const rowsPerReply = intFlag(args.values.rows, 'rows', 1, 10_000) ?? 40;
  const k = intFlag(args.values.k, 'k', 1, 10_000) ?? 32;
  const rounds = intFlag(args.values.rounds, 'rounds', 1, 1000) ?? 15;
  const iterations = intFlag(args.values.iterations, 'iterations', 1, 1_000_000) ?? 3000;
  const name = stringFlag(args.values.name) ?? 'query-parse';
  const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const load = (dir: string, file: string): Promise<Any> => import(pathToFileURL(path.join(path.resolve(dir), file)).href);
  const { Decoder } = (await import('@redis/client/dist/lib/RESP/decoder.js' as string)) as Any;

  // the fleet: a version each (each build fetches its descriptors in its own format, fetcher)
  // deterministic, so both builds parse the same replies
  const rand = seeded(42);
  const fleet = Array.from({ length: nodes }, (_, i) => {
    const node = { id: `node-${String(i).padStart(6, '0')}`, publicKey: 'A'.repeat(43), url: `wss://n${i}.edge.example:443/`, tier: 'edge', lat: 48.5 + rand(), lon: 2 + rand(), caps: ['predict', 'infer', 'render'], capacity: 10, pricePerMinute: 0.01, operator: 'acme', load: 0.5, freeCapacity: 4, lastSeen: NOW };
    return { node, v: `v${i.toString(36).padStart(7, '0')}` };
  });
  /** A build's descriptor fetch: "v d" as DESCRIBE answers (lean search rows), else the search row with its line, as builds before them read. */
  async function fetcher(dir: string): Promise<(ids: string[]) => Promise<(string | null)[]>> {
    const r = await load(dir, 'discovery/registry/redisRecord.js');
    const lines = new Map<string, string>();
    for (const f of fleet) {
      const { load: _l, freeCapacity: _f, lastSeen: _s, ...fixed } = f.node;
      const d = r.encodeDescriptor(fixed);
      lines.set(f.node.id, r.descriptorRow ? r.descriptorRow(f.v, d) : r.searchRow(f.v, f.node, d));
    }
    return async (ids) => ids.map((id) => lines.get(id) ?? null);
  }
  // 64 replies, each a window of nearby rows; every reply a second later than the last (under
  // churn every node's last seen moves each second), loads and stats as a fleet's
  const replies: Buffer[] = [];
  const points: { lat: number; lon: number }[] = [];
  for (let j = 0; j < 64; j++) {
    const start = Math.floor(rand() * (nodes - rowsPerReply));
    const rows = ['12.5', String(rowsPerReply)];
    for (let r = 0; r < rowsPerReply; r++) {
      const f = fleet[start + r]!;
      const stats = r % 3 === 0 ? '  ' : `${(rand() * 4).toFixed(3)} ${1 + Math.floor(rand() * 20)} ${(0.8 + rand() * 0.2).toFixed(4)}`;
      rows.push(`${f.node.id} ${f.v} ${Math.round(rand() * 100) / 100} ${1 + Math.floor(rand() * 4)} ${NOW + j * 1000 + Math.floor(rand() * 1000)} ${stats} `);
    }
    replies.push(resp(rows));
    points.push({ lat: 48.5 + rand(), lon: 2 + rand() });
  }

  /**
   * A build's parse of one reply: decode (strings or Buffers, as its RedisRegion asks), rows → the k
   * nearest. By what the build has, not by its side: `nearestRows` (rows read from their bytes) in
   * this round's builds and later, else the string path of the builds before them.
   */
  async function parser(dir: string): Promise<(i: number) => Promise<number>> {
    const dc = await load(dir, 'discovery/registry/descriptorCache.js');
    const fromBytes = typeof dc.nearestRows === 'function';
    const geo = await load(dir, 'discovery/geo.js');
    // the final check a replica runs on every row: the query's eligibility (rankTier's, caps as the scale bench asks)
    const filter = (await load(dir, 'discovery/registry/Registry.js')).eligibilityFilter({ caps: ['infer'], maxLoad: 0.95, minReputation: 0.5 });
    const cache = new dc.DescriptorCache(250_000);
    const fetchRows = await fetcher(dir);
    let reply: unknown[] = [];
    const typeMapping = fromBytes ? { 36: Buffer } : {};
    const decoder = new Decoder({ onReply: (r: unknown[]) => (reply = r), onErrorReply: () => {}, onPush: () => {}, getTypeMapping: () => typeMapping });
    const oldest = NOW - 3000;
    if (fromBytes) {
      return async (i) => {
        decoder.write(replies[i % 64]!);
        const found = await dc.nearestRows(reply, 2, cache, fetchRows, points[i % 64]!, oldest, filter, Infinity, k);
        return found.nearest.length;
      };
    }
    return async (i) => {
      decoder.write(replies[i % 64]!);
      const flat = reply;
      const point = points[i % 64]!;
      // main's RedisRegion.nearest, its parse part
      const descriptors = await dc.rowDescriptors(flat, 2, cache, fetchRows);
      const passing: Any[] = [];
      for (let r = 2; r < flat.length; r++) {
        const descriptor = descriptors[r - 2];
        const found = descriptor && dc.rowRecord(String(flat[r]), descriptor, oldest);
        if (!found || !filter(found.node, found.stats)) continue;
        found.distanceKm = geo.greatCircleKm(point, found.node);
        if (found.distanceKm <= Infinity) passing.push(found);
      }
      return passing.sort((a, b) => a.distanceKm - b.distanceKm).slice(0, k).length;
    };
  }

  /** A build's ranking of one query: shortlist (k 8, cloud 3, the placement pool) on its MemoryRegistry. */
  async function ranker(dir: string): Promise<(i: number) => Promise<number>> {
    const { MemoryRegistry } = await load(dir, 'discovery/registry/MemoryRegistry.js');
    const { shortlist, DEFAULT_RANK_OPTIONS } = await load(dir, 'discovery/rank.js');
    const registry = new MemoryRegistry();
    for (const f of fleet) await registry.put({ ...f.node, lastSeen: Date.now() + 3_600_000 });
    for (let c = 0; c < 20; c++) await registry.put({ ...fleet[c]!.node, id: `cloud-${c}`, tier: 'cloud', lat: rand() * 120 - 60, lon: rand() * 360 - 180, lastSeen: Date.now() + 3_600_000 });
    return async (i) => (await shortlist(registry, points[i % 64]!, {}, DEFAULT_RANK_OPTIONS)).edge.length;
  }

  const builds = [
    { build: 'before', dir: beforeDir, parse: await parser(beforeDir), rank: await ranker(beforeDir) },
    { build: 'after', dir: here, parse: await parser(here), rank: await ranker(here) },
  ];
  // correctness first: both builds keep the same candidates
  for (let i = 0; i < 64; i++) {
    const [a, b] = [await builds[0]!.parse(i), await builds[1]!.parse(i)];
    if (a !== b) throw new Error(`reply ${i}: ${a} candidates before, ${b} after`);
  }

  const gc = (globalThis as { gc?: () => void }).gc;
  const env = environment({ nodes, rowsPerReply, k, rounds, iterations, before: beforeDir });
  printEnvironment(env);
  const results: Record<string, Record<string, { cpuUsPerQuery: ReturnType<typeof summarize>; bytesPerQuery: number; top: { fn: string; bytes: number }[] }>> = {};
  for (const path of ['parse', 'rank'] as const) {
    results[path] = {};
    const samples: Record<string, number[]> = { before: [], after: [] };
    for (let r = 0; r < rounds; r++) {
      for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
        const run = b[path];
        gc?.();
        const t0 = process.cpuUsage();
        for (let i = 0; i < iterations; i++) await run(i);
        const t = process.cpuUsage(t0);
        samples[b.build]!.push((t.user + t.system) / iterations);
      }
    }
    const session = new Session();
    session.connect();
    for (const b of builds) {
      gc?.();
      await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
      for (let i = 0; i < iterations; i++) await b[path](i);
      const { profile } = (await session.post('HeapProfiler.stopSampling')) as Any;
      let bytes = 0;
      const byFn = new Map<string, number>();
      const walk = (n: Any) => {
        bytes += n.selfSize;
        const f = n.callFrame;
        const key = `${f.functionName || '(anonymous)'} ${String(f.url).replace(/^.*\/(node_modules|dist)\//, '')}:${f.lineNumber + 1}`;
        if (n.selfSize > 0) byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
        for (const c of n.children) walk(c);
      };
      walk(profile.head);
      const top = [...byFn].sort((x, y) => y[1] - x[1]).slice(0, 8).map(([fn, v]) => ({ fn, bytes: Math.round(v / iterations) }));
      results[path]![b.build] = { cpuUsPerQuery: summarize(samples[b.build]!), bytesPerQuery: bytes / iterations, top };
    }
    session.disconnect();
    const [before, after] = [results[path]!.before!, results[path]!.after!];
    for (const b of builds) console.log(`${path} ${b.build}: top allocations per query: ${results[path]![b.build]!.top.map((t) => `${t.fn} ${t.bytes} B`).join('; ')}`);
    console.log(
      `${path}: CPU per query ${before.cpuUsPerQuery.p50.toFixed(1)} -> ${after.cpuUsPerQuery.p50.toFixed(1)} µs (median of ${rounds} rounds, after/before ${(after.cpuUsPerQuery.p50 / before.cpuUsPerQuery.p50).toFixed(2)}); ` +
        `allocated ${before.bytesPerQuery.toFixed(0)} -> ${after.bytesPerQuery.toFixed(0)} B per query (${(after.bytesPerQuery / before.bytesPerQuery).toFixed(2)})`,
    );
  }
  const svg = barChart({
    title: `The replica's work per Redis query: reply parse (${rowsPerReply} rows) and ranking, before vs after`,
    yLabel: 'µs CPU per query (median of rounds)',
    categories: ['parse', 'rank'],
    series: ['before', 'after'].map((b) => ({ name: b, values: ['parse', 'rank'].map((p) => results[p]![b]!.cpuUsPerQuery.p50) })),
  });
  writeResult(name, { environment: env, results }, svg);
}
