/**
 * The discovery replica of `bench scale`, in its own process (pinned to its own core by the
 * driver): a DiscoveryServer on loopback over a memory or Redis registry. The driver asks it over
 * IPC for its CPU and memory, and to run shortlist queries while the driver's nodes churn.
 *
 * argv: <backend memory|redis|cluster> <redis url, cluster seeds host:port,… or -> <operator name> <operator public key> <heartbeat ms> [node channels inline|process]
 */
import { readdirSync } from 'node:fs';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { DiscoveryServer } from '../../discovery/DiscoveryServer.js';
import { ChannelProcess } from '../../discovery/channels/ChannelProcess.js';
import { MemoryRegistry } from '../../discovery/registry/MemoryRegistry.js';
import { RedisClusterRegistry } from '../../discovery/registry/RedisClusterRegistry.js';
import { RedisRegistry } from '../../discovery/registry/RedisRegistry.js';
import { TrustedOperators } from '../../discovery/trust.js';
import { clientPoints } from '../discovery/synthetic.js';
import { summarize } from '../lib/stats.js';
import { SchedReader, schedTimes, type SchedTimes } from '../lib/schedstat.js';
import { SchedTrace } from './schedTrace.js';
import { replicaBusyPollMs, settleReplicaThreads } from '../../discovery/gcThreads.js';
import { queryThreadMode, settleQueryThread } from '../../discovery/queryThread.js';

export type ServerRequest =
  | { cmd: 'stats' }
  | { cmd: 'queries'; count: number; perSecond: number }
  | { cmd: 'queryAllocation'; count: number }
  | { cmd: 'allocStart'; intervalBytes: number }
  | { cmd: 'allocStop' }
  | { cmd: 'statusFlushMs'; ms: number }
  | { cmd: 'fanOutWave'; wave: number | null }
  | { cmd: 'shortlist'; lat: number; lon: number }
  | { cmd: 'close' };
/** Bytes allocated (garbage included) in a sampled stretch, and the functions that allocated most of them. */
export interface Allocation {
  bytes: number;
  top: { fn: string; bytes: number }[];
}
export interface ServerStats {
  /** The replica's CPU, its channel process's included. */
  cpuMicros: number;
  /** Of which the channel process's (0 inline). */
  channelCpuMicros: number;
  heapUsed: number;
  rss: number;
  external: number;
  channels: number;
  nodes: { edge: number; cloud: number };
}

const GC_KINDS: Record<number, string> = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };

export type QueryWindow = Awaited<ReturnType<typeof queries>>;

/** This process's threads' CPU time, ns: the main thread's, and every other thread's together. */
function threadsRunNs(): { main: number; others: number } {
  let main = 0;
  let others = 0;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const run = schedTimes(process.pid, Number(tid))?.cpuNs ?? 0;
      if (Number(tid) === process.pid) main += run;
      else others += run;
    }
  } catch {
    // not Linux
  }
  return { main, others };
}

const [backend, redisUrl, operator, operatorKey, heartbeatMs, nodeChannels] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
// as `edge-offload discovery` sets it by default (--busy-poll-ms auto): on for a replica started
// single-threaded (the --replica-gc variants), off otherwise
const busyPollMs = replicaBusyPollMs(undefined);
const registry =
  backend === 'redis'
    ? await RedisRegistry.connect({ url: redisUrl!, heartbeatIntervalMs: Number(heartbeatMs), prefix: 'scale:', busyPollMs })
    : backend === 'cluster'
      ? await RedisClusterRegistry.connect({ nodes: redisUrl!.split(','), heartbeatIntervalMs: Number(heartbeatMs), prefix: 'scale:', busyPollMs })
      : new MemoryRegistry({ heartbeatIntervalMs: Number(heartbeatMs) });
