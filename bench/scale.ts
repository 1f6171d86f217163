/**
 * `bench scale`: what liveness costs per node, and the layout for 210,000 nodes at 1 s liveness.
 *
 * A discovery replica runs in its own process (bench/scale/server.ts), pinned alone to core 0;
 * this process, Redis and the cluster's masters share core 1. This process plays the nodes over
 * real loopback connections:
 *  - node channel: N nodes each hold a /v1/node ws, registered once (signed over the challenge),
 *    each sending a bare pong frame every second; 5 % of them push a load change each second,
 *    measured with the replica writing each push on its own and batched (statusFlushMs);
 *  - baseline, same run: M nodes POST a signed heartbeat every second (today's path).
 * Measured per node-second: the replica's CPU, Redis commands and Redis CPU (INFO commandstats,
 * INFO cpu); memory per connected node (heap + buffers, and RSS, after GC); bytes the replica
 * allocates per node-second of liveness, per load push and per query (V8's sampling heap profiler,
 * garbage included); shortlist p50/p99 inside the replica (its own service call: the timings hold
 * no HTTP client and none of this process's load) while 1 %/s of the nodes reconnect and 5 %/s
 * push load, with the GC pauses in that window, on memory, Redis and a 3-master Redis Cluster,
 * each with V8's default young generation and with the size discovery's launcher sets, side by
 * side. Correctness first: every node must be registered and listed before anything is timed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@redis/client';
import { WebSocket } from 'ws';
import { intFlag, parseCommandArgs } from '../bin/commands/args.js';
import { authorizeNode, generateKeyPair, signHeartbeat, signRegistration } from '../discovery/identity.js';
import type { NodeDescriptor, OperatorAuthorization } from '../protocol/discovery.js';
import { pinProcess } from './lib/pin.js';
import { startRedisCluster, type RedisCluster } from './lib/redisCluster.js';
import { redisAvailable, startRedis } from './lib/redisServer.js';
import { seeded, syntheticNode } from './discovery/synthetic.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { resultsDir, writeResult } from './lib/results.js';
import type { Allocation, QueryWindow, ServerRequest, ServerStats } from './scale/server.js';

/** The young generation compared with V8's default (discovery's `--young-gen-mib`, off by default). */
const OTHER_YOUNG_GEN_MIB = 64;
const HELP = `Usage: npm run bench -- scale [options]

Options:
  --nodes N           node-channel connections (default 8000; each costs two file descriptors here)
  --baseline-nodes M  nodes sending signed HTTP heartbeats (default 300)
  --seconds S         length of each measuring window (default 5; the default run, three
                      backends with two replicas each, takes ~7 minutes on 2 cores)
  --no-redis          memory backend only (no Redis, no cluster)
  --no-cluster        skip the 3-master Redis Cluster
  --young-gen-mib N   semi-space size of each backend's other replica (default ${OTHER_YOUNG_GEN_MIB},
                      what 'edge-offload discovery --young-gen-mib' would set; the first runs
                      with V8's default, discovery's own default)
  --young-first       run that replica before the default one (to tell order from effect)
  --quick             1000 nodes, 100 baseline, 3 s windows
  --queries-only      only the query windows (issue #13's tail): per backend one replica with
                      V8's defaults, queries with the nodes idle (the floor), then under churn;
                      no heartbeat baseline, cost windows or young-generation replica. Writes
                      bench/results/scale-tail.json + .svg instead (-after-first with that flag)
  --before DIR        with --queries-only: also run, side by side on the same Redis and fleet,
                      a replica built from another checkout (DIR is that checkout's compiled
                      output, e.g. a worktree of main after 'npx tsc -p .': DIR/bench/scale/server.js)
  --after-first       with --before: run this build's replica first (to tell order from effect)
  -h, --help          show this help

Run it on an otherwise idle machine. Writes bench/results/scale.json, scale.svg (liveness costs)
and scale-queries.svg (query latency under churn, both young generations).`;

const INTERVAL_MS = 1000;
const TARGET = 210_000;
/** Share of a core (or of a Redis shard) the layout plans to use, leaving room for queries and bursts. */
const PLANNED_UTILISATION = 0.5;

