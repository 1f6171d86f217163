/**
 * The default registry: one process, nodes in a spherical octree per tier (exact k-nearest
 * without a scan), stats and nonces in maps. Expired nodes are invisible at once (every read
 * checks `lastSeen`) and swept from the index on a timer.
 */
import type { NodeTier } from '../../protocol/index.js';
import type { LatLon } from '../geo.js';
import { SphereIndex, type IndexEntry } from './SphereIndex.js';
import {
  FRESH_STATS,
  foldObservation,
  resolveTtlMs,
  type LearningRates,
  type NearbyNode,
  combinedFilter,
  type NearestOptions,
  type NodeRecord,
  type NodeStats,
  type Observation,
  type Registry,
  type RegistryTiming,
  type StatusUpdate,
} from './Registry.js';

export interface MemoryRegistryOptions extends RegistryTiming {
  /** How often expired nodes and nonces are swept. Default: the heartbeat interval. */
  sweepIntervalMs?: number;
  /** Nodes examined per sweep tick. Default 20,000. */
  sweepBatch?: number;
  /** Most nonces remembered; the oldest go first beyond it. Default 1,000,000. */
  maxNonces?: number;
  /** Most learned-stats entries kept (one per node ever probed). Default 2,000,000. */
  maxStats?: number;
  /** Bound on entries examined per query when the filter rejects most nodes. Default 100,000. */
  maxExaminedPerQuery?: number;
}

interface Slot {
  record: NodeRecord;
  entry: IndexEntry<NodeRecord>;
}

export class MemoryRegistry implements Registry {
  readonly kind = 'memory' as const;
  readonly ttlMs: number;
  readonly #slots = new Map<string, Slot>();
  readonly #indexes: Record<NodeTier, SphereIndex<NodeRecord>> = { edge: new SphereIndex(), cloud: new SphereIndex() };
  readonly #stats = new Map<string, NodeStats>();
  /** nonce → expiry; insertion order is expiry order because every nonce gets the same ttl. */
  readonly #nonces = new Map<string, number>();
  readonly #maxNonces: number;
  readonly #maxStats: number;
  readonly #maxExamined: number;
  readonly #now: () => number;
  readonly #sweeper: ReturnType<typeof setInterval>;
  readonly #sweepBatch: number;
  readonly #sweepGraceMs: number;
  #sweepCursor: Iterator<[string, Slot]> | undefined;

  constructor(options: MemoryRegistryOptions = {}) {
    const { heartbeatIntervalMs, ttlMs, sweepGraceMs } = resolveTtlMs(options);
    this.ttlMs = ttlMs;
    this.#sweepGraceMs = sweepGraceMs;
    this.#maxNonces = options.maxNonces ?? 1_000_000;
    this.#maxStats = options.maxStats ?? 2_000_000;
    this.#maxExamined = options.maxExaminedPerQuery ?? 100_000;
    this.#now = options.now ?? Date.now;
    this.#sweepBatch = options.sweepBatch ?? 20_000;
    this.#sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? heartbeatIntervalMs);
    this.#sweeper.unref();
  }

  async put(node: NodeRecord): Promise<void> {
    this.putSync(node);
  }

  /** Synchronous `put`, for bulk loads (bench) where a promise per node only adds noise. */
  putSync(node: NodeRecord): void {
    const old = this.#slots.get(node.id);
    if (old !== undefined) this.#indexes[old.record.tier].remove(old.entry);
    const record = { ...node };
    const entry = this.#indexes[record.tier].insert(record, record);
    this.#slots.set(record.id, { record, entry });
  }

  async touch(id: string, status: { load: number; freeCapacity: number }, now = this.#now()): Promise<NodeRecord | undefined> {
    return this.touchSync(id, status, now);
  }

  touchSync(id: string, status: { load: number; freeCapacity: number }, now = this.#now()): NodeRecord | undefined {
    const slot = this.#live(id, now);
    if (slot === undefined) return undefined;
    // the index holds the same record object, so the update is visible to queries at once
    slot.record.load = status.load;
    slot.record.freeCapacity = status.freeCapacity;
    slot.record.lastSeen = now;
    return { ...slot.record };
  }

  async touchMany(updates: ReadonlyMap<string, StatusUpdate>): Promise<string[]> {
    const missing: string[] = [];
    const now = this.#now();
    for (const [id, u] of updates) {
      const slot = this.#live(id, now);
      if (slot === undefined) {
        missing.push(id);
        continue;
      }
      slot.record.load = u.load;
      slot.record.freeCapacity = u.freeCapacity;
      if (u.at > slot.record.lastSeen) slot.record.lastSeen = u.at;
    }
    return missing;
  }

