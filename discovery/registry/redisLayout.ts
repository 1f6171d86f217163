/**
 * The Redis layout's options (RedisRegistry.ts "Layout") and their defaults, shared by a single
 * Redis and a cluster: every replica of one deployment must agree on them.
 */
import type { NodeTier } from '../../protocol/index.js';
import { BusyPoll } from '../../protocol/server/busyPoll.js';
import { DescriptorCache } from './descriptorCache.js';
import { resolveTtlMs, type RegistryTiming } from './Registry.js';

/** The layout's options, the same for a single Redis and a cluster (replicas must agree on them). */
export interface RedisLayoutOptions extends RegistryTiming {
  /** Key prefix, so several deployments (or tests) share one Redis. Default `eo:disc:`. */
  prefix?: string;
  /** How long learned stats outlive their node's last report. Default 7 days. */
  statsTtlMs?: number;
  /**
   * First radius of the occupied-tile search, widened (x2-x8, by the density found) while a tile
   * beyond it could still hold a nearer node. Default (and at least) one tile diagonal. The
   * all-members search (sparseTileMembers) starts at the larger of this and a radius from the
   * set's own density (redisNearest.ts NEAREST allFirst).
   */
  initialRadiusKm?: number;
  /**
   * Searches run on per-tile GEO sets of this many degrees square, per tier (each must divide
   * 360). Default edge 0.25: a dense city's core tile then holds a few hundred nodes, the most one
   * tile search reads. Default cloud 2: a tier with ~1 % of the nodes would otherwise need a tile
   * search (a GEOSEARCH call) per node or two. Changing it moves nodes to new tile keys on their
   * next registration (replicas must agree on it).
   */
  tileDegrees?: Partial<Record<NodeTier, number>>;
  /**
   * A query searches a tier's capability set through one GEO set of all its members (a few
   * GEOSEARCH calls, the radius doubling) instead of tile by tile while the set's occupied tiles
   * hold fewer than this many members on average (census / occupied tiles): sparse tiles cost a
   * GEOSEARCH call each for a node or two (~39 calls a query at 8,000 nodes). Dense tiles keep the
   * tile path, which bounds every scan to one tile's members. 0: always tiles. Default 8.
   */
  sparseTileMembers?: number;
  /** Bound on candidates fetched per query when the filter rejects most nodes. Default 20,000. */
  maxExaminedPerQuery?: number;
  /**
   * Fail a command Redis has not answered within this many ms. Default 0, none: a dead peer is
   * noticed by the socket closing (TCP keep-alive) and commands fail at once while reconnecting.
   * A timeout costs a timer per command that lives this long (see makeClient).
   */
  commandTimeoutMs?: number;
  /** How often expired nodes are swept. Default: the heartbeat interval. */
  sweepIntervalMs?: number;
  /**
   * Nodes one SWEEP script removes; a sweep runs as many as it needs, one after another. A script
   * holds Redis while it runs, ~20 calls a node (its hash, rows, sets, census), and a query queued
   * behind it waits: a whole sweep batch (1,000) in one script held Redis for tens of ms when a
   * mass of nodes expired at once (a partition), where 10 is ~0.3 ms, as touchBatch. Default 10.
   */
  sweepBatch?: number;
  /**
   * Members per ZADD (and ZMSCORE) in refresh(): bounds how long one command holds Redis, and so
   * what a query queued behind it waits. Measured at 8,000 nodes on the shared 2-core VM (SLOWLOG
   * p50): ZADD XX GT 500 members 0.50 ms + ZMSCORE 0.20 ms; 200: 0.19 + 0.05 ms. Default 200.
   */
  refreshBatch?: number;
  /**
   * Status updates per TOUCH_MANY script in touchMany(): a script holds Redis while it runs (five
   * calls a node, ~12 µs), and a query queued behind it waits: 100 held it 1.27 ms (SLOWLOG p50,
   * same machine), 25 0.28 ms, and still one script call per 25 nodes instead of per node. Default 25.
   */
  touchBatch?: number;
  /**
   * Decoded node descriptors a replica keeps (by registration version) so that queries read only
   * ids and changing fields from Redis. ~1 KB each; past it the oldest go. 0 keeps none (every
   * query then fetches the descriptors it lists, a second round trip). Default 250,000 (a 210k-node deployment whole).
   */
  descriptorCacheSize?: number;
  /**
   * This replica's own (replicas need not agree): a query's thread polls, never sleeps, while its
   * search and descriptor replies are due, for at most this many ms a wait
   * (protocol/server/busyPoll.ts says why: a sleeping thread waits to be woken, on a VM most of
   * all). Costs the core the wait. Default 0: it sleeps.
   */
  busyPollMs?: number;
}

/** The options with their defaults, as every keyspace of one registry shares them. */
export function resolveLayout(options: RedisLayoutOptions): RegionSettings & { prefix: string; sweepIntervalMs: number; heartbeatIntervalMs: number } {
  const { heartbeatIntervalMs, ttlMs, sweepGraceMs } = resolveTtlMs(options);
  const tileDegrees = { edge: 0.25, cloud: 2, ...options.tileDegrees };
  for (const deg of Object.values(tileDegrees)) if (!(deg > 0) || 360 % deg !== 0) throw new TypeError('tileDegrees must divide 360');
  return {
    prefix: options.prefix ?? 'eo:disc:',
    heartbeatIntervalMs,
    ttlMs,
    sweepGraceMs,
    sweepIntervalMs: options.sweepIntervalMs ?? heartbeatIntervalMs,
    statsTtlMs: options.statsTtlMs ?? 7 * 24 * 3600_000,
    initialRadiusKm: options.initialRadiusKm ?? 0,
    maxExamined: options.maxExaminedPerQuery ?? 20_000,
    sparseTileMembers: Math.max(0, options.sparseTileMembers ?? 8),
    refreshBatch: options.refreshBatch ?? 200,
    touchBatch: options.touchBatch ?? 25,
    sweepBatch: Math.max(1, options.sweepBatch ?? 10),
    tileDegrees,
    now: options.now ?? Date.now,
    tuning: { passRate: 0.5 },
    descriptors: new DescriptorCache(options.descriptorCacheSize ?? 250_000),
    busyPoll: new BusyPoll(options.busyPollMs ?? 0),
  };
}

/** The knobs every keyspace of one registry shares (RedisLayoutOptions documents them). */
export interface RegionSettings {
  ttlMs: number;
  sweepGraceMs: number;
  statsTtlMs: number;
  initialRadiusKm: number;
  maxExamined: number;
  sparseTileMembers: number;
  refreshBatch: number;
  touchBatch: number;
  sweepBatch: number;
  tileDegrees: Record<NodeTier, number>;
  now: () => number;
  /** EWMA of the eligible share of members read, across queries with an eligibility check (shared, mutable). */
  tuning: { passRate: number };
  /** Decoded descriptors by id and version, shared by every keyspace of one registry. */
  descriptors: DescriptorCache;
  /** How a query awaits Redis (RedisLayoutOptions.busyPollMs), shared by every keyspace of one registry. */
  busyPoll: BusyPoll;
}