type Backend = 'memory' | 'redis' | 'cluster';
interface Phase {
  nodes: number;
  seconds: number;
  discoveryMicrosPerNodeSecond: number;
  redisCallsPerNodeSecond?: number;
  redisMicrosPerNodeSecond?: number;
  redisCpuMicrosPerNodeSecond?: number;
  redisCommandsPerNodeSecond?: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Replica {
  readonly child: ChildProcess;
  readonly url: Promise<string>;
  #waiters: ((m: any) => void)[] = [];
  /** @param script the replica's entry point: this build's, or (--before) another build's bench/scale/server.js */
  constructor(backend: Backend, store: string | undefined, operator: { name: string; publicKey: string }, v8Flags: string[], script = fileURLToPath(new URL('./scale/server.js', import.meta.url))) {
    // SCALE_CPU_PROF=<dir>: the replica writes a V8 CPU profile there (where query latency goes under churn)
    const prof = process.env.SCALE_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SCALE_CPU_PROF] : [];
    // SCALE_NODE_FLAGS: extra V8/Node flags for the replica (GC experiments)
    const flags = (process.env.SCALE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    this.child = spawn(process.execPath, ['--expose-gc', ...v8Flags, ...flags, ...prof, script, backend, store ?? '-', operator.name, operator.publicKey, String(INTERVAL_MS)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m) => this.#waiters.shift()?.(m));
    // pinned once listening: by then every thread it starts with (V8's GC helpers included) exists
    this.url = new Promise((resolve) => this.#waiters.push((m) => resolve(m.url))).then((url) => {
      if (!pinProcess(this.child.pid!, 0)) throw new Error('could not pin the replica to core 0 (taskset missing, or one core): the timings would not be the replica\'s');
      return url as string;
    });
  }
  ask<T>(request: ServerRequest): Promise<T> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.child.send(request);
    });
  }
  async stats(): Promise<ServerStats> {
    return (await this.ask<{ stats: ServerStats }>({ cmd: 'stats' })).stats;
  }
  async close(): Promise<void> {
    await this.ask({ cmd: 'close' });
  }
}

type RedisInfo = { sendCommand(args: string[]): Promise<unknown> };

/** Sum of Redis command calls and µs (commandstats) and its CPU seconds, over every server (a cluster's masters). */
type Work = { calls: number; usec: number; cpu: number; byCommand: Record<string, number> };
async function redisWork(clients: RedisInfo[] | undefined): Promise<Work | undefined> {
  if (!clients) return undefined;
  let calls = 0;
  let usec = 0;
  let cpu = 0;
  const byCommand: Record<string, number> = {};
  for (const client of clients) {
    const info = String(await client.sendCommand(['INFO', 'all']));
    // commands a script runs are counted too (Redis 7): EVALSHA's redis.call()s show as themselves
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      byCommand[m[1]!] = (byCommand[m[1]!] ?? 0) + Number(m[2]);
      calls += Number(m[2]);
      usec += Number(m[3]);
    }
    cpu += Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  }
  return { calls, usec, cpu, byCommand };
}

/** Pins a Redis server (found by its INFO process_id) next to the load generator. */
async function pinRedis(client: RedisInfo): Promise<void> {
  const pid = Number(/process_id:(\d+)/.exec(String(await client.sendCommand(['INFO', 'server'])))?.[1]);
  if (!pid || !pinProcess(pid, 1)) throw new Error('could not pin Redis to core 1 (taskset missing, or one core)');
}

interface Fleet {
  descriptors: NodeDescriptor[];
  auths: OperatorAuthorization[];
  key: { publicKey: string; privateKeyPem: string };
}

function fleet(count: number, operator: { name: string; privateKeyPem: string }): Fleet {
  const key = generateKeyPair();
  const rand = seeded(7);
  const descriptors: NodeDescriptor[] = [];
  const auths: OperatorAuthorization[] = [];
  for (let i = 0; i < count; i++) {
    const n = syntheticNode(i, rand, 0);
    descriptors.push({ id: n.id, publicKey: key.publicKey, url: n.url.replace('.invalid', '.example'), tier: n.tier, lat: n.lat, lon: n.lon, caps: n.caps, capacity: n.capacity, pricePerMinute: n.pricePerMinute, operator: operator.name });
    auths.push(authorizeNode(operator, n.id, key.publicKey));
  }
  return { descriptors, auths, key };
}

/** Close codes the node channels got from the replica (a correct run has none before the end). */
const closes = new Map<number, number>();

/** Opens one node channel and resolves once it is registered. */
function openChannel(url: string, f: Fleet, i: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace('http', 'ws') + '/v1/node', { perMessageDeflate: false });
    ws.on('error', reject);
    ws.on('close', (code) => closes.set(code, (closes.get(code) ?? 0) + 1));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.t === 'challenge') ws.send(JSON.stringify({ t: 'register', registration: signRegistration(f.descriptors[i]!, f.key.privateKeyPem, f.auths[i]!, Date.now(), m.nonce) }));
      else if (m.t === 'registered') resolve(ws);
      else if (m.t === 'error' && m.seq === undefined) reject(new Error(`node ${i} refused: ${m.code}`));
    });
  });
}

