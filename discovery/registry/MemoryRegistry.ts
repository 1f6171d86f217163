/**
 * The default registry: one process, nodes in a spherical octree per tier (exact k-nearest
 * without a scan), stats and nonces in maps. Expired nodes are invisible at once (every read
 * checks `lastSeen`) and swept from the index on a timer.
 */
import type { NodeTier } from '../../protocol/index.js';
import type { LatLon } from '../geo.js';
import { SphereIndex, type IndexEntry } from './SphereIndex.js';
import {
  CAPABILITY_BITS,
  FRESH_STATS,
  foldObservation,
  resolveTtlMs,
  combinedFilter,
  type LearningRates,
  type NearbyNode,
  type NearestOptions,
  type NodeFilter,
  type NodeRecord,
  type NodeStats,
  type Observation,
  type Registry,
  type SlotHandle,
  type SlotLiveness,
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
  entry: IndexEntry<Slot>;
  /** The record's capabilities as CAPABILITY_BITS: the eligibility check is one AND, not an array search. */
  caps: number;
  /** Its place in the slot table (refreshSlots), kept while the node is held. */
  slot: number;
}

export class MemoryRegistry implements Registry, SlotLiveness {
  readonly kind = 'memory' as const;
  readonly ttlMs: number;
  readonly #slots = new Map<string, Slot>();
  readonly #indexes: Record<NodeTier, SphereIndex<Slot>> = { edge: new SphereIndex(), cloud: new SphereIndex() };
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
  /**
   * Every held node by slot, for refreshSlots(): the channel process sends a liveness batch as
   * numbers (slot, generation, time), so a batch of 500 nodes lands in this heap as three typed
   * arrays instead of a Map of 500 id strings (~50 KB of young garbage per batch, 16 a second at
   * 8,000 nodes, deserialised in the process that answers queries). A slot is freed when its node
   * leaves and taken by the next new node; its generation then moves on, so a batch still
   * carrying the departed node's handle cannot refresh the newcomer.
   */
  readonly #bySlot: (Slot | undefined)[] = [];
  readonly #gens: number[] = [];
  readonly #freeSlots: number[] = [];
  /**
   * The running query's conditions (nearestSync is synchronous, so one query at a time): kept in
   * fields so the filter and the visitor below are made once, not per query. A query allocated
   * ~30 KB, most of the young-generation garbage of a replica serving queries.
   */
  readonly #q = { oldest: 0, eligible: false, caps: 0, maxPrice: Infinity, maxLoad: Infinity, minReputation: -Infinity, stats: false, filter: undefined as NodeFilter | undefined, out: undefined as NearbyNode[] | undefined };
  /** eligibilityFilter's conditions (Registry.ts), then the caller's filter, on the fields above. */
  readonly #accept = (slot: Slot): boolean => {
    const q = this.#q;
    const record = slot.record;
    if (record.lastSeen <= q.oldest) return false;
    if (q.eligible && !(record.freeCapacity > 0 && record.load < q.maxLoad && record.pricePerMinute <= q.maxPrice && (slot.caps & q.caps) === q.caps)) return false;
    if (!q.stats) return true;
    const stats = this.#stats.get(record.id) ?? FRESH_STATS;
    return (!q.eligible || stats.reputation >= q.minReputation) && (q.filter === undefined || q.filter(record, stats));
  };
  readonly #collect = (slot: Slot, distanceKm: number): void => {
    this.#q.out!.push({ node: slot.record, stats: this.#stats.get(slot.record.id) ?? FRESH_STATS, distanceKm });
  };
  readonly #search = { maxExamined: 0, maxDistanceKm: undefined as number | undefined, filter: this.#accept };

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
    let caps = 0;
    for (const cap of record.caps) caps |= CAPABILITY_BITS[cap] ?? 0;
    // a node registering again keeps its slot: a batch with its handle still refreshes it
    const number = old?.slot ?? this.#freeSlots.pop() ?? this.#bySlot.length;
    const slot: Slot = { record, entry: undefined as unknown as IndexEntry<Slot>, caps, slot: number };
    slot.entry = this.#indexes[record.tier].insert(record, slot);
    this.#slots.set(record.id, slot);
    this.#bySlot[number] = slot;
    this.#gens[number] ??= 0;
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

  /** The liveness handle of a held node (for refreshSlots), undefined when it is not held. */
  slotOf(id: string): SlotHandle | undefined {
    const slot = this.#slots.get(id);
    return slot === undefined ? undefined : { slot: slot.slot, gen: this.#gens[slot.slot]! };
  }

  /**
   * refresh() by handle: entry i says node (slots[i], gens[i]) was heard at seen[i]. Same rules
   * as refresh() (never backwards, never brings back a removed or swept node: its slot's
   * generation moved on). Returns the positions in the batch of the handles it does not hold.
   */
  refreshSlots(slots: Uint32Array, gens: Uint32Array, seen: Float64Array): number[] {
    const missing: number[] = [];
    const bySlot = this.#bySlot;
    for (let i = 0; i < slots.length; i++) {
      const at = slots[i]!;
      const slot = at < bySlot.length ? bySlot[at] : undefined;
      if (slot === undefined || this.#gens[at] !== gens[i]) missing.push(i);
      else if (seen[i]! > slot.record.lastSeen) slot.record.lastSeen = seen[i]!;
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
    this.#freeSlot(slot);
    return true;
  }

  async nearest(point: LatLon, k: number, tier: NodeTier, options: NearestOptions = {}): Promise<NearbyNode[]> {
    return this.nearestSync(point, k, tier, options);
  }

  nearestSync(point: LatLon, k: number, tier: NodeTier, options: NearestOptions = {}): NearbyNode[] {
    const e = options.eligibility;
    const q = this.#q;
    q.oldest = this.#now() - this.ttlMs;
    q.eligible = e !== undefined;
    q.caps = 0;
    q.filter = options.filter;
    for (const cap of e?.caps ?? []) {
      const bit = CAPABILITY_BITS[cap];
      if (bit !== undefined) q.caps |= bit;
      else {
        // not a capability this registry knows (the query schema allows none): the reference filter, exactly
        q.eligible = false;
        q.filter = combinedFilter(options);
        break;
      }
    }
    q.maxPrice = e?.maxPrice ?? Infinity;
    q.maxLoad = e?.maxLoad ?? Infinity;
    q.minReputation = e?.minReputation ?? -Infinity;
    q.stats = (q.eligible && e?.minReputation !== undefined) || q.filter !== undefined;
    const out: NearbyNode[] = (q.out = []);
    const search = this.#search;
    search.maxExamined = this.#maxExamined;
    search.maxDistanceKm = options.maxDistanceKm;
    try {
      // the live record, not a copy: callers treat results as read-only (see Registry.nearest)
      this.#indexes[tier].visitNearest(point, k, search, this.#collect);
    } finally {
      q.filter = undefined; // a caller's filter is not kept past its query
      q.out = undefined;
    }
    return out;
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
        this.#freeSlot(slot);
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

  /** A departed node's slot goes back to the pool under a new generation (uint32, wrapping). */
  #freeSlot(slot: Slot): void {
    this.#bySlot[slot.slot] = undefined;
    this.#gens[slot.slot] = (this.#gens[slot.slot]! + 1) >>> 0;
    this.#freeSlots.push(slot.slot);
  }

  #live(id: string, now: number): Slot | undefined {
    const slot = this.#slots.get(id);
    if (slot === undefined || slot.record.lastSeen <= now - this.ttlMs) return undefined;
    return slot;
  }
}
