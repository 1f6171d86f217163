/**
 * `bench scale`: what liveness costs per node, and the layout for 210,000 nodes at 1 s liveness.
 *
 * A discovery replica runs in its own process (bench/scale/server.ts, pinned to core 0 with Redis);
 * this process (core 1) plays the nodes over real loopback connections:
 *  - node channel: N nodes each hold a /v1/node ws, registered once (signed over the challenge),
 *    each sending a bare pong frame every second; 5 % of them push a load change each second,
 *    measured with the replica writing each push on its own and batched (statusFlushMs);
 *  - baseline, same run: M nodes POST a signed heartbeat every second (today's path).
 * Measured per node-second: the replica's CPU, Redis commands and Redis CPU (INFO commandstats,
 * INFO cpu); memory per connected node (heap + buffers, and RSS, after GC); shortlist p50/p99
 * inside the replica while 1 %/s of the nodes reconnect and 5 %/s push load. Correctness first:
 * every node must be registered and listed before anything is timed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient } from '@redis/client';
import { WebSocket } from 'ws';
import { intFlag, parseCommandArgs } from '../bin/commands/args.js';
import { authorizeNode, generateKeyPair, signHeartbeat, signRegistration } from '../discovery/identity.js';
import type { NodeDescriptor, OperatorAuthorization } from '../protocol/discovery.js';
import { redisAvailable, startRedis } from './lib/redisServer.js';
import { seeded, syntheticNode } from './discovery/synthetic.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import type { QueryWindow, ServerRequest, ServerStats } from './scale/server.js';

const HELP = `Usage: npm run bench -- scale [options]

Options:
  --nodes N           node-channel connections (default 8000; each costs two file descriptors here)
  --baseline-nodes M  nodes sending signed HTTP heartbeats (default 1000)
  --seconds S         length of each measuring window (default 10)
  --no-redis          memory backend only
  --quick             1000 nodes, 300 baseline, 4 s windows
  -h, --help          show this help

Run it on an otherwise idle machine. Writes bench/results/scale.json and scale.svg.`;

const INTERVAL_MS = 1000;
const TARGET = 210_000;
/** Share of a core (or of a Redis shard) the layout plans to use, leaving room for queries and bursts. */
const PLANNED_UTILISATION = 0.5;