async function inBatches<T>(count: number, batch: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += batch) out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, j) => open(i + j)))));
  return out;
}

/** Bytes allocated per node-second, and the top allocating functions per node-second. */
function perNodeSecondBytes(a: Allocation, nodeSeconds: number): Allocation {
  return { bytes: a.bytes / nodeSeconds, top: a.top.map((t) => ({ fn: t.fn, bytes: t.bytes / nodeSeconds })) };
}

/** Sampling interval of the cost windows: coarse enough to cost the replica nothing measurable. */
const ALLOC_SAMPLING_BYTES = 64 * 1024;

/**
 * `costs` false: only the query window under churn (and the bytes per query), for the second
 * replica of a backend, which differs from the first only in its V8 flags.
 */
async function channelPhase(replica: Replica, url: string, f: Fleet, nodes: number, seconds: number, redis: RedisInfo[] | undefined, costs: boolean, idleFloor = false) {
  const base = await replica.stats();
  const sockets: (WebSocket | undefined)[] = [];
  // a connection that fails while registering is counted and opened again, as NodeAgent
  // reconnects (one socket error in 8,000 must not end the run; all must still register below)
  const failures = new Map<string, number>();
  const open = (i: number) =>
    openChannel(url, f, i).catch((err: Error) => {
      failures.set(err.message, (failures.get(err.message) ?? 0) + 1);
      return undefined;
    });
  const seqs = new Array<number>(nodes).fill(0);
  let pushShare = 0;
  let pushes = 0;
  let paused = false;
  // each node's liveness: a bare pong frame every interval, as NodeAgent sends it. Real nodes'
  // pongs fall anywhere in the second; sending all of them in one burst would measure the burst
  // (queries waiting behind thousands of reads), so each node has its own 10 ms slot
  const SLOTS = INTERVAL_MS / 10;
  const started = performance.now();
  let slot = 0;
  const pongSlot = (s: number) => {
    if (paused) return;
    for (let i = s; i < nodes; i += SLOTS) {
      const ws = sockets[i];
      if (ws === undefined || ws.readyState !== ws.OPEN) continue;
      ws.pong();
      if (Math.random() < pushShare && ++pushes) ws.send(JSON.stringify({ t: 'status', seq: ++seqs[i]!, load: Math.round(Math.random() * 100) / 100, freeCapacity: 4 }));
    }
  };
  // by the clock, not by ticks: a busy generator fires fewer ticks, and each must catch up its slots
  const ponger = setInterval(() => {
    const due = Math.floor((performance.now() - started) / 10);
    for (; slot < due; slot++) pongSlot(slot % SLOTS);
  }, 10);
  // pongs start with the first registration: nodes registered early must not be cut off as silent
  await inBatches(nodes, 200, async (i) => (sockets[i] = await open(i)));
  // a node the replica dropped while it was swamped by the registrations (4404: its entry expired
  // before the first batched refresh) registers again, as NodeAgent does
  let loaded = await replica.stats();
  for (let attempt = 0; attempt < 5 && loaded.channels < nodes; attempt++) {
    for (let i = 0; i < nodes; i++) if (sockets[i]?.readyState !== WebSocket.OPEN) sockets[i] = await open(i);
    await sleep(INTERVAL_MS);
    loaded = await replica.stats();
  }
  if (loaded.channels !== nodes || loaded.nodes.edge + loaded.nodes.cloud !== nodes) throw new Error(`expected ${nodes} registered nodes, the replica holds ${JSON.stringify(loaded)}; channels closed: ${JSON.stringify([...closes])}`);
  await sleep(2 * INTERVAL_MS); // let the first liveness rounds settle
  // window 1: liveness alone (pongs); window 2: 5 % of the nodes also push a load change each
  // second, in their pong slots (how often load changes past the threshold is the workload's)
  const window = async (sampleAllocation = false) => {
    const s0 = await replica.stats();
    const r0 = await redisWork(redis);
    const p0 = pushes;
    if (sampleAllocation) await replica.ask({ cmd: 'allocStart', intervalBytes: ALLOC_SAMPLING_BYTES });
    await sleep(seconds * 1000);
    const allocation = sampleAllocation ? (await replica.ask<{ allocation: Allocation }>({ cmd: 'allocStop' })).allocation : undefined;
    return { ...perNodeSecond(nodes, seconds, s0, await replica.stats(), r0, await redisWork(redis)), pushes: pushes - p0, ...(allocation ? { allocation } : {}) };
  };
  let phase: Record<string, unknown> = {};
  if (costs) {
    const livenessOnly = await window(true);
    pushShare = 0.05;
    // the same pushes written one script per status (as before batching), then batched (the default)
    await replica.ask({ cmd: 'statusFlushMs', ms: 0 });
    const unbatchedPushes = await window();
    await replica.ask({ cmd: 'statusFlushMs', ms: 100 });
    const batched = await window(true);
    const live = livenessOnly.allocation!;
    const allocation = {
      /** Per node-second of liveness alone (a pong each, the liveness round): bytes and top allocators. */
      perNodeSecondOfLiveness: perNodeSecondBytes(live, nodes * seconds),
      /** Per load push (parse, check, batch, ack), beyond liveness. */
      bytesPerStatusPush: (batched.allocation!.bytes - live.bytes) / Math.max(1, batched.pushes),
    };
    delete (livenessOnly as { allocation?: unknown }).allocation;
    delete (batched as { allocation?: unknown }).allocation;
    phase = { ...batched, livenessOnly, unbatchedPushes, allocation };
  }
  // the floor: queries while the nodes are quiet (no pongs, pushes or reconnects). Short: a node
  // silent for the ttl (3 intervals) would be cut off, and its last pong may be an interval old
  let floor: QueryWindow | undefined;
  if (idleFloor) {
    // warm-up, the same client points as the windows: the JIT, and a replica's caches (Redis
    // descriptors) as a replica that has served for a while has them
    await replica.ask({ cmd: 'queries', count: 1000, perSecond: 1000 });
    paused = true;
    await sleep(0.3 * INTERVAL_MS); // the pongs already sent are read and the round's writes done
    floor = (await replica.ask<{ queries: QueryWindow }>({ cmd: 'queries', count: 300, perSecond: 200 })).queries;
    paused = false;
    await sleep(2 * INTERVAL_MS); // every node pongs again before the churn
  }
  pushShare = 0.05;
  // churn: 1 %/s reconnect (a new registration each), 5 %/s push load, while the replica answers queries
  let churning = true;
  const churn = (async () => {
    while (churning) {
      for (let k = 0; k < nodes * 0.01; k++) {
        const i = Math.floor(Math.random() * nodes);
        sockets[i]?.close();
        sockets[i] = await open(i);
        seqs[i] = 0;
      }
      await sleep(1000);
    }
  })();
  const queries = (await replica.ask<{ queries: QueryWindow }>({ cmd: 'queries', count: 200 * seconds, perSecond: 200 })).queries;
  churning = false;
  await churn;
  clearInterval(ponger);
  // bytes per query with the nodes quiet (no pongs, pushes or reconnects to count in, the last
  // liveness round written), well inside the ttl, so every node is still listed
  await sleep(1.2 * INTERVAL_MS);
  const perQuery = (await replica.ask<{ allocation: Allocation }>({ cmd: 'queryAllocation', count: 100 })).allocation;
  for (const ws of sockets) ws?.terminate();
  const memory = {
    heapAndBuffersBytesPerNode: (loaded.heapUsed + loaded.external - base.heapUsed - base.external) / nodes,
    rssBytesPerNode: (loaded.rss - base.rss) / nodes,
  };
  return { ...phase, memory, ...(floor ? { queriesIdle: floor } : {}), queriesUnderChurn: queries, bytesPerQuery: perQuery, channelOpenFailures: Object.fromEntries(failures) };
}

