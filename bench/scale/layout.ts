/**
 * `bench scale`'s layout for 210,000 nodes at 1 s liveness, from the per-unit costs one run
 * measured (nothing assumed but the planned utilisation), and the cluster's fan-out comparison.
 *
 * Sizing, per backend:
 * - replicas: a replica is one core (Node runs discovery's work on one thread); it plans to spend
 *   PLANNED_UTILISATION of it on liveness and load (the rest answers queries and absorbs bursts),
 *   so it holds PLANNED_UTILISATION / (CPU per node-second) nodes; at least two, for failover;
 * - Redis: one Redis is one core (commands run on one thread). Its CPU per node-second (INFO cpu,
 *   over every master of the cluster, cluster bus and crons included) × 210k is the cores the
 *   store needs; the shards are that over PLANNED_UTILISATION. A single Redis is enough when
 *   one shard is (else the layout needs the cluster);
 * - memory: RSS per connected node × the nodes of one replica.
 * The masters' fixed cost (cluster bus, crons: CPU they spend with no node) is counted per node
 * too, so at 8,000 nodes the cluster's Redis CPU per node-second is an upper bound for 210k.
 */
import type { Allocation, QueryWindow } from './server.js';

export const TARGET = 210_000;
/** Share of a core (or of a Redis shard) the layout plans to use, leaving room for queries and bursts. */
export const PLANNED_UTILISATION = 0.5;

export interface LayoutPhase {
  discoveryMicrosPerNodeSecond: number;
  redisCpuMicrosPerNodeSecond?: number;
  memory: { rssBytesPerNode: number };
}

export function layout(backend: 'memory' | 'redis' | 'cluster', channel: LayoutPhase, intervalMs: number) {
  const nodesPerReplicaCore = Math.floor((PLANNED_UTILISATION * 1e6) / channel.discoveryMicrosPerNodeSecond);
  const replicas = Math.max(2, Math.ceil(TARGET / nodesPerReplicaCore));
  const redisCpu = channel.redisCpuMicrosPerNodeSecond;
  const redisCores = redisCpu === undefined ? undefined : (TARGET * redisCpu) / 1e6;
  const redisShards = redisCores === undefined ? 0 : Math.max(1, Math.ceil(redisCores / PLANNED_UTILISATION));
  return {
    nodes: TARGET,
    livenessIntervalMs: intervalMs,
    plannedUtilisation: PLANNED_UTILISATION,
    nodesPerReplicaCore,
    replicas,
    discoveryCoresForLiveness: (TARGET * channel.discoveryMicrosPerNodeSecond) / 1e6,
    replicaMemoryMiB: Math.round(((TARGET / replicas) * channel.memory.rssBytesPerNode) / 2 ** 20),
    ...(redisCores === undefined
      ? {}
      : {
          redisCoresForLiveness: redisCores,
          redisShards,
          ...(backend === 'redis' ? { oneRedisEnough: redisShards === 1 } : {}),
        }),
    // a memory registry is each replica's own: replicas cannot share 210k nodes without a store,
    // so its layout sizes CPU and memory only (what a replica would cost), not a deployment
    ...(backend === 'memory' ? { sharedStore: false } : {}),
    /** A core per replica and per Redis shard. */
    cores: replicas + redisShards,
  };
}

type Ask = <T>(request: object) => Promise<T>;

/**
 * The cluster's cross-region query fan-out: every region that could hold a nearer node asked at
 * once (as before the waves) vs waves of `fanOutWave` regions doubling (the default). Bytes
 * allocated per query and latency, on one replica, one setting after the other, with the nodes
 * quiet: `pongAll` makes every node pong once, and each setting is measured within the ttl of
 * that (an expired node is not listed, and a query that finds too few nodes asks every region).
 */
export async function clusterFanOut(ask: Ask, pongAll: () => void, intervalMs: number): Promise<{ fanOut: Record<string, { bytesPerQuery: number; p50: number; p99: number; top: Allocation['top'] }> }> {
  const fanOut: Record<string, { bytesPerQuery: number; p50: number; p99: number; top: Allocation['top'] }> = {};
  for (const [name, wave] of [['everyRegionAtOnce', null], ['waves', 2]] as const) {
    await ask({ cmd: 'fanOutWave', wave });
    pongAll();
    // one liveness round writes the pongs; then ~1 s of queries, inside the 3-interval ttl
    await new Promise((r) => setTimeout(r, 1.2 * intervalMs));
    const { allocation } = await ask<{ allocation: Allocation }>({ cmd: 'queryAllocation', count: 50 });
    const { queries } = await ask<{ queries: QueryWindow }>({ cmd: 'queries', count: 100, perSecond: 200 });
    fanOut[name] = { bytesPerQuery: allocation.bytes, p50: queries.p50, p99: queries.p99, top: allocation.top.slice(0, 4) };
  }
  await ask({ cmd: 'fanOutWave', wave: 2 });
  return { fanOut };
}

export function sliceLine(slice: { replicas: number; nodes: number; nodesPerReplica: number; discoveryMicrosPerNodeSecond: number[]; redisCpuMicrosPerNodeSecond: number; queriesUnderLiveness: { p50: number; p99: number }[] }, plan: ReturnType<typeof layout>): string {
  const share = ((100 * slice.nodes) / TARGET).toFixed(1);
  return `slice of the layout: ${slice.replicas} of its ${plan.replicas} replicas × ${slice.nodesPerReplica} nodes = ${slice.nodes} nodes (${share} % of ${TARGET}) on the 3-master cluster (the layout: ${plan.redisShards} shards); discovery CPU per node-second ${slice.discoveryMicrosPerNodeSecond.map((v) => v.toFixed(1)).join(' / ')} µs per replica (the layout planned ${((PLANNED_UTILISATION * 1e6) / plan.nodesPerReplicaCore).toFixed(1)}), Redis CPU ${slice.redisCpuMicrosPerNodeSecond.toFixed(2)} µs; queries on every replica at once: ${slice.queriesUnderLiveness.map((q) => `p50 ${q.p50.toFixed(2)} / p99 ${q.p99.toFixed(2)} ms`).join(', ')}`;
}