if (!(registry instanceof MemoryRegistry)) await registry.flush();
const many = { ratePerSecond: 1e6, burst: 1e6 };
const server = new DiscoveryServer({
  registry,
  operators: new TrustedOperators([{ name: operator!, publicKey: operatorKey! }]),
  rateLimits: { register: many, heartbeat: many, query: many, report: many },
  subnetRateLimits: { register: many, heartbeat: many, query: many, report: many },
  identityRateLimits: { register: many, heartbeat: many, report: many },
  // every simulated node connects from 127.0.0.1: the per-address cap (1024 by default) would
  // refuse all but the first thousand ("socket hang up" in the driver)
  connections: { maxConnectionsPerIp: 1_000_000, maxConnections: 1_000_000 },
  nodeChannelProcess: nodeChannels === 'process' ? 'process' : 'inline',
});
const channelProcess = server.nodeChannels instanceof ChannelProcess ? server.nodeChannels : undefined;
/** The channel process's CPU so far, µs (0 inline). */
const channelCpu = async () => (channelProcess ? (await channelProcess.usage()).cpuMicros : 0);
const { url } = await server.listen();
// as `edge-offload discovery` does once it listens: a single-threaded replica's helpers reniced,
// and its query thread in SCHED_FIFO (--query-thread auto), following its channel process
settleReplicaThreads();
const queryThread = settleQueryThread(queryThreadMode(undefined), server.nodeChannels);

async function stats(): Promise<ServerStats> {
  // CPU before the collections below: they are the bench's, not the replica's
  const cpu = process.cpuUsage();
  const child = channelProcess ? await channelProcess.usage() : undefined;
  gc?.();
  gc?.();
  const mem = process.memoryUsage();
  // memory per node counts the channel process's too: the sockets and their buffers live there
  return { cpuMicros: cpu.user + cpu.system + (child?.cpuMicros ?? 0), channelCpuMicros: child?.cpuMicros ?? 0, heapUsed: mem.heapUsed + (child?.heapUsed ?? 0), rss: mem.rss + (child?.rss ?? 0), external: mem.external + mem.arrayBuffers + (child?.external ?? 0), channels: await server.nodeChannels.count(), nodes: await registry.count() };
}

/**
 * Shortlists at a steady rate (what a replica serves while its nodes churn); latency of each, ms.
 * Also where the tail comes from: the event loop's delay over the window (a query waits behind
 * whatever holds the loop: registrations, liveness rounds, pong bursts) and the GC pauses in it.
 */
