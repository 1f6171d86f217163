/**
 * The search script alone on the same data (issue #13: Redis CPU per query): one Redis, the scale
 * bench's synthetic fleet loaded once per build (each under its own prefix, through its own
 * RedisRegistry.putMany), and the scale bench's query (infer, edge 32 candidates within 2,000 km,
 * cloud 6) from its client points, through each build's RedisRegistry.nearest. Redis's time per
 * NEAREST call comes from SLOWLOG with a threshold of 0 (every command's own execution time, as
 * INFO commandstats sums it, tagged with its arguments, so the builds' calls are told apart by
 * their key prefix); the builds' order rotates per point (running one after another on a point
 * favours the later ones, whose keys Redis has just touched). A pass per build with INFO
 * commandstats then counts the commands the scripts ran (GEOSEARCH, HMGET per query).
 * Correctness first: every build must return the same nodes for every point.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { clientPoints, seeded, syntheticNode } from './discovery/synthetic.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { startRedis } from './lib/redisServer.js';
import { writeResult } from './lib/results.js';
import { summarize } from './lib/stats.js';

const HELP = `Usage: npm run bench -- nearest-script [options]

  --before DIR          compiled output of a build to compare (e.g. a checkout of main's dist/)
  --compare NAME=DIR    another compiled build to compare (repeatable)
  --variant NAME=JSON   this build again with these layout options, e.g.
                        'r160={"initialRadiusKm":160}' (repeatable)
  --nodes N             synthetic nodes (default 8000, the scale bench's fleet)
  --points P            client points (default 300, the scale bench's)
  --rounds R            measured rounds over every point (default 5)
  --name NAME           results file name (default nearest-script)
  -h, --help            show this help`;

type Any = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What rank.ts asks for the scale bench's query ({ caps: ['infer'] }, default options). */
const ELIGIBILITY = { caps: ['infer'], maxLoad: 0.95, minReputation: 0.5 };
const EDGE = { k: 32, maxDistanceKm: 2000 };
const CLOUD = { k: 6, maxDistanceKm: Infinity };

