/**
 * `bench scale --queries-only`: what a single Redis did during a query window, beside the window's
 * latency, so the tail can be split into the query's own work, Redis busy with something, and
 * Redis (or the replica) waiting for a core:
 * - INFO commandstats over the window (with the nodes idle, EVALSHA is the search script alone:
 *   its µs per call is the query's Redis time);
 * - every command that held Redis over SLOW_US (SLOWLOG): what a query queued behind it waits for.
 *   SLOWLOG times a command by the wall clock, so a command preempted mid-way is logged with the
 *   time it spent off the CPU: read it with `sched` below;
 * - `sched`: Redis's main thread (the one that runs commands) and the replica's query thread, from
 *   the kernel's schedstat: ms on a CPU and ms runnable but waiting for one, per query;
 * - LATENCY LATEST (latency-monitor-threshold 1 ms): which of Redis's own events (command,
 *   fast-command, fork, expire-cycle, eviction…) took a millisecond or more;
 * - forks, evictions and expirations in the window (INFO stats): an RDB save, AOF rewrite or
 *   eviction would show here (the bench's Redis runs with no persistence and no maxmemory).
 * Scripts are told apart by their key count: EVALSHA 1 key is the search, 2 keys the batched
 * status writes (TOUCH_MANY); EVAL 3 keys the sweep or LEARN, 1 key PLACE/UNPLACE.
 */
import { schedTimes, type SchedTimes } from '../lib/schedstat.js';
import type { RedisInfo } from './replica.js';

/** Per command: calls in the window and Redis's µs per call (INFO commandstats; a script's time includes the commands it ran). */
export type CommandStats = Record<string, { calls: number; usecPerCall: number }>;
/** Per command kind, the commands that held Redis longer than SLOW_US: how many, and for how long (µs). */
export type SlowCommands = Record<string, { calls: number; p50Us: number; p99Us: number; maxUs: number }>;
/** A thread's CPU and run-queue wait over the window, ms per query (undefined fields: no schedstat). */
export interface SchedShare {
  cpuMsPerQuery: number;
  waitMsPerQuery: number;
  /** Share of the window's wall time it was on a CPU / waiting for one. */
  cpuShare: number;
  waitShare: number;
}
export interface RedisWindow {
  commands: CommandStats;
  slowerThan50Us: SlowCommands;
  /** LATENCY LATEST: event → [latest ms, max ms] of events over 1 ms in the window. */
  latencyEvents: Record<string, { latestMs: number; maxMs: number }>;
  /** INFO stats deltas over the window. */
  forks: number;
  evictedKeys: number;
  expiredKeys: number;
  sched?: { redis?: SchedShare; replica?: SchedShare };
}

/** SLOWLOG's threshold in a query window: what holds Redis this long delays every command queued behind it. */
export const SLOW_US = 50;

async function commandStats(redis: RedisInfo): Promise<Map<string, [number, number]>> {
  const info = String(await redis.sendCommand(['INFO', 'commandstats']));
  return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)].map((m) => [m[1]!, [Number(m[2]), Number(m[3])]]));
}

async function statsCounters(redis: RedisInfo): Promise<{ forks: number; evicted: number; expired: number }> {
  const info = String(await redis.sendCommand(['INFO', 'stats']));
  const n = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { forks: n('total_forks'), evicted: n('evicted_keys'), expired: n('expired_keys') };
}

function share(t0: SchedTimes | undefined, t1: SchedTimes | undefined, queries: number, wallMs: number): SchedShare | undefined {
  if (!t0 || !t1) return undefined;
  const cpuMs = (t1.cpuNs - t0.cpuNs) / 1e6;
  const waitMs = (t1.waitNs - t0.waitNs) / 1e6;
  return { cpuMsPerQuery: cpuMs / queries, waitMsPerQuery: waitMs / queries, cpuShare: cpuMs / wallMs, waitShare: waitMs / wallMs };
}

/**
 * Runs `run` (a window of `queries` queries) and says what Redis did meanwhile. `pids`: Redis's
 * and the replica's, for their main threads' schedstat.
 */
