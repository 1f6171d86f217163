/**
 * The registry seam: where live nodes, what clients learned about them, and used nonces live.
 * `MemoryRegistry` (one process, spatial index), `RedisRegistry` and `RedisClusterRegistry` (shared
 * by replicas) implement it and pass the same test suite (test/discovery-registry.test.ts).
 */
import type { Capability, NodeTier } from '../../protocol/index.js';
import type { LatLon } from '../geo.js';

/** A registered node as discovery holds it: the verified descriptor plus its latest heartbeat. */
export interface NodeRecord {
  id: string;
  publicKey: string;
  url: string;
  tier: NodeTier;
  lat: number;
  lon: number;
  caps: Capability[];
  capacity: number;
  pricePerMinute: number;
  operator: string;
  /** 0 idle … 1 saturated, from the latest heartbeat. */
  load: number;
  freeCapacity: number;
  /** Epoch ms of the registration or the latest heartbeat. */
  lastSeen: number;
}

/** A node's pushed status, and when it was heard (epoch ms): an entry of touchMany(). */
export interface StatusUpdate {
  load: number;
  freeCapacity: number;
  at: number;
}

/** What client probe reports taught discovery about a node. Survives re-registration. */
export interface NodeStats {
  /** EWMA of measured RTT minus the propagation estimate: last mile, queuing, a lie about location. */
  baseLatencyMs: number | undefined;
  /** RTT samples folded into `baseLatencyMs`. */
  samples: number;
  /** EWMA of probe answers (1 answered, 0 silent); 1 for a node nobody has probed. */
  reputation: number;
}

export const FRESH_STATS: Readonly<NodeStats> = Object.freeze({ baseLatencyMs: undefined, samples: 0, reputation: 1 });

export interface NearbyNode {
  node: Readonly<NodeRecord>;
  stats: Readonly<NodeStats>;
  distanceKm: number;
}

/** Decides whether a node may be returned; the search keeps going until k nodes pass. */
export type NodeFilter = (node: NodeRecord, stats: NodeStats) => boolean;

/**
 * The usual filter as data, so a backend can evaluate it next to the data (Redis runs it in Lua
 * and ships back only eligible nodes). `eligibilityFilter` is the reference semantics.
 */
export interface Eligibility {
  /** Every one of these capabilities. */
  caps?: Capability[];
  maxPrice?: number;
  /** Nodes at or above this load are out. */
  maxLoad?: number;
  minReputation?: number;
  /** Always: a node must have free capacity. */
}

export const CAPABILITY_BITS: Record<Capability, number> = { predict: 1, infer: 2, render: 4, webrtc: 8, video: 16 };
export function capabilityMask(caps: readonly Capability[]): number {
  return caps.reduce((mask, cap) => mask | CAPABILITY_BITS[cap], 0);
}

export function eligibilityFilter(e: Eligibility): NodeFilter {
  const caps = e.caps ?? [];
  const maxPrice = e.maxPrice ?? Infinity;
  const maxLoad = e.maxLoad ?? Infinity;
  const minReputation = e.minReputation ?? -Infinity;
  return (node, stats) => {
    if (!(node.freeCapacity > 0 && node.load < maxLoad && node.pricePerMinute <= maxPrice && stats.reputation >= minReputation)) return false;
    // a loop, not caps.every(cap => …): that closure was made per call, per candidate row on Redis
    for (let i = 0; i < caps.length; i++) if (!node.caps.includes(caps[i]!)) return false;
    return true;
  };
}

export interface NearestOptions {
  /** Checked in the backend where it can be (Redis: server-side). */
  eligibility?: Eligibility;
  /** Any further condition, checked in this process. */
  filter?: NodeFilter;
  /** Nodes farther than this are never returned. Default: no limit. */
  maxDistanceKm?: number;
}