async function heartbeatPhase(replica: Replica, url: string, f: Fleet, nodes: number, seconds: number, redis: RedisInfo[] | undefined): Promise<Phase & { heartbeatsDelivered: number; reregistered: number }> {
  const post = async (path: string, body: unknown): Promise<number> => {
    const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok && res.status !== 404) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    return res.status;
  };
  const register = (i: number) => post('/v1/register', signRegistration(f.descriptors[i]!, f.key.privateKeyPem, f.auths[i]!));
  let reregistered = 0;
  // as NodeAgent does: a node that expired (a slow machine took longer than the ttl to get round to it) registers again
  const beat = async (i: number) => {
    if ((await post('/v1/heartbeat', signHeartbeat(f.descriptors[i]!.id, { load: 0.5, freeCapacity: 4 }, f.key.privateKeyPem))) === 404) {
      reregistered++;
      await register(i);
    }
  };
  await inBatches(nodes, 100, register);
  await inBatches(nodes, 100, beat);
  const s0 = await replica.stats();
  const r0 = await redisWork(redis);
  let delivered = 0;
  for (let s = 0; s < seconds; s++) {
    const started = performance.now();
    await inBatches(nodes, 100, beat);
    delivered += nodes;
    await sleep(Math.max(0, 1000 - (performance.now() - started)));
  }
  const s1 = await replica.stats();
  const r1 = await redisWork(redis);
  return { ...perNodeSecond(nodes, seconds, s0, s1, r0, r1), heartbeatsDelivered: delivered, reregistered };
}

