/**
 * `bench scale`: the measured windows — a node-channel phase (costs, memory, bytes per query, queries
 * idle and under churn), the signed-heartbeat baseline, and `--queries-only`.
 */
import path from 'node:path';
import { WebSocket } from 'ws';
import { signHeartbeat, signRegistration } from '../../discovery/identity.js';
import type { RedisCluster } from '../lib/redisCluster.js';
import { barChart } from '../lib/chart.js';
import { writeResult } from '../lib/results.js';
import type { Allocation, QueryWindow } from './server.js';
import { INTERVAL_MS, sleep, Replica, redisWork, perNodeSecond, type Backend, type NodeChannelMode, type Phase, type RedisInfo } from './replica.js';
import { closes, openChannel, inBatches, type Fleet } from './fleet.js';
import { redisWindow, redisWindowLine, type RedisWindow } from './redisWindow.js';

/** Bytes allocated per node-second, and the top allocating functions per node-second. */
export function perNodeSecondBytes(a: Allocation, nodeSeconds: number): Allocation {
  return { bytes: a.bytes / nodeSeconds, top: a.top.map((t) => ({ fn: t.fn, bytes: t.bytes / nodeSeconds })) };
}

/** Sampling interval of the cost windows: coarse enough to cost the replica nothing measurable. */
export const ALLOC_SAMPLING_BYTES = 64 * 1024;

/** What a channel phase measures besides its costs and the query window under churn. */
export interface PhaseExtras {
  /** Queries with the nodes silent first (the floor the churn window is read against). */
  idleFloor?: boolean;
  /** Backend-specific measurements with the nodes quiet and still listed (the cluster's fan-out). */
  quiet?: (replica: Replica, pongAll: () => void) => Promise<Record<string, unknown>>;
  /** A single Redis: what it did in each query window (redisWindow), beside the window's latency. */
  redis?: RedisInfo;
  /** That Redis's process id (its main thread's schedstat in each window). */
  redisPid?: number;
}

/**
 * `costs` false: only the query window under churn (and the bytes per query), for the second
 * replica of a backend, which differs from the first only in its V8 flags.
 */