/** Both conditions of `NearestOptions` as one predicate (memory backend, and Redis's final check). */
export function combinedFilter(options: NearestOptions): NodeFilter | undefined {
  const e = options.eligibility ? eligibilityFilter(options.eligibility) : undefined;
  const f = options.filter;
  if (e && f) return (n, s) => e(n, s) && f(n, s);
  return e ?? f;
}

export interface Observation {
  /** Measured RTT minus propagation estimate; absent when the probe got no answer. */
  baseLatencyMs?: number;
  answered: boolean;
}

export interface LearningRates {
  /** Weight of a new sample in the base-latency EWMA. */
  latencyAlpha: number;
  /** Weight of a new probe outcome in the reputation EWMA. */
  reputationAlpha: number;
}

export interface Registry {
  readonly kind: 'memory' | 'redis' | 'redis-cluster';
  /** A node silent this long is gone (3 heartbeat intervals by default). */
  readonly ttlMs: number;
  /** Adds or replaces a node; its ttl starts now. */
  put(node: NodeRecord): Promise<void>;
  /** Records a heartbeat; undefined when the node is unknown or already expired. */
  touch(id: string, status: { load: number; freeCapacity: number }, now?: number): Promise<NodeRecord | undefined>;
  /**
   * Liveness for many nodes in one batch (id → the time each was last heard from): the cheap
   * path of the node channel, where a replica folds a whole interval's pongs into one write.
   * Never moves a node's lastSeen backwards and never brings back a node that was removed or
   * swept (one expired but not yet swept is revived). Resolves to the ids it does not hold (their
   * nodes must register again).
   */
  refresh(seen: ReadonlyMap<string, number>): Promise<string[]>;
  /**
   * Status updates for many nodes in one batch (the node channel's load pushes, flushed a few
   * times a second): for each, what touch() does. Resolves to the ids it does not hold (unknown
   * or expired: they must register again).
   */
  touchMany(updates: ReadonlyMap<string, StatusUpdate>): Promise<string[]>;
  get(id: string): Promise<NodeRecord | undefined>;
  remove(id: string): Promise<boolean>;
  /**
   * Exact great-circle k nearest live nodes of `tier` that pass `filter`, nearest first. The
   * results are read-only views (the memory backend hands out its live records to keep queries
   * allocation-light); copy before changing them.
   */
  nearest(point: LatLon, k: number, tier: NodeTier, options?: NearestOptions): Promise<NearbyNode[]>;
  stats(id: string): Promise<NodeStats>;
  learn(id: string, observation: Observation, rates: LearningRates): Promise<void>;
  /** True the first time `key` is claimed within `ttlMs`; false on a replay. */
  claimNonce(key: string, ttlMs: number): Promise<boolean>;
  /** Live (not yet swept) node counts per tier. */
  count(): Promise<Record<NodeTier, number>>;
  close(): Promise<void>;
}

/** A held node's liveness handle: its slot and that slot's generation (see SlotLiveness). */
export interface SlotHandle {
  slot: number;
  gen: number;
}

/**
 * What a backend that keeps nodes in a slot table offers besides Registry (the memory backend):
 * liveness by handle, so the channel process sends a batch as three typed arrays instead of a Map
 * of id strings (discovery/channels/channelMain.ts). The Redis backends offer none and are
 * refreshed by id.
 */
export interface SlotLiveness {
  /** The liveness handle of a held node, undefined when it is not held. */
  slotOf(id: string): SlotHandle | undefined;
  /**
   * refresh() by handle: entry i says node (slots[i], gens[i]) was heard at seen[i], same rules.
   * Returns the positions in the batch of the handles not held (gone, or their slot reused).
   */
  refreshSlots(slots: Uint32Array, gens: Uint32Array, seen: Float64Array): number[];
}

/** The registry's liveness by handle, when it has one. */
export function slotLiveness(registry: Registry): (Registry & SlotLiveness) | undefined {
  const r = registry as Partial<SlotLiveness> & Registry;
  return typeof r.slotOf === 'function' && typeof r.refreshSlots === 'function' ? (r as Registry & SlotLiveness) : undefined;
}