export async function main(argv: string[]): Promise<void> {
  // --compare and --variant repeat: parseArgs checks them (keeping the last), the scans below take every one
  const args = parseCommandArgs(argv, { nodes: { type: 'string' }, points: { type: 'string' }, rounds: { type: 'string' }, name: { type: 'string' }, before: { type: 'string' }, compare: { type: 'string' }, variant: { type: 'string' } }, HELP);
  if (!args) return;
  const nodes = intFlag(args.values.nodes, 'nodes', 1, 1_000_000) ?? 8000;
  const pointCount = intFlag(args.values.points, 'points', 1, 100_000) ?? 300;
  const rounds = intFlag(args.values.rounds, 'rounds', 1, 1000) ?? 5;
  const name = stringFlag(args.values.name) ?? 'nearest-script';
  const beforeDir = stringFlag(args.values.before) ?? '';
  const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const variants: { build: string; dir: string; options: object }[] = [];
  if (beforeDir) variants.push({ build: 'before', dir: path.resolve(beforeDir), options: {} });
  argv.forEach((a, i) => {
    if (a !== '--compare') return;
    const spec = argv[i + 1] ?? '';
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new Error(`--compare NAME=DIR, got '${spec}'`);
    variants.push({ build: spec.slice(0, eq), dir: path.resolve(spec.slice(eq + 1)), options: {} });
  });
  variants.push({ build: 'this', dir: here, options: {} });
  argv.forEach((a, i) => {
    if (a !== '--variant') return;
    const spec = argv[i + 1] ?? '';
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new Error(`--variant NAME=JSON, got '${spec}'`);
    variants.push({ build: spec.slice(0, eq), dir: here, options: JSON.parse(spec.slice(eq + 1)) });
  });

  const redis = await startRedis();
  const { createClient } = (await import('@redis/client')) as Any;
  const raw = createClient({ url: redis.url });
  await raw.connect();
  const T0 = Date.now();
  const rand = seeded(7);
  const fleet = Array.from({ length: nodes }, (_, i) => syntheticNode(i, rand, T0));
  const points = clientPoints(pointCount, 99);
  const registries: Any[] = [];
  try {
    for (const [i, v] of variants.entries()) {
      const { RedisRegistry } = await import(pathToFileURL(path.join(v.dir, 'discovery/registry/RedisRegistry.js')).href);
      // a fixed clock: nothing expires, no sweep removes anything while it runs
      const registry = await RedisRegistry.connect({ url: redis.url, prefix: `ns${i}:`, now: () => T0, ...v.options });
      for (let at = 0; at < fleet.length; at += 1000) await registry.putMany(fleet.slice(at, at + 1000));
      registries.push(registry);
    }
    const query = async (registry: Any, p: { lat: number; lon: number }) => {
      const edge = await registry.nearest(p, EDGE.k, 'edge', { eligibility: ELIGIBILITY, maxDistanceKm: EDGE.maxDistanceKm });
      const cloud = await registry.nearest(p, CLOUD.k, 'cloud', { eligibility: ELIGIBILITY, maxDistanceKm: CLOUD.maxDistanceKm });
      return [...edge, ...cloud].map((n: Any) => `${n.node.id}@${n.distanceKm}`).join(' ');
    };
    // correctness first (and every build's descriptor cache and script cache warm)
    for (const p of points) {
      const answers = [];
      for (const r of registries) answers.push(await query(r, p));
      for (const [i, a] of answers.entries()) if (a !== answers[0]) throw new Error(`${variants[i]!.build} answers (${p.lat}, ${p.lon}) differently from ${variants[0]!.build}`);
    }

    const env = environment({ nodes, points: pointCount, rounds, before: beforeDir || undefined, variants: variants.map(({ build, options }) => ({ build, options })), query: { eligibility: ELIGIBILITY, edge: EDGE, cloud: 'k 6, no distance cap' } });
    printEnvironment(env);
    await raw.sendCommand(['CONFIG', 'SET', 'slowlog-max-len', String(rounds * pointCount * variants.length * 4 + 1000)]);
    await raw.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '0']);
    await raw.sendCommand(['SLOWLOG', 'RESET']);
    for (let r = 0; r < rounds; r++) {
      for (const [j, p] of points.entries()) {
        for (let s = 0; s < registries.length; s++) {
          const b = (j + r + s) % registries.length;
          await query(registries[b], p);
        }
      }
    }
    await raw.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '-1']);
    const log = (await raw.sendCommand(['SLOWLOG', 'GET', '-1'])) as Any[];
    // NEAREST: EVAL(SHA) script 1 <prefix>search lon lat need … (its 15th argument the tier)
    const calls = variants.map(() => ({ edge: [] as number[], cloud: [] as number[], describe: [] as number[] }));
    for (const entry of log) {
      const args = (entry[3] as unknown[]).map(String);
      if (args[0] !== 'EVALSHA' && args[0] !== 'EVAL') continue;
      const m = /^ns(\d+):(search|seen)$/.exec(args[3] ?? '');
      if (!m) continue;
      const c = calls[Number(m[1])]!;
      if (m[2] === 'seen') c.describe.push(Number(entry[2]));
      else (args[18] === 'cloud' ? c.cloud : c.edge).push(Number(entry[2]));
    }

    // commands the scripts ran, per query: a pass per build, counted by INFO commandstats
    const counts: Record<string, number>[] = [];
    for (const registry of registries) {
      await raw.sendCommand(['CONFIG', 'RESETSTAT']);
      for (const p of points) await query(registry, p);
      const info = String(await raw.sendCommand(['INFO', 'commandstats']));
      const perQuery: Record<string, number> = {};
      for (const [, cmd, n, usec] of info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) {
        if (cmd === 'config' || cmd === 'info') continue;
        perQuery[cmd!] = Number(n) / points.length;
        perQuery[`${cmd} µs`] = Number(usec) / points.length;
      }
      counts.push(perQuery);
    }

    const results: Record<string, unknown> = {};
    for (const [i, v] of variants.entries()) {
      const c = calls[i]!;
      const both = [...c.edge, ...c.cloud];
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      results[v.build] = { options: v.options, nearestUsPerCall: mean(both), edge: summarize(c.edge), cloud: summarize(c.cloud), describeCalls: c.describe.length, perQuery: counts[i] };
      const q = counts[i]!;
      console.log(
        `${v.build}: NEAREST ${mean(both).toFixed(1)} µs per call (edge mean ${mean(c.edge).toFixed(1)}, p50 ${summarize(c.edge).p50.toFixed(0)}, p99 ${summarize(c.edge).p99.toFixed(0)}; cloud mean ${mean(c.cloud).toFixed(1)}), ` +
          `per query: GEOSEARCH ${(q.geosearch ?? 0).toFixed(2)}, HMGET ${(q.hmget ?? 0).toFixed(2)}, ZMSCORE ${(q.zmscore ?? 0).toFixed(2)}, ZCARD ${(q.zcard ?? 0).toFixed(2)}` +
          (i > 0 ? `; x${(mean(both) / (results[variants[0]!.build] as Any).nearestUsPerCall).toFixed(2)} of ${variants[0]!.build}` : ''),
      );
    }
    const svg = barChart({
      title: `NEAREST alone, ${nodes} nodes, ${pointCount} points × ${rounds} rounds (Redis µs per call, SLOWLOG)`,
      yLabel: 'µs per call',
      categories: ['edge+cloud mean', 'edge mean', 'edge p99', 'cloud mean'],
      series: variants.map((v) => {
        const r = results[v.build] as Any;
        return { name: v.build, values: [r.nearestUsPerCall, r.edge.mean, r.edge.p99, r.cloud.mean] };
      }),
    });
    writeResult(name, { environment: env, ...results }, svg);
  } finally {
    for (const r of registries) await r.close();
    await raw.quit();
    await redis.stop();
  }
}