function perNodeSecond(nodes: number, seconds: number, s0: ServerStats, s1: ServerStats, r0?: Work, r1?: Work): Phase {
  const ns = nodes * seconds;
  return {
    nodes,
    seconds,
    discoveryMicrosPerNodeSecond: (s1.cpuMicros - s0.cpuMicros) / ns,
    ...(r0 && r1
      ? {
          redisCommandsPerNodeSecond: Object.fromEntries(Object.keys(r1.byCommand).map((c) => [c, (r1.byCommand[c]! - (r0.byCommand[c] ?? 0)) / ns]).filter(([, v]) => (v as number) > 0)),
          redisCallsPerNodeSecond: (r1.calls - r0.calls) / ns, redisMicrosPerNodeSecond: (r1.usec - r0.usec) / ns, redisCpuMicrosPerNodeSecond: ((r1.cpu - r0.cpu) * 1e6) / ns }
      : {}),
  };
}

/** Replicas and Redis shards for `TARGET` nodes at 1 s liveness, from the measured per-node costs. */
function layout(channel: Phase & { memory: { rssBytesPerNode: number } }) {
  const replicaNodes = Math.floor((PLANNED_UTILISATION * 1e6) / channel.discoveryMicrosPerNodeSecond);
  const replicas = Math.max(2, Math.ceil(TARGET / replicaNodes));
  const redisCpu = channel.redisCpuMicrosPerNodeSecond;
  return {
    nodes: TARGET,
    livenessIntervalMs: INTERVAL_MS,
    plannedUtilisation: PLANNED_UTILISATION,
    nodesPerReplicaCore: replicaNodes,
    replicas,
    discoveryCoresForLiveness: (TARGET * channel.discoveryMicrosPerNodeSecond) / 1e6,
    replicaMemoryMiB: Math.round(((TARGET / replicas) * channel.memory.rssBytesPerNode) / 2 ** 20),
    ...(redisCpu === undefined ? {} : { redisCoresForLiveness: (TARGET * redisCpu) / 1e6, redisShards: Math.max(1, Math.ceil((TARGET * redisCpu) / 1e6 / PLANNED_UTILISATION)) }),
  };
}

/**
 * `--queries-only`: per backend, the idle floor and the churn window of one replica with V8's
 * defaults, and (--before) the same of a replica from another build, side by side.
 */
async function queriesOnly(backends: Backend[], stores: { redis?: RedisInfo; redisProcess?: { url: string }; cluster?: RedisCluster; masters: RedisInfo[] }, operator: { name: string; publicKey: string }, f: Fleet, nodes: number, seconds: number, beforeDir: string | undefined, afterFirst: boolean, env: object): Promise<void> {
  const builds: [string, string | undefined][] = [...(beforeDir ? ([['before', path.resolve(beforeDir, 'bench/scale/server.js')]] as [string, string][]) : []), ['after', undefined]];
  if (afterFirst) builds.reverse();
  const results: Record<string, Record<string, unknown>> = {};
  const cats: string[] = [];
  const series = new Map<string, number[]>(builds.map(([b]) => [b, []]));
  for (const backend of backends) {
    const infos = backend === 'redis' ? [stores.redis!] : backend === 'cluster' ? stores.masters : undefined;
    const store = backend === 'redis' ? stores.redisProcess!.url : backend === 'cluster' ? stores.cluster!.nodes.join(',') : undefined;
    results[backend] = {};
    for (const [build, script] of builds) {
      const replica = new Replica(backend, store, operator, [], script);
      try {
        const p = (await channelPhase(replica, await replica.url, f, nodes, seconds, infos, false, true)) as unknown as { queriesIdle: QueryWindow; queriesUnderChurn: QueryWindow; bytesPerQuery: Allocation };
        results[backend][build] = p;
        console.log(`${backend} ${build}: queries with the nodes idle: ${queryLine(p.queriesIdle)}`);
        console.log(`${backend} ${build}: queries under churn: ${queryLine(p.queriesUnderChurn)}`);
        console.log(`${backend} ${build}: ${p.bytesPerQuery.bytes.toFixed(0)} B allocated per query (top: ${p.bytesPerQuery.top.slice(0, 4).map((t) => `${t.fn} ${t.bytes.toFixed(0)} B`).join('; ')})`);
        series.get(build)!.push(p.queriesIdle.p99, p.queriesUnderChurn.p50, p.queriesUnderChurn.p99, p.queriesUnderChurn.gc.maxMs ?? 0);
      } finally {
        await replica.close();
      }
    }
    cats.push(`${backend} idle p99`, `${backend} churn p50`, `${backend} churn p99`, `${backend} churn max GC`);
  }
  const svg = barChart({ title: `Shortlist latency, ${nodes} channel nodes idle and under churn (1 %/s reconnect, 5 %/s load pushes)`, yLabel: 'ms', categories: cats, series: [...series].map(([name, values]) => ({ name, values })) });
  writeResult(afterFirst ? 'scale-tail-after-first' : 'scale-tail', { environment: env, ...results }, svg);
}