/**
 * Where another process can make a registry's liveness writes itself (refresh, touchMany, touch),
 * on a connection of its own to the same store: the channel process then writes its nodes'
 * liveness and load straight to Redis, and the replica's query thread neither encodes those
 * batches nor parses their replies. Plain data, sent to the channel process at its start. The
 * memory backend has none (its nodes live in the replica); nor has the cluster backend (a node's
 * keyspace follows its region, which the replica keeps), nor a registry on a test clock.
 */
export interface LivenessStore {
  kind: 'redis';
  url: string;
  /** The RedisRegistryOptions that shape liveness writes (keys, ttl, batch sizes, timeouts). */
  options: { prefix: string; heartbeatIntervalMs: number; missedHeartbeats: number; sweepGraceMs: number; refreshBatch: number; touchBatch: number; commandTimeoutMs: number };
}

export interface SharedLiveness {
  livenessStore(): LivenessStore | undefined;
}

/** Where another process can write this registry's liveness, when it can. */
export function livenessStoreOf(registry: Registry): LivenessStore | undefined {
  const r = registry as Partial<SharedLiveness> & Registry;
  return typeof r.livenessStore === 'function' ? r.livenessStore() : undefined;
}

/** The EWMA update both backends apply (Redis runs the same arithmetic in Lua, see RedisRegistry). */
export function foldObservation(prev: NodeStats, obs: Observation, rates: LearningRates): NodeStats {
  let { baseLatencyMs, samples, reputation } = prev;
  if (obs.baseLatencyMs !== undefined) {
    baseLatencyMs = baseLatencyMs === undefined ? obs.baseLatencyMs : baseLatencyMs + rates.latencyAlpha * (obs.baseLatencyMs - baseLatencyMs);
    samples += 1;
  }
  reputation += rates.reputationAlpha * ((obs.answered ? 1 : 0) - reputation);
  return { baseLatencyMs, samples, reputation };
}

/** Registry timing knobs shared by both backends. */
export interface RegistryTiming {
  /** Clock (epoch ms) that decides expiry, for tests. Default `Date.now`. */
  now?: () => number;
  /**
   * How long an expired node (invisible to every read) stays held before the sweep deletes it;
   * within it, refresh() revives it. A replica whose loop stalled (overload, a pause) has its
   * nodes' pongs still unread in its sockets: without the grace, the sweep deleted those nodes
   * and each had to register again. Default: the ttl.
   */
  sweepGraceMs?: number;
  /** How often nodes heartbeat. Default 1000 ms (env `DISCOVERY_HEARTBEAT_MS`). */
  heartbeatIntervalMs?: number;
  /** Heartbeats a node may miss before it leaves. Default 3 (env `DISCOVERY_MISSED_HEARTBEATS`). */
  missedHeartbeats?: number;
}

export function resolveTtlMs(timing: RegistryTiming = {}): { heartbeatIntervalMs: number; ttlMs: number; sweepGraceMs: number } {
  const heartbeatIntervalMs = timing.heartbeatIntervalMs ?? envNumber('DISCOVERY_HEARTBEAT_MS') ?? 1000;
  const missed = timing.missedHeartbeats ?? envNumber('DISCOVERY_MISSED_HEARTBEATS') ?? 3;
  if (!(heartbeatIntervalMs > 0) || !(missed > 0)) throw new TypeError('heartbeatIntervalMs and missedHeartbeats must be positive');
  return { heartbeatIntervalMs, ttlMs: heartbeatIntervalMs * missed, sweepGraceMs: timing.sweepGraceMs ?? heartbeatIntervalMs * missed };
}

function envNumber(name: string): number | undefined {
  const raw = typeof process === 'undefined' ? undefined : process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number, got '${raw}'`);
  return value;
}