async function queries(count: number, perSecond: number) {
  const points = clientPoints(count, 99);
  const samples: number[] = [];
  const starts: number[] = [];
  const threads0 = threadsRunNs();
  // this process's CPU during each query: a slow query that used little CPU waited (for the OS
  // scheduler, for Redis), one that used as much as it took worked (or collected garbage)
  const cpuShares: number[] = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const gcPauses: number[] = [];
  /** Each pause as [start, end] (performance.now() ms), to tell which slow queries a pause fell in. */
  const gcSpans: [number, number][] = [];
  // which collector paused: scavenges (minor) are the young generation's, mark-compact (major)
  // walks the whole heap (every connection's objects)
  const byKind: Record<string, { pauses: number; totalMs: number; maxMs: number }> = {};
  const gcs = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcPauses.push(entry.duration);
      gcSpans.push([entry.startTime, entry.startTime + entry.duration]);
      const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
      const k = (byKind[kind] ??= { pauses: 0, totalMs: 0, maxMs: 0 });
      k.pauses++;
      k.totalMs += entry.duration;
      k.maxMs = Math.max(k.maxMs, entry.duration);
    }
  });
  gcs.observe({ entryTypes: ['gc'] });
  // SCALE_SURVIVORS=1: print, per window, where the bytes that survived a scavenge were allocated
  const survivors = process.env.SCALE_SURVIVORS !== undefined;
  if (survivors) await allocStart(16 * 1024, true);
  loop.enable();
  const childCpu0 = await channelCpu();
  const cpu0 = process.cpuUsage();
  const split = tailSplitReaders();
  // the kernel's scheduler trace of the replica's core (the driver pins it to core 0) over the
  // window; only when asked (bench scale --sched-trace)
  const trace = process.env.SCALE_SCHED_TRACE === '1' ? SchedTrace.start(0) : undefined;
  const times: SchedTimes[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // read outside the timed stretch (a few µs each), so the split costs the latency nothing
    const own0 = split?.own.read();
    const redis0 = split?.redis?.read();
    const t = performance.now();
    const cpu = process.cpuUsage();
    await server.service.query({ lat: points[i]!.lat, lon: points[i]!.lon, caps: ['infer'] }, undefined);
    const took = performance.now() - t;
    const used = process.cpuUsage(cpu);
    if (split) times.push(delta(own0, split.own.read()), delta(redis0, split.redis?.read()));
    samples.push(took);
    starts.push(t);
    cpuShares.push((used.user + used.system) / 1000 / took);
  }
  split?.close();
  trace?.stop(process.pid, channelProcess?.child?.pid);
  loop.disable();
  gcs.disconnect();
  if (survivors) {
    // a scavenge first: what is still young now was not yet asked to survive one
    (gc as ((o: object) => void) | undefined)?.({ type: 'minor', execution: 'sync' });
    const { bytes, top } = await allocStop();
    console.error(`survived a scavenge in the query window: ${(bytes / 1e6).toFixed(2)} MB; by site:\n${top.map((t) => `  ${(t.bytes / 1e3).toFixed(0)} KB ${t.fn}`).join('\n')}`);
  }
  const seconds = (performance.now() - start) / 1000;
  const threads1 = threadsRunNs();
  const ownCpu = process.cpuUsage(cpu0);
  const childCpuMicros = (await channelCpu()) - childCpu0;
  const summary = summarize(samples);
  const slow = cpuShares.filter((_, i) => samples[i]! >= summary.p99);
  const slowIdx = samples.map((_, i) => i).filter((i) => samples[i]! >= summary.p99);
  // the slowest 1 %: how long each took and how much of that a GC pause covered (the rest is the
  // query's own work, or the OS giving the core to another thread or process)
  const slowest = samples
    .map((ms, i) => ({ ms, i }))
    .filter(({ ms }) => ms >= summary.p99)
    .sort((a, b) => b.ms - a.ms)
    .map(({ ms, i }) => {
      const from = starts[i]!;
      const to = from + ms;
      let gcMs = 0;
      for (const [a, b] of gcSpans) gcMs += Math.max(0, Math.min(b, to) - Math.max(a, from));
      return { ms, gcMs, cpuShare: cpuShares[i]!, ...(times.length ? { mainCpuMs: times[2 * i]!.cpuNs / 1e6, mainWaitMs: times[2 * i]!.waitNs / 1e6 } : {}) };
    });
  return {
    ...summary,
    /** Median share of its wall time the replica spent on CPU during the slowest 1 % of queries. */
    slowestCpuShare: slow.sort((a, b) => a - b)[Math.floor(slow.length / 2)] ?? 0,
    /** The slowest 1 %, slowest first: latency, the part of it a GC pause covered (ms), CPU share. */
    slowest,
    ...(times.length ? { tailSplit: tailSplit(samples, times, summary.p99) } : {}),
    /**
     * Who held core 0 while the query thread waited for it, from the kernel's trace: the slowest
     * 1 % and all queries (means per query; bench/scale/schedTrace.ts).
     */
    ...(trace ? { coreHolders: { slowest: trace.holders(slowIdx.map((i) => [starts[i]!, starts[i]! + samples[i]!])), all: trace.holders(samples.map((ms, i) => [starts[i]!, starts[i]! + ms])) } } : {}),
    /** Share of one core each process used over the window: the query process, and the channel process (0 inline). */
    /** Share of a core the query process's main thread and its other threads (V8's compiler and GC helpers, libuv) used. */
    threadShare: { main: (threads1.main - threads0.main) / 1e9 / seconds, others: (threads1.others - threads0.others) / 1e9 / seconds },
    cpuShare: { queryProcess: (ownCpu.user + ownCpu.system) / 1e6 / seconds, channelProcess: childCpuMicros / 1e6 / seconds },
    /**
     * The channel process's scheduling class at the window's end and its starvation reports so far
     * (ChannelProcess #starved): a child lifted out of SCHED_IDLE (by a burst that saturated the
     * core, such as the warm-up's back-to-back queries) competes with the queries at nice 10 until
     * its idle retry.
     */
    ...(channelProcess ? { channelSched: { background: channelProcess.background, starvedReports: channelProcess.starved.reports, starvedMaxMs: Math.round(channelProcess.starved.maxMs) } } : {}),
    /** The query thread's class at the window's end (discovery/queryThread.ts) and how often it left SCHED_FIFO for a starved channel process. */
    queryThread: { sched: queryThread.schedClass, wanted: queryThread.wanted, yielded: queryThread.yielded },
    eventLoopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    gc: { byKind, pauses: gcPauses.length, perSecond: gcPauses.length / seconds, totalMsPerSecond: gcPauses.reduce((a, b) => a + b, 0) / seconds, ...(gcPauses.length ? { p99Ms: summarize(gcPauses).p99, maxMs: Math.max(...gcPauses) } : {}) },
  };
}