  async refresh(seen: ReadonlyMap<string, number>): Promise<string[]> {
    const missing: string[] = [];
    for (const [id, lastSeen] of seen) {
      // held but expired (not swept yet) is revived, as on Redis: the connection just proved it alive
      const slot = this.#slots.get(id);
      if (slot === undefined) missing.push(id);
      else if (lastSeen > slot.record.lastSeen) slot.record.lastSeen = lastSeen;
    }
    return missing;
  }

  async get(id: string): Promise<NodeRecord | undefined> {
    const slot = this.#live(id, this.#now());
    return slot === undefined ? undefined : { ...slot.record };
  }

  async remove(id: string): Promise<boolean> {
    const slot = this.#slots.get(id);
    if (slot === undefined) return false;
    this.#indexes[slot.record.tier].remove(slot.entry);
    this.#slots.delete(id);
    return true;
  }

  async nearest(point: LatLon, k: number, tier: NodeTier, options: NearestOptions = {}): Promise<NearbyNode[]> {
    return this.nearestSync(point, k, tier, options);
  }

  nearestSync(point: LatLon, k: number, tier: NodeTier, options: NearestOptions = {}): NearbyNode[] {
    const filter = combinedFilter(options);
    const maxDistanceKm = options.maxDistanceKm;
    const oldest = this.#now() - this.ttlMs;
    const stats = this.#stats;
    const found = this.#indexes[tier].nearest(point, k, {
      maxExamined: this.#maxExamined,
      ...(maxDistanceKm === undefined ? {} : { maxDistanceKm }),
      filter: (record) => record.lastSeen > oldest && (filter === undefined || filter(record, stats.get(record.id) ?? FRESH_STATS)),
    });
    // the live record, not a copy: callers treat results as read-only (see Registry.nearest)
    return found.map(({ value, distanceKm }) => ({ node: value, stats: stats.get(value.id) ?? FRESH_STATS, distanceKm }));
  }

  async stats(id: string): Promise<NodeStats> {
    return { ...(this.#stats.get(id) ?? FRESH_STATS) };
  }

  async learn(id: string, observation: Observation, rates: LearningRates): Promise<void> {
    const next = foldObservation(this.#stats.get(id) ?? FRESH_STATS, observation, rates);
    this.#stats.delete(id); // re-insert so Map order tracks recency for eviction
    this.#stats.set(id, next);
    if (this.#stats.size > this.#maxStats) this.#stats.delete(this.#stats.keys().next().value!);
  }

  async claimNonce(key: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const expiry = this.#nonces.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.#nonces.delete(key);
    this.#nonces.set(key, now + ttlMs);
    if (this.#nonces.size > this.#maxNonces) this.#nonces.delete(this.#nonces.keys().next().value!);
    return true;
  }

  async count(): Promise<Record<NodeTier, number>> {
    return { edge: this.#indexes.edge.size, cloud: this.#indexes.cloud.size };
  }

  /**
   * Drops expired nodes and nonces, at most `sweepBatch` nodes per call, resuming where the last
   * call stopped: a full pass over a million nodes at once would stall queries for tens of ms.
   * Expired nodes are invisible to reads before they are swept, so a late sweep is harmless.
   * Runs on a timer; public so tests and benches can force it.
   */
  sweep(now = this.#now(), batch = this.#sweepBatch): number {
    const oldest = now - this.ttlMs - this.#sweepGraceMs;
    let removed = 0;
    for (let seen = 0; seen < batch; seen++) {
      this.#sweepCursor ??= this.#slots.entries();
      const next = this.#sweepCursor.next();
      if (next.done) {
        this.#sweepCursor = undefined;
        break;
      }
      const [id, slot] = next.value;
      if (slot.record.lastSeen <= oldest) {
        this.#indexes[slot.record.tier].remove(slot.entry);
        this.#slots.delete(id); // deleting the current entry is safe for a live Map iterator
        removed++;
      }
    }
    for (const [key, expiry] of this.#nonces) {
      if (expiry > now) break;
      this.#nonces.delete(key);
    }
    return removed;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }

  #live(id: string, now: number): Slot | undefined {
    const slot = this.#slots.get(id);
    if (slot === undefined || slot.record.lastSeen <= now - this.ttlMs) return undefined;
    return slot;
  }
}