export async function redisWindow<T>(redis: RedisInfo | undefined, queries: number, pids: { redis?: number; replica?: number }, run: () => Promise<T>): Promise<{ result: T; redis?: RedisWindow }> {
  if (!redis) return { result: await run() };
  await redis.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', String(SLOW_US)]);
  await redis.sendCommand(['CONFIG', 'SET', 'slowlog-max-len', '100000']);
  await redis.sendCommand(['CONFIG', 'SET', 'latency-monitor-threshold', '1']);
  await redis.sendCommand(['SLOWLOG', 'RESET']);
  await redis.sendCommand(['LATENCY', 'RESET']);
  const c0 = await commandStats(redis);
  const s0 = await statsCounters(redis);
  const t0 = performance.now();
  const r0 = pids.redis ? schedTimes(pids.redis) : undefined;
  const q0 = pids.replica ? schedTimes(pids.replica) : undefined;
  const result = await run();
  const r1 = pids.redis ? schedTimes(pids.redis) : undefined;
  const q1 = pids.replica ? schedTimes(pids.replica) : undefined;
  const wallMs = performance.now() - t0;
  const c1 = await commandStats(redis);
  const s1 = await statsCounters(redis);
  const log = (await redis.sendCommand(['SLOWLOG', 'GET', '-1'])) as [unknown, unknown, number, string[]][];
  const latest = (await redis.sendCommand(['LATENCY', 'LATEST'])) as [string, number, number, number][];
  // back to Redis's defaults (the bench's own Redis: nothing else set them)
  await redis.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '10000']);
  await redis.sendCommand(['CONFIG', 'SET', 'slowlog-max-len', '128']);
  await redis.sendCommand(['CONFIG', 'SET', 'latency-monitor-threshold', '0']);
  const commands: CommandStats = {};
  for (const [name, [calls, usec]] of c1) {
    const [calls0, usec0] = c0.get(name) ?? [0, 0];
    if (calls > calls0 && !/^(info|config|slowlog|latency)/.test(name)) commands[name] = { calls: calls - calls0, usecPerCall: (usec - usec0) / (calls - calls0) };
  }
  const by = new Map<string, number[]>();
  for (const [, , us, args] of log) {
    const cmd = String(args[0]).toLowerCase();
    if (cmd === 'slowlog' || cmd === 'config' || cmd === 'info' || cmd === 'latency') continue;
    const name = cmd === 'evalsha' || cmd === 'eval' ? `${cmd} ${args[2]} key${args[2] === '1' ? '' : 's'}` : cmd;
    if (!by.has(name)) by.set(name, []);
    by.get(name)!.push(Number(us));
  }
  const slowerThan50Us: SlowCommands = {};
  for (const [name, v] of [...by].sort((a, b) => b[1].length - a[1].length)) {
    v.sort((a, b) => a - b);
    slowerThan50Us[name] = { calls: v.length, p50Us: v[v.length >> 1]!, p99Us: v[Math.floor(v.length * 0.99)]!, maxUs: v[v.length - 1]! };
  }
  const latencyEvents = Object.fromEntries(latest.map(([event, , latestMs, maxMs]) => [String(event), { latestMs: Number(latestMs), maxMs: Number(maxMs) }]));
  const redisSched = share(r0, r1, queries, wallMs);
  const replicaSched = share(q0, q1, queries, wallMs);
  return {
    result,
    redis: {
      commands,
      slowerThan50Us,
      latencyEvents,
      forks: s1.forks - s0.forks,
      evictedKeys: s1.evicted - s0.evicted,
      expiredKeys: s1.expired - s0.expired,
      ...(redisSched || replicaSched ? { sched: { ...(redisSched ? { redis: redisSched } : {}), ...(replicaSched ? { replica: replicaSched } : {}) } } : {}),
    },
  };
}

/** One line for a window: Redis's µs per search, commands per query, what held it, where its time went. */
export function redisWindowLine(w: RedisWindow, queries: number): string {
  const calls = (c: string) => ((w.commands[c]?.calls ?? 0) / queries).toFixed(2);
  const sched = (name: string, s: SchedShare | undefined) => (s ? `${name} on CPU ${s.cpuMsPerQuery.toFixed(3)} ms/query (${(100 * s.cpuShare).toFixed(0)} %), waiting for a core ${s.waitMsPerQuery.toFixed(3)} ms/query (${(100 * s.waitShare).toFixed(0)} %)` : '');
  const events = Object.entries(w.latencyEvents).map(([e, v]) => `${e} max ${v.maxMs} ms`).join(', ');
  return [
    `EVALSHA ${w.commands.evalsha?.usecPerCall.toFixed(0) ?? '-'} µs per call, per query ${calls('evalsha')} EVALSHA, ${calls('geosearch')} GEOSEARCH, ${calls('hmget')} HMGET`,
    `held Redis over ${SLOW_US} µs (calls, p50/p99/max µs): ${Object.entries(w.slowerThan50Us).slice(0, 8).map(([c, v]) => `${c} ${v.calls}, ${v.p50Us}/${v.p99Us}/${v.maxUs}`).join('; ')}`,
    `LATENCY events ≥1 ms: ${events || 'none'}; forks ${w.forks}, evicted ${w.evictedKeys}, expired ${w.expiredKeys}`,
    [sched('Redis', w.sched?.redis), sched('replica', w.sched?.replica)].filter(Boolean).join('; '),
  ].filter(Boolean).join('; ');
}