/**
 * Schedstat readers for the tail split (bench/lib/schedstat.ts): this process's query thread and,
 * when the driver names it (SCALE_REDIS_PID), Redis's main thread. Undefined off Linux.
 */
function tailSplitReaders(): { own: SchedReader; redis: SchedReader | undefined; close(): void } | undefined {
  const own = SchedReader.open('self');
  if (!own) return undefined;
  const redisPid = Number(process.env.SCALE_REDIS_PID);
  const redis = redisPid > 0 ? SchedReader.open(redisPid) : undefined;
  return { own, redis, close: () => (own.close(), redis?.close()) };
}
const delta = (a: SchedTimes | undefined, b: SchedTimes | undefined): SchedTimes => (a && b ? { cpuNs: b.cpuNs - a.cpuNs, waitNs: b.waitNs - a.waitNs } : { cpuNs: NaN, waitNs: NaN });
/**
 * Where a query's wall time went, median over the slowest 1 % and over all queries: the query
 * thread on a CPU (its work and GC), the query thread waiting for a core, Redis's main thread on a
 * CPU meanwhile (the search and whatever else it ran: liveness batches) and Redis waiting for a
 * core; `otherMs` is the rest (the query thread idle, Redis idle: the wire and the other process).
 */
function tailSplit(samples: number[], times: SchedTimes[], p99: number) {
  const median = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1] ?? NaN;
  const of = (pick: (i: number) => boolean) => {
    const idx = samples.map((_, i) => i).filter(pick);
    const ms = (f: (i: number) => number) => +median(idx.map(f)).toFixed(3);
    return {
      queries: idx.length,
      tookMs: ms((i) => samples[i]!),
      queryCpuMs: ms((i) => times[2 * i]!.cpuNs / 1e6),
      queryWaitingForCoreMs: ms((i) => times[2 * i]!.waitNs / 1e6),
      redisCpuMs: ms((i) => times[2 * i + 1]!.cpuNs / 1e6),
      redisWaitingForCoreMs: ms((i) => times[2 * i + 1]!.waitNs / 1e6),
      otherMs: ms((i) => samples[i]! - (times[2 * i]!.cpuNs + times[2 * i]!.waitNs + (times[2 * i + 1]!.cpuNs || 0) + (times[2 * i + 1]!.waitNs || 0)) / 1e6),
    };
  };
  return { slowest: of((i) => samples[i]! >= p99), all: of(() => true) };
}