type Backend = 'memory' | 'redis';
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
  constructor(backend: Backend, redisUrl: string | undefined, operator: { name: string; publicKey: string }) {
    const script = fileURLToPath(new URL('./scale/server.js', import.meta.url));
    // SCALE_CPU_PROF=<dir>: the replica writes a V8 CPU profile there (where query latency goes under churn)
    const prof = process.env.SCALE_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SCALE_CPU_PROF] : [];
    // SCALE_NODE_FLAGS: extra V8/Node flags for the replica (GC experiments)
    const flags = (process.env.SCALE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    this.child = spawn('taskset', ['-c', '0', process.execPath, '--expose-gc', ...flags, ...prof, script, backend, redisUrl ?? '-', operator.name, operator.publicKey, String(INTERVAL_MS)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m) => this.#waiters.shift()?.(m));
    this.url = new Promise((resolve) => this.#waiters.push((m) => resolve(m.url)));
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

/** Sum of Redis command calls and µs (commandstats) and its CPU seconds. */
type Work = { calls: number; usec: number; cpu: number; byCommand: Record<string, number> };
async function redisWork(client: RedisInfo | undefined): Promise<Work | undefined> {
  if (!client) return undefined;
  const info = String(await client.sendCommand(['INFO', 'all']));
  let calls = 0;
  let usec = 0;
  const byCommand: Record<string, number> = {};
  // commands a script runs are counted too (Redis 7): EVALSHA's redis.call()s show as themselves
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    byCommand[m[1]!] = Number(m[2]);
    calls += Number(m[2]);
    usec += Number(m[3]);
  }
  const cpu = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  return { calls, usec, cpu, byCommand };
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

async function channelPhase(replica: Replica, url: string, f: Fleet, nodes: number, seconds: number, redis: RedisInfo | undefined) {
  const base = await replica.stats();
  const sockets: WebSocket[] = [];
  const seqs = new Array<number>(nodes).fill(0);
  let pushShare = 0;
  // each node's liveness: a bare pong frame every interval, as NodeAgent sends it. Real nodes'
  // pongs fall anywhere in the second; sending all of them in one burst would measure the burst
  // (queries waiting behind thousands of reads), so each node has its own 10 ms slot
  const SLOTS = INTERVAL_MS / 10;
  const started = performance.now();
  let slot = 0;
  const pongSlot = (s: number) => {
    for (let i = s; i < nodes; i += SLOTS) {
      const ws = sockets[i];
      if (ws === undefined || ws.readyState !== ws.OPEN) continue;
      ws.pong();
      if (Math.random() < pushShare) ws.send(JSON.stringify({ t: 'status', seq: ++seqs[i]!, load: Math.round(Math.random() * 100) / 100, freeCapacity: 4 }));
    }
  };
  // by the clock, not by ticks: a busy generator fires fewer ticks, and each must catch up its slots
  const ponger = setInterval(() => {
    const due = Math.floor((performance.now() - started) / 10);
    for (; slot < due; slot++) pongSlot(slot % SLOTS);
  }, 10);
  // pongs start with the first registration: nodes registered early must not be cut off as silent
  await inBatches(nodes, 200, async (i) => (sockets[i] = await openChannel(url, f, i)));
  // a node the replica dropped while it was swamped by the registrations (4404: its entry expired
  // before the first batched refresh) registers again, as NodeAgent does
  let loaded = await replica.stats();
  for (let attempt = 0; attempt < 5 && loaded.channels < nodes; attempt++) {
    for (let i = 0; i < nodes; i++) if (sockets[i]!.readyState !== WebSocket.OPEN) sockets[i] = await openChannel(url, f, i);
    await sleep(INTERVAL_MS);
    loaded = await replica.stats();
  }
  if (loaded.channels !== nodes || loaded.nodes.edge + loaded.nodes.cloud !== nodes) throw new Error(`expected ${nodes} registered nodes, the replica holds ${JSON.stringify(loaded)}; channels closed: ${JSON.stringify([...closes])}`);
  await sleep(2 * INTERVAL_MS); // let the first liveness rounds settle
  // window 1: liveness alone (pongs); window 2: 5 % of the nodes also push a load change each
  // second, in their pong slots (how often load changes past the threshold is the workload's)
  const window = async () => {
    const s0 = await replica.stats();
    const r0 = await redisWork(redis);
    await sleep(seconds * 1000);
    return perNodeSecond(nodes, seconds, s0, await replica.stats(), r0, await redisWork(redis));
  };
  const livenessOnly = await window();
  pushShare = 0.05;
  // the same pushes written one script per status (as before batching), then batched (the default)
  await replica.ask({ cmd: 'statusFlushMs', ms: 0 });
  const unbatchedPushes = await window();
  await replica.ask({ cmd: 'statusFlushMs', ms: 100 });
  const phase = { ...(await window()), livenessOnly, unbatchedPushes };
  // churn: 1 %/s reconnect (a new registration each), 5 %/s push load, while the replica answers queries
  let churning = true;
  const churn = (async () => {
    while (churning) {
      for (let k = 0; k < nodes * 0.01; k++) {
        const i = Math.floor(Math.random() * nodes);
        sockets[i]!.close();
        sockets[i] = await openChannel(url, f, i);
        seqs[i] = 0;
      }
      await sleep(1000);
    }
  })();
  const queryWindow = async () => (await replica.ask<{ queries: QueryWindow }>({ cmd: 'queries', count: 200 * seconds, perSecond: 200 })).queries;
  const queries = await queryWindow();
  // Redis: the same churn with searches on a connection of their own (queryConnection), not
  // behind the liveness and status batches on the shared one
  let queriesOwnConnection: QueryWindow | undefined;
  if (redis) {
    await replica.ask({ cmd: 'separateQueries', on: true });
    queriesOwnConnection = await queryWindow();
    await replica.ask({ cmd: 'separateQueries', on: false });
  }
  churning = false;
  await churn;
  clearInterval(ponger);
  for (const ws of sockets) ws.terminate();
  const memory = {
    heapAndBuffersBytesPerNode: (loaded.heapUsed + loaded.external - base.heapUsed - base.external) / nodes,
    rssBytesPerNode: (loaded.rss - base.rss) / nodes,
  };
  return { ...phase, memory, queriesUnderChurn: queries, ...(queriesOwnConnection ? { queriesUnderChurnOwnConnection: queriesOwnConnection } : {}) };
}

async function heartbeatPhase(replica: Replica, url: string, f: Fleet, nodes: number, seconds: number, redis: RedisInfo | undefined): Promise<Phase & { heartbeatsDelivered: number; reregistered: number }> {
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

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { nodes: { type: 'string' }, 'baseline-nodes': { type: 'string' }, seconds: { type: 'string' }, 'no-redis': { type: 'boolean' }, quick: { type: 'boolean' } }, HELP);
  if (!args) return;
  const quick = args.values.quick === true;
  const nodes = intFlag(args.values.nodes, '--nodes') ?? (quick ? 1000 : 8000);
  const baselineNodes = intFlag(args.values['baseline-nodes'], '--baseline-nodes') ?? (quick ? 300 : 1000);
  const seconds = intFlag(args.values.seconds, '--seconds') ?? (quick ? 4 : 10);
  const backends: Backend[] = args.values['no-redis'] || !redisAvailable() ? ['memory'] : ['memory', 'redis'];
  spawnSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' }); // the load generator: core 1
  const env = environment({ nodes, baselineNodes, seconds, backends, pinning: 'replica + Redis on core 0, node load generator on core 1' });
  printEnvironment(env);
  const operator = { name: 'bench', ...generateKeyPair() };
  const f = fleet(Math.max(nodes, baselineNodes), operator);
  const redisProcess = backends.includes('redis') ? await startRedis() : undefined;
  const redis = redisProcess ? createClient({ url: redisProcess.url }) : undefined;
  await redis?.connect();
  if (redis) {
    const pid = /process_id:(\d+)/.exec(String(await redis.sendCommand(['INFO', 'server'])))?.[1];
    if (pid) spawnSync('taskset', ['-cp', '0', pid], { stdio: 'ignore' });
  }
  const results: Record<string, unknown> = {};
  try {
    for (const backend of backends) {
      const client = backend === 'redis' ? redis : undefined;
      const run = async <T>(phase: (replica: Replica, url: string) => Promise<T>): Promise<T> => {
        const replica = new Replica(backend, redisProcess?.url, operator);
        try {
          return await phase(replica, await replica.url);
        } finally {
          await replica.close();
        }
      };
      const heartbeat = await run((replica, url) => heartbeatPhase(replica, url, f, baselineNodes, seconds, client));
      const channel = await run((replica, url) => channelPhase(replica, url, f, nodes, seconds, client));
      const ratio = {
        discoveryCpu: heartbeat.discoveryMicrosPerNodeSecond / channel.discoveryMicrosPerNodeSecond,
        ...(channel.redisMicrosPerNodeSecond ? { redisCommands: heartbeat.redisCallsPerNodeSecond! / channel.redisCallsPerNodeSecond!, redisCpu: heartbeat.redisCpuMicrosPerNodeSecond! / channel.redisCpuMicrosPerNodeSecond!, redisCommandMicros: heartbeat.redisMicrosPerNodeSecond! / channel.redisMicrosPerNodeSecond } : {}),
      };
      results[backend] = { signedHeartbeat: heartbeat, nodeChannel: channel, heartbeatOverChannel: ratio, layout: layout(channel) };
      console.log(`${backend}: discovery CPU per node-second ${heartbeat.discoveryMicrosPerNodeSecond.toFixed(1)} µs (signed heartbeat, ${baselineNodes} nodes) vs ${channel.discoveryMicrosPerNodeSecond.toFixed(2)} µs (node channel, ${nodes} nodes): ${ratio.discoveryCpu.toFixed(1)}×`);
      if (channel.redisCallsPerNodeSecond !== undefined) {
        console.log(`${backend}: Redis per node-second ${heartbeat.redisCallsPerNodeSecond!.toFixed(2)} → ${channel.redisCallsPerNodeSecond.toFixed(4)} commands, ${heartbeat.redisMicrosPerNodeSecond!.toFixed(1)} → ${channel.redisMicrosPerNodeSecond!.toFixed(2)} µs in commands, CPU ${heartbeat.redisCpuMicrosPerNodeSecond!.toFixed(1)} → ${channel.redisCpuMicrosPerNodeSecond!.toFixed(2)} µs`);
      }
      const ub = channel.unbatchedPushes;
      console.log(`${backend}: load pushes one script each (before batching): discovery ${ub.discoveryMicrosPerNodeSecond.toFixed(2)} µs${ub.redisCallsPerNodeSecond === undefined ? '' : `, Redis ${ub.redisCallsPerNodeSecond.toFixed(4)} commands, CPU ${ub.redisCpuMicrosPerNodeSecond!.toFixed(2)} µs (signed heartbeat over it: ${(heartbeat.redisCpuMicrosPerNodeSecond! / ub.redisCpuMicrosPerNodeSecond!).toFixed(1)}×)`} per node-second`);
      const lo = channel.livenessOnly;
      console.log(`${backend}: liveness alone (no load pushes): discovery ${lo.discoveryMicrosPerNodeSecond.toFixed(2)} µs${lo.redisCallsPerNodeSecond === undefined ? '' : `, Redis ${lo.redisCallsPerNodeSecond.toFixed(4)} commands, CPU ${lo.redisCpuMicrosPerNodeSecond!.toFixed(2)} µs`} per node-second`);
      console.log(`${backend}: ${(channel.memory.rssBytesPerNode / 1024).toFixed(1)} KiB RSS per connected node; queries under churn p50 ${channel.queriesUnderChurn.p50.toFixed(3)} ms, p99 ${channel.queriesUnderChurn.p99.toFixed(3)} ms (event-loop delay p99 ${channel.queriesUnderChurn.eventLoopDelayMs.p99.toFixed(1)} ms, max ${channel.queriesUnderChurn.eventLoopDelayMs.max.toFixed(1)}; GC ${channel.queriesUnderChurn.gc.totalMsPerSecond.toFixed(1)} ms/s, max pause ${(channel.queriesUnderChurn.gc.maxMs ?? 0).toFixed(1)} ms; slowest 1 % on CPU ${(100 * channel.queriesUnderChurn.slowestCpuShare).toFixed(0)} % of their time)`);
      const own = (channel as { queriesUnderChurnOwnConnection?: QueryWindow }).queriesUnderChurnOwnConnection;
      if (own) console.log(`${backend}: same churn, searches on a connection of their own (queryConnection): p50 ${own.p50.toFixed(3)} ms, p99 ${own.p99.toFixed(3)} ms (shared, the default: p99 ${channel.queriesUnderChurn.p99.toFixed(3)} ms)`);
      console.log(`${backend}: layout for ${TARGET} nodes at 1 s: ${JSON.stringify(layout(channel))}`);
    }
  } finally {
    await redis?.close();
    await redisProcess?.stop();
  }
  const cats = backends.flatMap((b) => [`${b}: discovery CPU`, ...(b === 'redis' ? ['redis: Redis CPU'] : [])]);
  const pick = (phase: 'signedHeartbeat' | 'nodeChannel') =>
    backends.flatMap((b) => {
      const p = (results[b] as Record<string, Phase>)[phase]!;
      return [p.discoveryMicrosPerNodeSecond, ...(b === 'redis' ? [p.redisCpuMicrosPerNodeSecond!] : [])];
    });
  const svg = barChart({ title: `Liveness cost per node-second (${nodes} channel nodes, ${baselineNodes} heartbeat nodes)`, yLabel: 'CPU µs per node-second', categories: cats, series: [{ name: 'signed heartbeat', values: pick('signedHeartbeat') }, { name: 'node channel', values: pick('nodeChannel') }] });
  writeResult('scale', { environment: env, ...results }, svg);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
