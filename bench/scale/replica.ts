/**
 * `bench scale`: a discovery replica in its own process (bench/scale/server.ts) and the per-node-second
 * cost accounting of a window: the replica's CPU, and Redis work from INFO (every master of a cluster).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pinProcess } from '../lib/pin.js';
import type { ServerRequest, ServerStats } from './server.js';

export const INTERVAL_MS = 1000;

export type Backend = 'memory' | 'redis' | 'cluster';
/** Where the replica's node channels run (DiscoveryServerOptions.nodeChannelProcess). */
/**
 * Where a replica's node channels run (discovery's --node-channels): inline, or a channel process
 * on the replica's core (core 0, reniced below the queries, as it would inherit a pinned replica's
 * affinity), or `process@1`: a channel process on core 1 (a replica with a core of its own, and
 * its channels beside the fleet, as a multi-core machine would schedule them).
 */
export type NodeChannelMode = 'inline' | 'process' | 'process@1';
export interface Phase {
  nodes: number;
  seconds: number;
  discoveryMicrosPerNodeSecond: number;
  redisCallsPerNodeSecond?: number;
  redisMicrosPerNodeSecond?: number;
  redisCpuMicrosPerNodeSecond?: number;
  redisCommandsPerNodeSecond?: Record<string, number>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Replica {
  readonly child: ChildProcess;
  readonly url: Promise<string>;
  #waiters: ((m: any) => void)[] = [];
  /** @param script the replica's entry point: this build's, or (--before) another build's bench/scale/server.js */
  constructor(backend: Backend, store: string | undefined, operator: { name: string; publicKey: string }, v8Flags: string[], script = fileURLToPath(new URL('./server.js', import.meta.url)), nodeChannels: NodeChannelMode = 'inline') {
    // SCALE_CPU_PROF=<dir>: the replica writes a V8 CPU profile there (where query latency goes under churn)
    const prof = process.env.SCALE_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SCALE_CPU_PROF] : [];
    // SCALE_NODE_FLAGS: extra V8/Node flags for the replica (GC experiments)
    const flags = (process.env.SCALE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    this.child = spawn(process.execPath, ['--expose-gc', ...v8Flags, ...flags, ...prof, script, backend, store ?? '-', operator.name, operator.publicKey, String(INTERVAL_MS), nodeChannels === 'inline' ? 'inline' : 'process'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m) => this.#waiters.shift()?.(m));
    // pinned once listening: by then every thread it starts with (V8's GC helpers included) exists
    this.url = new Promise<{ url: string; channelPid?: number }>((resolve) => this.#waiters.push(resolve)).then(({ url, channelPid }) => {
      if (!pinProcess(this.child.pid!, 0)) throw new Error('could not pin the replica to core 0 (taskset missing, or one core): the timings would not be the replica\'s');
      // its channel process on the replica's core, or on the other (NodeChannelMode)
      const channelCore = nodeChannels === 'process@1' ? 1 : 0;
      if (channelPid !== undefined && !pinProcess(channelPid, channelCore)) throw new Error(`could not pin the channel process to core ${channelCore}`);
      return url;
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

export type RedisInfo = { sendCommand(args: string[]): Promise<unknown> };

/** Sum of Redis command calls and µs (commandstats) and its CPU seconds, over every server (a cluster's masters). */
export type Work = { calls: number; usec: number; cpu: number; byCommand: Record<string, number> };
export async function redisWork(clients: RedisInfo[] | undefined): Promise<Work | undefined> {
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

/** FAIL messages the masters exchanged (a master flagged failing) and each one's state now. */
export async function clusterBusHealth(masters: RedisInfo[]): Promise<{ failMessagesSent: number; failMessagesReceived: number; states: string[] }> {
  let sent = 0;
  let received = 0;
  const states: string[] = [];
  for (const m of masters) {
    const info = String(await m.sendCommand(['CLUSTER', 'INFO']));
    sent += Number(/cluster_stats_messages_fail_sent:(\d+)/.exec(info)?.[1] ?? 0);
    received += Number(/cluster_stats_messages_fail_received:(\d+)/.exec(info)?.[1] ?? 0);
    states.push(/cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown');
  }
  return { failMessagesSent: sent, failMessagesReceived: received, states };
}

/** Pins a Redis server (found by its INFO process_id) next to the load generator; its process id. */
export async function pinRedis(client: RedisInfo): Promise<number> {
  const pid = Number(/process_id:(\d+)/.exec(String(await client.sendCommand(['INFO', 'server'])))?.[1]);
  if (!pid || !pinProcess(pid, 1)) throw new Error('could not pin Redis to core 1 (taskset missing, or one core)');
  return pid;
}


export function perNodeSecond(nodes: number, seconds: number, s0: ServerStats, s1: ServerStats, r0?: Work, r1?: Work): Phase {
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