/** One line for a query window: latency, and the GC pauses that fell in it. */
function queryLine(q: QueryWindow): string {
  return `p50 ${q.p50.toFixed(3)} ms, p99 ${q.p99.toFixed(3)} ms (GC in the window: ${q.gc.pauses} pauses, ${JSON.stringify(Object.fromEntries(Object.entries(q.gc.byKind).map(([k, v]) => [k, v.pauses])))}, max ${(q.gc.maxMs ?? 0).toFixed(1)} ms, ${q.gc.totalMsPerSecond.toFixed(1)} ms/s; event-loop delay p99 ${q.eventLoopDelayMs.p99.toFixed(1)} ms; slowest 1 % on CPU ${(100 * q.slowestCpuShare).toFixed(0)} % of their time)`;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { nodes: { type: 'string' }, 'baseline-nodes': { type: 'string' }, seconds: { type: 'string' }, 'no-redis': { type: 'boolean' }, 'no-cluster': { type: 'boolean' }, 'young-gen-mib': { type: 'string' }, 'young-first': { type: 'boolean' }, quick: { type: 'boolean' }, 'queries-only': { type: 'boolean' }, before: { type: 'string' }, 'after-first': { type: 'boolean' } }, HELP);
  if (!args) return;
  const quick = args.values.quick === true;
  const nodes = intFlag(args.values.nodes, '--nodes') ?? (quick ? 1000 : 8000);
  const baselineNodes = intFlag(args.values['baseline-nodes'], '--baseline-nodes') ?? (quick ? 100 : 300);
  const seconds = intFlag(args.values.seconds, '--seconds') ?? (quick ? 3 : 5);
  const youngGenMib = intFlag(args.values['young-gen-mib'], '--young-gen-mib') ?? OTHER_YOUNG_GEN_MIB;
  const youngFlags = [`--max-semi-space-size=${youngGenMib}`];
  const youngFirst = args.values['young-first'] === true;
  const redisOk = !args.values['no-redis'] && redisAvailable();
  const backends: Backend[] = ['memory', ...(redisOk ? (['redis'] as const) : []), ...(redisOk && !args.values['no-cluster'] ? (['cluster'] as const) : [])];
  // the load generator, Redis and the cluster: core 1; the replica alone on core 0
  if (!pinProcess(process.pid, 1)) throw new Error('bench scale pins the replica and the load generator to different cores: it needs taskset and 2 cores');
  const env = environment({ nodes, baselineNodes, seconds, backends, youngGeneration: { default: "V8's", other: youngFlags, order: youngFirst ? 'other first' : 'default first' }, pinning: 'replica alone on core 0; node load generator, Redis and the cluster masters on core 1', ...(args.values['queries-only'] ? { queriesOnly: { before: args.values.before ?? null, order: args.values['after-first'] ? 'after first' : 'before first', queriesPerSecond: 200, idleWindow: '300 queries, nodes silent', churn: '1 %/s reconnect, 5 %/s load pushes, pongs from every node each second in 100 slots of 10 ms' } } : {}) });
  printEnvironment(env);
  const operator = { name: 'bench', ...generateKeyPair() };
  const f = fleet(Math.max(nodes, baselineNodes), operator);
  const redisProcess = backends.includes('redis') ? await startRedis() : undefined;
  const redis = redisProcess ? createClient({ url: redisProcess.url }) : undefined;
  let cluster: RedisCluster | undefined;
  const masters: (RedisInfo & { close(): Promise<unknown> })[] = [];
  const results: Record<string, any> = {};
  try {
    if (redis) {
      await redis.connect();
      await pinRedis(redis);
    }
    if (backends.includes('cluster')) {
      cluster = await startRedisCluster();
      for (const port of cluster.ports) {
        const m = createClient({ url: `redis://127.0.0.1:${port}` });
        await m.connect();
        masters.push(m);
        await pinRedis(m);
      }
    }
    if (args.values['queries-only'] === true) {
      await queriesOnly(backends, { redis, redisProcess, cluster, masters }, operator, f, nodes, seconds, typeof args.values.before === 'string' ? args.values.before : undefined, args.values['after-first'] === true, env);
      return;
    }
    for (const backend of backends) {
      const infos = backend === 'redis' ? [redis!] : backend === 'cluster' ? masters : undefined;
      const store = backend === 'redis' ? redisProcess!.url : backend === 'cluster' ? cluster!.nodes.join(',') : undefined;
      const run = async <T>(flags: string[], phase: (replica: Replica, url: string) => Promise<T>): Promise<T> => {
        const replica = new Replica(backend, store, operator, flags);
        try {
          return await phase(replica, await replica.url);
        } finally {
          await replica.close();
        }
      };
      // the cluster's per-node costs are a single Redis's spread over shards: its baseline adds nothing
      const heartbeat = backend === 'cluster' ? undefined : await run([], (replica, url) => heartbeatPhase(replica, url, f, baselineNodes, seconds, infos));
      // the same churn on a replica with the young generation discovery's launcher sets
      // (discovery/youngGeneration.ts), after the default one or (--young-first) before it
      const youngPhase = () => run(youngFlags, (replica, url) => channelPhase(replica, url, f, nodes, seconds, infos, false));
      const youngBefore = youngFirst ? await youngPhase() : undefined;
      const channel = await run([], (replica, url) => channelPhase(replica, url, f, nodes, seconds, infos, true));
      const young = youngBefore ?? (await youngPhase());
      const c = channel as unknown as Phase & { memory: { rssBytesPerNode: number }; queriesUnderChurn: QueryWindow; bytesPerQuery: Allocation; allocation: { perNodeSecondOfLiveness: Allocation; bytesPerStatusPush: number }; livenessOnly: Phase; unbatchedPushes: Phase };
      const ratio = heartbeat && {
        discoveryCpu: heartbeat.discoveryMicrosPerNodeSecond / c.discoveryMicrosPerNodeSecond,
        ...(c.redisMicrosPerNodeSecond ? { redisCommands: heartbeat.redisCallsPerNodeSecond! / c.redisCallsPerNodeSecond!, redisCpu: heartbeat.redisCpuMicrosPerNodeSecond! / c.redisCpuMicrosPerNodeSecond!, redisCommandMicros: heartbeat.redisMicrosPerNodeSecond! / c.redisMicrosPerNodeSecond } : {}),
      };
      results[backend] = { ...(heartbeat ? { signedHeartbeat: heartbeat } : {}), nodeChannel: channel, youngGeneration: { v8Flags: youngFlags, queriesUnderChurn: young.queriesUnderChurn, bytesPerQuery: young.bytesPerQuery }, ...(ratio ? { heartbeatOverChannel: ratio } : {}), layout: layout(c) };
      if (heartbeat && ratio) console.log(`${backend}: discovery CPU per node-second ${heartbeat.discoveryMicrosPerNodeSecond.toFixed(1)} µs (signed heartbeat, ${baselineNodes} nodes) vs ${c.discoveryMicrosPerNodeSecond.toFixed(2)} µs (node channel, ${nodes} nodes): ${ratio.discoveryCpu.toFixed(1)}×`);
      if (heartbeat && c.redisCallsPerNodeSecond !== undefined) {
        console.log(`${backend}: Redis per node-second ${heartbeat.redisCallsPerNodeSecond!.toFixed(2)} → ${c.redisCallsPerNodeSecond.toFixed(4)} commands, ${heartbeat.redisMicrosPerNodeSecond!.toFixed(1)} → ${c.redisMicrosPerNodeSecond!.toFixed(2)} µs in commands, CPU ${heartbeat.redisCpuMicrosPerNodeSecond!.toFixed(1)} → ${c.redisCpuMicrosPerNodeSecond!.toFixed(2)} µs`);
      }
      const ub = c.unbatchedPushes;
      console.log(`${backend}: load pushes one script each (before batching): discovery ${ub.discoveryMicrosPerNodeSecond.toFixed(2)} µs${ub.redisCallsPerNodeSecond === undefined ? '' : `, Redis ${ub.redisCallsPerNodeSecond.toFixed(4)} commands, CPU ${ub.redisCpuMicrosPerNodeSecond!.toFixed(2)} µs`} per node-second; batched: discovery ${c.discoveryMicrosPerNodeSecond.toFixed(2)} µs${c.redisCpuMicrosPerNodeSecond === undefined ? '' : `, Redis CPU ${c.redisCpuMicrosPerNodeSecond.toFixed(2)} µs`}`);
      const lo = c.livenessOnly;
      console.log(`${backend}: liveness alone (no load pushes): discovery ${lo.discoveryMicrosPerNodeSecond.toFixed(2)} µs${lo.redisCallsPerNodeSecond === undefined ? '' : `, Redis ${lo.redisCallsPerNodeSecond.toFixed(4)} commands, CPU ${lo.redisCpuMicrosPerNodeSecond!.toFixed(2)} µs`} per node-second`);
      const al = c.allocation;
      console.log(`${backend}: allocated ${al.perNodeSecondOfLiveness.bytes.toFixed(0)} B per node-second of liveness (top: ${al.perNodeSecondOfLiveness.top.slice(0, 4).map((t) => `${t.fn} ${t.bytes.toFixed(0)} B`).join('; ')}), ${al.bytesPerStatusPush.toFixed(0)} B per load push, ${c.bytesPerQuery.bytes.toFixed(0)} B per query (top: ${c.bytesPerQuery.top.slice(0, 4).map((t) => `${t.fn} ${t.bytes.toFixed(0)} B`).join('; ')})`);
      console.log(`${backend}: ${(c.memory.rssBytesPerNode / 1024).toFixed(1)} KiB RSS per connected node`);
      for (const [what, p] of [['default', channel], ['young generation', young]] as const) {
        const failed = (p as { channelOpenFailures: Record<string, number> }).channelOpenFailures;
        if (Object.keys(failed).length > 0) console.log(`${backend}: node channels that failed to open and were opened again (${what} replica): ${JSON.stringify(failed)}`);
      }
      console.log(`${backend}: queries under churn, V8 default young generation: ${queryLine(c.queriesUnderChurn)}`);
      console.log(`${backend}: queries under churn, ${youngFlags.join(' ')}: ${queryLine(young.queriesUnderChurn)}`);
      console.log(`${backend}: layout for ${TARGET} nodes at 1 s: ${JSON.stringify(layout(c))}`);
    }
  } finally {
    for (const m of masters) await m.close();
    await cluster?.stop();
    await redis?.close();
    await redisProcess?.stop();
  }
  const withBaseline = backends.filter((b) => results[b].signedHeartbeat);
  const cats = withBaseline.flatMap((b) => [`${b}: discovery CPU`, ...(b === 'redis' ? ['redis: Redis CPU'] : [])]);
  const pick = (phase: 'signedHeartbeat' | 'nodeChannel') =>
    withBaseline.flatMap((b) => {
      const p = results[b][phase] as Phase;
      return [p.discoveryMicrosPerNodeSecond, ...(b === 'redis' ? [p.redisCpuMicrosPerNodeSecond!] : [])];
    });
  const svg = barChart({ title: `Liveness cost per node-second (${nodes} channel nodes, ${baselineNodes} heartbeat nodes)`, yLabel: 'CPU µs per node-second', categories: cats, series: [{ name: 'signed heartbeat', values: pick('signedHeartbeat') }, { name: 'node channel', values: pick('nodeChannel') }] });
  const window = (b: Backend, young: boolean): QueryWindow => (young ? results[b].youngGeneration : results[b].nodeChannel).queriesUnderChurn;
  const querySvg = barChart({
    title: `Shortlist latency under churn, ${nodes} channel nodes (1 %/s reconnect, 5 %/s load pushes)`,
    yLabel: 'ms',
    categories: backends.flatMap((b) => [`${b} p50`, `${b} p99`, `${b} max GC pause`]),
    series: [false, true].map((young) => ({ name: young ? youngFlags.join(' ') : 'V8 default young generation', values: backends.flatMap((b) => [window(b, young).p50, window(b, young).p99, window(b, young).gc.maxMs ?? 0]) })),
  });
  writeResult('scale', { environment: env, ...results }, svg);
  writeFileSync(path.join(resultsDir(), 'scale-queries.svg'), querySvg);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