export async function channelPhase(replica: Replica, url: string, f: Fleet, nodes: number, seconds: number, redis: RedisInfo[] | undefined, costs: boolean, extras: PhaseExtras = {}) {
  const base = await replica.stats();
  const closesBefore = new Map(closes);
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
  let floorRedis: RedisWindow | undefined;
  const pids = { ...(extras.redisPid ? { redis: extras.redisPid } : {}), ...(replica.child.pid ? { replica: replica.child.pid } : {}) };
  if (extras.idleFloor) {
    // warm-up, the same client points as the windows: the JIT, and a replica's caches (Redis
    // descriptors) as a replica that has served for a while has them
    await replica.ask({ cmd: 'queries', count: 1000, perSecond: 1000 });
    paused = true;
    await sleep(0.3 * INTERVAL_MS); // the pongs already sent are read and the round's writes done
    ({ result: floor, redis: floorRedis } = await redisWindow(extras.redis, 300, pids, async () => (await replica.ask<{ queries: QueryWindow }>({ cmd: 'queries', count: 300, perSecond: 200 })).queries));
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
  const { result: queries, redis: churnRedis } = await redisWindow(extras.redis, 200 * seconds, pids, async () => (await replica.ask<{ queries: QueryWindow }>({ cmd: 'queries', count: 200 * seconds, perSecond: 200 })).queries);
  churning = false;
  await churn;
  // every node must still be registered at the end. Channels the replica closed while it was
  // measured (4404: the registry lost the node, e.g. it expired between two liveness rounds; 4408:
  // cut off as silent) are the product's answer to that load, so they are counted in the result,
  // then opened again as NodeAgent does, and the run fails if the replica cannot hold them all
  const closedByReplica = Object.fromEntries([...closes].filter(([code]) => code >= 4000).map(([code, n]) => [code, n - (closesBefore.get(code) ?? 0)]).filter(([, n]) => (n ?? 0) > 0));
  let reopened = 0;
  let end = await replica.stats();
  for (let attempt = 0; attempt < 5 && (end.channels !== nodes || end.nodes.edge + end.nodes.cloud !== nodes); attempt++) {
    for (let i = 0; i < nodes; i++) {
      if (sockets[i]?.readyState === WebSocket.OPEN) continue;
      sockets[i] = await open(i);
      seqs[i] = 0;
      reopened++;
    }
    await sleep(INTERVAL_MS);
    end = await replica.stats();
  }
  if (end.channels !== nodes || end.nodes.edge + end.nodes.cloud !== nodes) throw new Error(`expected ${nodes} registered nodes at the end, the replica holds ${JSON.stringify(end)}; closed by the replica while measured: ${JSON.stringify(closedByReplica)}`);
  clearInterval(ponger);
  // bytes per query with the nodes quiet (no pongs, pushes or reconnects to count in, the last
  // liveness round written), well inside the ttl, so every node is still listed
  await sleep(1.2 * INTERVAL_MS);
  const perQuery = (await replica.ask<{ allocation: Allocation }>({ cmd: 'queryAllocation', count: 100 })).allocation;
  // backend-specific measurements with the nodes quiet and still listed (the cluster's fan-out)
  const extra = extras.quiet ? await extras.quiet(replica, () => { for (const ws of sockets) if (ws?.readyState === WebSocket.OPEN) ws.pong(); }) : {};
  for (const ws of sockets) ws?.terminate();
  const memory = {
    heapAndBuffersBytesPerNode: (loaded.heapUsed + loaded.external - base.heapUsed - base.external) / nodes,
    rssBytesPerNode: (loaded.rss - base.rss) / nodes,
  };
  return { ...phase, memory, ...(floor ? { queriesIdle: floor } : {}), queriesUnderChurn: queries, ...(floorRedis ? { redisIdle: floorRedis } : {}), ...(churnRedis ? { redisUnderChurn: churnRedis } : {}), bytesPerQuery: perQuery, channelOpenFailures: Object.fromEntries(failures), closedByReplica, reopenedAtEnd: reopened, ...extra };
}

export async function heartbeatPhase(replica: Replica, url: string, f: Fleet, nodes: number, seconds: number, redis: RedisInfo[] | undefined): Promise<Phase & { heartbeatsDelivered: number; reregistered: number }> {
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

/**
 * `--queries-only`: per backend, the idle floor and the churn window of one replica with V8's
 * defaults, and (--before) the same of a replica from another build, side by side.
 */
export async function queriesOnly(backends: Backend[], stores: { redis?: RedisInfo; redisPid?: number; redisProcess?: { url: string }; cluster?: RedisCluster; masters: RedisInfo[] }, operator: { name: string; publicKey: string }, f: Fleet, nodes: number, seconds: number, beforeDir: string | undefined, afterFirst: boolean, env: object, modes: NodeChannelMode[] = ['inline'], out?: string, variant?: { label: string; flags: string[] }): Promise<void> {
  // each build once more with V8 flags (--replica-gc: what discovery's launcher would start it with)
  const plain: [string, string | undefined][] = [...(beforeDir ? ([['before', path.resolve(beforeDir, 'bench/scale/server.js')]] as [string, string][]) : []), ['after', undefined]];
  const builds0: [string, string | undefined, string[]][] = plain.flatMap(([b, script]): [string, string | undefined, string[]][] => [[b, script, []], ...(variant ? ([[`${b} ${variant.label}`, script, variant.flags]] as [string, string | undefined, string[]][]) : [])]);
  if (afterFirst) builds0.reverse();
  // each build with each node-channel mode (--node-channels inline,process), named by what differs
  const builds: [string, string | undefined, NodeChannelMode, string[]][] = builds0.flatMap(([b, script, flags]) => modes.map((m): [string, string | undefined, NodeChannelMode, string[]] => [modes.length === 1 ? b : builds0.length === 1 ? m : `${b} ${m}`, script, m, flags]));
  const results: Record<string, Record<string, unknown>> = {};
  const cats: string[] = [];
  const series = new Map<string, number[]>(builds.map(([b]) => [b, []]));
  for (const backend of backends) {
    const infos = backend === 'redis' ? [stores.redis!] : backend === 'cluster' ? stores.masters : undefined;
    const store = backend === 'redis' ? stores.redisProcess!.url : backend === 'cluster' ? stores.cluster!.nodes.join(',') : undefined;
    results[backend] = {};
    for (const [build, script, mode, flags] of builds) {
      const replica = new Replica(backend, store, operator, flags, script, mode);
      try {
        const p = (await channelPhase(replica, await replica.url, f, nodes, seconds, infos, false, { idleFloor: true, ...(backend === 'redis' ? { redis: stores.redis, ...(stores.redisPid ? { redisPid: stores.redisPid } : {}) } : {}) })) as unknown as { queriesIdle: QueryWindow; queriesUnderChurn: QueryWindow; bytesPerQuery: Allocation; redisIdle?: RedisWindow; redisUnderChurn?: RedisWindow };
        results[backend][build] = p;
        console.log(`${backend} ${build}: queries with the nodes idle: ${queryLine(p.queriesIdle)}`);
        console.log(`${backend} ${build}: queries under churn: ${queryLine(p.queriesUnderChurn)}`);
        for (const [what, w] of [['nodes idle', p.redisIdle], ['churn', p.redisUnderChurn]] as const) {
          if (!w) continue;
          console.log(`${backend} ${build}: Redis in the ${what} window: ${redisWindowLine(w, what === 'nodes idle' ? 300 : 200 * seconds)}`);
        }
        console.log(`${backend} ${build}: ${p.bytesPerQuery.bytes.toFixed(0)} B allocated per query (top: ${p.bytesPerQuery.top.slice(0, 4).map((t) => `${t.fn} ${t.bytes.toFixed(0)} B`).join('; ')})`);
        series.get(build)!.push(p.queriesIdle.p99, p.queriesUnderChurn.p50, p.queriesUnderChurn.p99, p.queriesUnderChurn.gc.maxMs ?? 0);
      } finally {
        await replica.close();
      }
    }
    cats.push(`${backend} idle p99`, `${backend} churn p50`, `${backend} churn p99`, `${backend} churn max GC`);
  }
  const svg = barChart({ title: `Shortlist latency, ${nodes} channel nodes idle and under churn (1 %/s reconnect, 5 %/s load pushes)`, yLabel: 'ms', categories: cats, series: [...series].map(([name, values]) => ({ name, values })) });
  writeResult(out ?? (afterFirst ? 'scale-tail-after-first' : 'scale-tail'), { environment: env, ...results }, svg);
}

/** One line for a query window: latency, and the GC pauses that fell in it. */
export function queryLine(q: QueryWindow): string {
  return `p50 ${q.p50.toFixed(3)} ms, p99 ${q.p99.toFixed(3)} ms (GC in the window: ${q.gc.pauses} pauses, ${JSON.stringify(Object.fromEntries(Object.entries(q.gc.byKind).map(([k, v]) => [k, v.pauses])))}, max ${(q.gc.maxMs ?? 0).toFixed(1)} ms, ${q.gc.totalMsPerSecond.toFixed(1)} ms/s; event-loop delay p99 ${q.eventLoopDelayMs.p99.toFixed(1)} ms; slowest 1 % on CPU ${(100 * q.slowestCpuShare).toFixed(0)} % of their time${q.slowest ? `, in a GC pause ${q.slowest.filter((s) => s.gcMs > 0).length} of ${q.slowest.length} (ms/GC ms${q.slowest[0]?.mainCpuMs === undefined ? '' : '/main thread on CPU ms/main thread waiting ms'}: ${q.slowest.map((s) => [s.ms, s.gcMs, ...(s.mainCpuMs === undefined ? [] : [s.mainCpuMs, s.mainWaitMs!])].map((x) => x.toFixed(1)).join('/')).join(' ')})` : ''}${q.threadShare ? `; threads: main ${(100 * q.threadShare.main).toFixed(0)} %, others ${(100 * q.threadShare.others).toFixed(0)} % of a core` : ''}${q.cpuShare ? `; CPU: query process ${(100 * q.cpuShare.queryProcess).toFixed(0)} %, channel process ${(100 * q.cpuShare.channelProcess).toFixed(0)} % of a core` : ''})${q.tailSplit ? `; slowest 1 % (median of ${q.tailSplit.slowest.queries}): ${splitLine(q.tailSplit.slowest)}; all: ${splitLine(q.tailSplit.all)}` : ''}${q.coreHolders ? `; who held core 0 while the query thread waited (kernel trace, mean ms a query), slowest 1 %: ${holdersLine(q.coreHolders.slowest)}; all: ${holdersLine(q.coreHolders.all)}` : ''}`;
}

function holdersLine(c: NonNullable<QueryWindow['coreHolders']>['slowest']): string {
  return `waited ${c.waitedMs} (${Object.entries(c.holders).map(([who, ms]) => `${who} ${ms}`).join(', ') || 'nobody'}; ${c.preempted} of the waits began with a preemption)`;
}

function splitLine(s: NonNullable<QueryWindow['tailSplit']>['slowest']): string {
  return `${s.tookMs} ms = query thread on CPU ${s.queryCpuMs} + waiting for a core ${s.queryWaitingForCoreMs}, Redis on CPU ${s.redisCpuMs} + waiting for a core ${s.redisWaitingForCoreMs}, other ${s.otherMs}`;
}