// V8's sampling heap profiler, garbage included: each sample stands for ~intervalBytes allocated,
// and the profile's self sizes are scaled to estimate every byte allocated, not only the sampled
const inspector = new (await import('node:inspector')).Session();
inspector.connect();
const post = (method: string, params?: object) => new Promise<any>((resolve, reject) => inspector.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));
/** `survivorsOnly`: drop what a scavenge collected, so the profile shows what SURVIVED one (what scavenges pay for). */
async function allocStart(intervalBytes: number, survivorsOnly = false): Promise<void> {
  await post('HeapProfiler.startSampling', { samplingInterval: intervalBytes, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !survivorsOnly });
}
interface ProfileNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: ProfileNode[] }
async function allocStop(): Promise<Allocation & { profile: unknown }> {
  const { profile } = await post('HeapProfiler.stopSampling');
  const byFn = new Map<string, number>();
  let bytes = 0;
  const walk = (n: ProfileNode) => {
    bytes += n.selfSize;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '')}:${f.lineNumber + 1}`;
    if (n.selfSize > 0) byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  const top = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, process.env.SCALE_SURVIVORS ? 25 : 8).map(([fn, b]) => ({ fn, bytes: b }));
  return { bytes, top, profile };
}

/**
 * Bytes one query allocates: `count` queries back to back, sampled at a fine interval. The driver
 * asks with its nodes quiet; on Redis the loop still turns while a script runs, so the replica's
 * timers (sweeps, an empty liveness round) count in too.
 */
async function queryAllocation(count: number): Promise<Allocation> {
  const points = clientPoints(count, 98);
  await allocStart(256);
  for (let i = 0; i < count; i++) await server.service.query({ lat: points[i]!.lat, lon: points[i]!.lon, caps: ['infer'] }, undefined);
  const { bytes, top } = await allocStop();
  return { bytes: bytes / count, top: top.map((t) => ({ fn: t.fn, bytes: t.bytes / count })) };
}

process.on('message', async (request: ServerRequest) => {
  if (request.cmd === 'stats') process.send!({ stats: await stats() });
  else if (request.cmd === 'statusFlushMs') {
    server.nodeChannels.statusFlushMs = request.ms;
    process.send!({ statusFlushMs: request.ms });
  } else if (request.cmd === 'fanOutWave') {
    // the cluster's cross-region fan-out (null: every region at once, as before the waves)
    if (registry instanceof RedisClusterRegistry) registry.fanOutWave = request.wave ?? Infinity;
    process.send!({ fanOutWave: request.wave });
  } else if (request.cmd === 'shortlist') {
    // the ids this replica answers for a point (the slice checks one replica lists the other's nodes)
    const answer = await server.service.query({ lat: request.lat, lon: request.lon }, undefined);
    process.send!({ ids: [...answer.edge, ...answer.cloud].map((n) => n.id) });
  } else if (request.cmd === 'allocStart') {
    await allocStart(request.intervalBytes);
    process.send!({ allocStart: true });
  } else if (request.cmd === 'allocStop') {
    const { profile, ...allocation } = await allocStop();
    // SCALE_HEAP_PROF=<file>: the last sampled window's whole profile (open it in DevTools)
    if (process.env.SCALE_HEAP_PROF) (await import('node:fs')).writeFileSync(process.env.SCALE_HEAP_PROF, JSON.stringify(profile));
    process.send!({ allocation });
  } else if (request.cmd === 'queryAllocation') {
    process.send!({ allocation: await queryAllocation(request.count) });
  } else if (request.cmd === 'queries') {
    process.send!({ queries: await queries(request.count, request.perSecond) });
  } else {
    await server.close();
    process.send!({ closed: true }, () => process.exit(0));
  }
});
// never outlive the driver
process.on('disconnect', () => process.exit(1));
process.send!({ url, channelPid: channelProcess?.child?.pid });
