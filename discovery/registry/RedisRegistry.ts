/**
 * A registry in Redis, shared by any number of discovery replicas.
 *
 * Layout (all under `prefix`):
 * - `node:<id>`   hash: `d` descriptor (compact line, redisRecord.ts), `v` its version (new on every put), `c` caps bitmask,
 *                 `p` price (for the search script), `l` load, `f` free capacity, `s` last status update.
 *                 No TTL: liveness is the node's score in `seen` alone.
 * - `tile:<tier>:<set>:<x>:<y>`  GEO set per tileDegrees[tier]-square tile, what searches use (Redis
 *                 scans whole geohash cells around the point, and a tile bounds that scan to its
 *                 members). `<set>` is `a` (every node of the tier) or a capability bit (1 predict,
 *                 2 infer, 4 render: the nodes that have it), so a query for `infer` reads infer
 *                 nodes only. A node is in 1 + (its capabilities) tile sets.
 * - `tiles:<tier>:<set>`  GEO set of the occupied tiles' centres ("x:y"), searched nearest-first;
 *                 a tile leaves it when its set empties.
 * - `census:<tier>` hash set → members (`a`: the tier's node count), so a query searches its
 *                 rarest capability's sets.
 * - `tileOf`      hash id → "tier mask x:y", the sets a node was placed in, so a moved, removed or
 *                 expired node leaves exactly those (PLACE / UNPLACE / SWEEP in redisScripts.ts).
 * - `search`      hash id → "v l f s c p d" (the node hash's search fields and, last, its
 *                 descriptor line): the search script reads every candidate in one HMGET instead of
 *                 a call per node. Written with the node hash (put, TOUCH, remove), dropped by the
 *                 sweep; until then a row of an expired node is skipped by its lastSeen.
 * - `seen`        sorted set id → last seen (epoch ms), the deadline set: a node is live while its
 *                 score is within ttl of now. Liveness from the node channel lands here as one
 *                 `ZADD XX GT` per batch of nodes (refresh()), not a script and a PEXPIRE per node;
 *                 replicas sweep nodes whose score fell behind (SWEEP removes every key of theirs).
 * - `stats:<id>`  hash `b` base latency, `n` samples, `r` reputation; its own long ttl, so a node
 *                 cannot shed a bad record by re-registering.
 * - `nonce:<key>` SET NX PX: replay protection agreed by every replica (registrations and the
 *                 signed HTTP heartbeats; the node channel needs none after its registration).
 *
 * Replicas must run the same layout: upgrade them together (and flush the prefix) when it changes;
 * there is no migration. This layout (capability tile sets, tile centres, census) replaced
 * `geo:<tier>` + `tiles:<tier>` sets of "x:y" + tileOf → tile key.
 *
 * Queries search tiles best-first (redisScripts.ts NEAREST) until k nodes pass the filter, and
 * get the descriptors in the same reply: one round trip, and no descriptor cache in this process
 * (its churn, parsed objects promoted to the old generation, caused 8-17 ms GC pauses). Lua
 * keeps heartbeat and EWMA updates atomic across replicas.
 * Keys are built inside scripts, so this targets a single Redis (not Cluster).
 */
import { importOptional } from '../../protocol/server/optionalPackages.js';
import type { NodeTier } from '../../protocol/index.js';
import { greatCircleKm, type LatLon } from '../geo.js';
import {
  FRESH_STATS,
  resolveTtlMs,
  type LearningRates,
  type NearbyNode,
  capabilityMask,
  combinedFilter,
  type NearestOptions,
  type NodeRecord,
  type NodeStats,
  type Observation,
  type Registry,
  type RegistryTiming,
} from './Registry.js';
import { makeClient } from './redisClient.js';
import { clampLat, decodeDescriptor, encodeDescriptor, newVersion, parseRecord, parseStats, searchFields, searchRow } from './redisRecord.js';
import { LEARN, NEAREST, NEAREST_SHA, PLACE, PLACE_SHA, SWEEP, TOUCH, UNPLACE } from './redisScripts.js';

export interface RedisRegistryOptions extends RegistryTiming {
  /** `redis://host:port[/db]`. */
  url: string;
  /** Key prefix, so several deployments (or tests) share one Redis. Default `eo:disc:`. */
  prefix?: string;
  /** How long learned stats outlive their node's last report. Default 7 days. */
  statsTtlMs?: number;
  /**
   * First radius of the occupied-tile search, widened x2 while a tile beyond it could still hold
   * a nearer node. Default (and at least) one tile diagonal.
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
   * Members per ZADD in refresh(): bounds how long one command holds Redis, and so what a query
   * queued behind it waits (a 500-member ZADD XX GT is ~0.15 ms). Default 500.
   */
  refreshBatch?: number;
}

const MAX_RADIUS_KM = 20_040;

type Client = ReturnType<typeof makeClient>;
type Multi = ReturnType<Client['multi']>;

export class RedisRegistry implements Registry {
  readonly kind = 'redis' as const;
  readonly ttlMs: number;
  readonly #client: Client;
  readonly #prefix: string;
  readonly #statsTtlMs: number;
  readonly #initialRadiusKm: number;
  readonly #maxExamined: number;
  readonly #sweepIntervalMs: number;
  readonly #tileDegrees: Record<NodeTier, number>;
  readonly #now: () => number;
  readonly #sweepGraceMs: number;
  readonly #refreshBatch: number;
  /** EWMA of the eligible share of members read, across queries with an eligibility check. */
  #passRate = 0.5;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Connects first, so a bad URL fails here with a clear message rather than on the first query. */
  static async connect(options: RedisRegistryOptions): Promise<RedisRegistry> {
    let connected = false;
    const { createClient } = await importOptional('the Redis registry (edge-offload discovery --redis)', () => import('@redis/client'));
    const client = makeClient(createClient, options.url, options.commandTimeoutMs ?? 0, () => connected);
    // without a listener node-redis rethrows socket errors as uncaught; reconnects are handled above
    client.on('error', () => {});
    try {
      await client.connect();
      connected = true;
    } catch (err) {
      await client.destroy?.();
      throw new Error(`cannot connect to Redis at ${options.url}: ${(err as Error).message}. Is redis-server running?`);
    }
    return new RedisRegistry(client, options);
  }

  private constructor(client: Client, options: RedisRegistryOptions) {
    const { heartbeatIntervalMs, ttlMs, sweepGraceMs } = resolveTtlMs(options);
    this.ttlMs = ttlMs;
    this.#sweepGraceMs = sweepGraceMs;
    this.#client = client;
    this.#prefix = options.prefix ?? 'eo:disc:';
    this.#statsTtlMs = options.statsTtlMs ?? 7 * 24 * 3600_000;
    this.#tileDegrees = { edge: 0.25, cloud: 2, ...options.tileDegrees };
    for (const deg of Object.values(this.#tileDegrees)) if (!(deg > 0) || 360 % deg !== 0) throw new TypeError('tileDegrees must divide 360');
    this.#initialRadiusKm = options.initialRadiusKm ?? 0;
    this.#maxExamined = options.maxExaminedPerQuery ?? 20_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? heartbeatIntervalMs;
    this.#now = options.now ?? Date.now;
    this.#refreshBatch = options.refreshBatch ?? 500;
    this.#sweeper = setInterval(() => void this.sweep().catch(() => {}), this.#sweepIntervalMs);
    this.#sweeper.unref();
  }

  async put(node: NodeRecord): Promise<void> {
    const multi = this.#client.multi().addCommand(['DEL', this.#nodeKey(node.id)]);
    await this.#writeNode(multi, node, 'EVAL', PLACE).exec();
  }

  /** Bulk load for benches: one pipeline per call, no transaction. */
  async putMany(nodes: NodeRecord[]): Promise<void> {
    // loaded first in the same pipeline, so every EVALSHA after it finds the script
    const multi = this.#client.multi().addCommand(['SCRIPT', 'LOAD', PLACE]);
    for (const node of nodes) this.#writeNode(multi, node, 'EVALSHA', PLACE_SHA);
    await multi.execAsPipeline();
  }

  /** Queues what registering `node` writes: its hash, its search row, its tile sets, last seen. */
  #writeNode(multi: Multi, node: NodeRecord, evalCommand: 'EVAL' | 'EVALSHA', place: string): Multi {
    const key = this.#nodeKey(node.id);
    const { load, freeCapacity, lastSeen, ...fixed } = node;
    const v = newVersion();
    const d = encodeDescriptor(fixed);
    return multi
      .addCommand(['HSET', key, 'd', d, 'v', v, ...searchFields(node), 'l', String(load), 'f', String(freeCapacity), 's', String(lastSeen)])
      .addCommand(['HSET', this.#searchKey, node.id, searchRow(v, node, d)])
      .addCommand([evalCommand, place, '1', this.#tileOfKey, ...this.#placeArgs(node)])
      .addCommand(['ZADD', this.#prefix + 'seen', String(lastSeen), node.id]);
  }

  async touch(id: string, status: { load: number; freeCapacity: number }, now = this.#now()): Promise<NodeRecord | undefined> {
    const d = await this.#client.sendCommand<string | null>([
      'EVAL', TOUCH, '3', this.#nodeKey(id), this.#seenKey, this.#searchKey,
      String(status.load), String(status.freeCapacity), String(now), String(this.#now() - this.ttlMs), id,
    ]);
    if (d === null || d === undefined) return undefined;
    return decodeDescriptor(String(d), { load: status.load, freeCapacity: status.freeCapacity, lastSeen: now });
  }

  /**
   * One `ZADD XX GT` per `refreshBatch` nodes, and a ZMSCORE to tell which ids Redis no longer
   * holds, pipelined: two commands per batch instead of a script per node. XX never re-adds a
   * removed or swept node; GT never moves a lastSeen back. A node expired but not yet swept is
   * revived (its connection just proved it alive), on both backends.
   */
  async refresh(seen: ReadonlyMap<string, number>): Promise<string[]> {
    if (seen.size === 0) return [];
    const pipeline = this.#client.multi();
    let zadd = ['ZADD', this.#seenKey, 'XX', 'GT'];
    let ids: string[] = [];
    for (const [id, lastSeen] of seen) {
      zadd.push(String(lastSeen), id);
      ids.push(id);
      if (ids.length === this.#refreshBatch) {
        pipeline.addCommand(zadd).addCommand(['ZMSCORE', this.#seenKey, ...ids]);
        zadd = ['ZADD', this.#seenKey, 'XX', 'GT'];
        ids = [];
      }
    }
    if (ids.length > 0) pipeline.addCommand(zadd).addCommand(['ZMSCORE', this.#seenKey, ...ids]);
    const replies = (await pipeline.execAsPipeline()) as unknown[];
    const missing: string[] = [];
    const next = seen.keys();
    for (let i = 1; i < replies.length; i += 2) {
      for (const score of replies[i] as unknown[]) {
        const id = next.next().value!;
        if (score === null || score === undefined) missing.push(id);
      }
    }
    return missing;
  }

  async get(id: string): Promise<NodeRecord | undefined> {
    const [fields, score] = (await this.#client
      .multi()
      .addCommand(['HMGET', this.#nodeKey(id), 'd', 'l', 'f'])
      .addCommand(['ZSCORE', this.#seenKey, id])
      .execAsPipeline()) as unknown as [(string | null)[], string | null];
    if (score === null || score === undefined || Number(score) <= this.#now() - this.ttlMs) return undefined;
    return parseRecord(fields, Number(score));
  }

  async remove(id: string): Promise<boolean> {
    const replies = await this.#client
      .multi()
      .addCommand(['DEL', this.#nodeKey(id)])
      .addCommand(['HDEL', this.#searchKey, id])
      .addCommand(['ZREM', this.#prefix + 'seen', id])
      .addCommand(['EVAL', UNPLACE, '1', this.#tileOfKey, this.#prefix, id])
      .exec();
    return Number(replies[0]) > 0;
  }

  async nearest(point: LatLon, k: number, tier: NodeTier, options: NearestOptions = {}): Promise<NearbyNode[]> {
    if (k <= 0) return [];
    const maxDistanceKm = options.maxDistanceKm ?? Infinity;
    const e = options.eligibility ?? {};
    const oldest = this.#now() - this.ttlMs;
    const filter = combinedFilter(options);
    // the script gets the eligibility rules; `filter` re-checks in full here, because Lua numbers
    // and a caller's own filter are not the last word
    let need = k;
    for (;;) {
      const flat = await this.#evalNearest([
        this.#searchKey,
        String(point.lon), String(clampLat(point.lat)), String(need), this.#prefix + 'stats:', String(Math.min(MAX_RADIUS_KM, maxDistanceKm)),
        String(capabilityMask(e.caps ?? [])), String(e.maxPrice ?? 1e300), String(e.maxLoad ?? 1e300), String(e.minReputation ?? -1e300),
        String(this.#maxExamined), options.eligibility ? '1' : '0', String(this.#overfetch(options)),
        // a first radius under a tile's diagonal (on Redis's sphere) would only add a centre search
        String(this.#tileDegrees[tier]), this.#prefix, tier, String(oldest), String(Math.max(this.#initialRadiusKm, 111.25 * this.#tileDegrees[tier] * 1.4143)),
      ]);
      const read = Number(flat[1]);
      const rows = flat.slice(2).map(String);
      if (options.eligibility && read >= need) this.#passRate += 0.1 * (Math.max(rows.length / read, 0.02) - this.#passRate);
      const passing: NearbyNode[] = [];
      for (const row of rows) {
        // "id v l f s b n r" then the descriptor line, which holds spaces itself
        const fields = row.split(' ', 8);
        const [, , l, f, seen, b, n, r] = fields;
        const d = row.slice(fields.join(' ').length + 1);
        const node = decodeDescriptor(d, { load: Number(l), freeCapacity: Number(f), lastSeen: Number(seen) });
        if (node.lastSeen <= oldest) continue;
        const stats: NodeStats = n === '' ? FRESH_STATS : { baseLatencyMs: b === '' ? undefined : Number(b), samples: Number(n), reputation: r === '' ? 1 : Number(r) };
        if (filter !== undefined && !filter(node, stats)) continue;
        const distanceKm = greatCircleKm(point, node);
        if (distanceKm <= maxDistanceKm) passing.push({ node, stats, distanceKm });
      }
      // fewer rows than asked: the script ran out of ring (or of maxExamined); nothing more to find
      if (passing.length >= k || rows.length < need || need >= this.#maxExamined) {
        // Redis measures on its own sphere and geohash grid; re-sort on ours so both backends agree
        return passing.sort((a, b) => a.distanceKm - b.distanceKm).slice(0, k);
      }
      // the caller's own filter rejected some of what the script passed: ask for more
      need = Math.min(this.#maxExamined, need * 4);
    }
  }

  /**
   * EVALSHA: the 4 KB script is sent and hashed once per connection, not on every query. A Redis
   * that lost its script cache (restart, SCRIPT FLUSH) answers NOSCRIPT, and EVAL reloads it.
   */
  async #evalNearest(args: string[]): Promise<string[]> {
    try {
      return await this.#client.sendCommand<string[]>(['EVALSHA', NEAREST_SHA, '1', ...args]);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return await this.#client.sendCommand<string[]>(['EVAL', NEAREST, '1', ...args]);
    }
  }

  /**
   * Members to read per wanted node on the first try: about 1 / (the share of nodes that passed
   * the eligibility check lately), so a selective query rarely needs a second pass.
   */
  #overfetch(options: NearestOptions): number {
    if (!options.eligibility) return 1.25;
    return Math.min(20, Math.max(1.25, 1.25 / this.#passRate));
  }

  async stats(id: string): Promise<NodeStats> {
    return parseStats(await this.#client.sendCommand<(string | null)[]>(['HMGET', this.#statsKey(id), 'b', 'n', 'r']));
  }

  async learn(id: string, obs: Observation, rates: LearningRates): Promise<void> {
    await this.#client.sendCommand([
      'EVAL', LEARN, '1', this.#statsKey(id),
      obs.baseLatencyMs === undefined ? '0' : '1', String(obs.baseLatencyMs ?? 0), obs.answered ? '1' : '0',
      String(rates.latencyAlpha), String(rates.reputationAlpha), String(this.#statsTtlMs),
    ]);
  }

  async claimNonce(key: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#client.sendCommand(['SET', this.#prefix + 'nonce:' + key, '1', 'PX', String(Math.ceil(ttlMs)), 'NX']);
    return reply !== null && reply !== undefined;
  }

  async count(): Promise<Record<NodeTier, number>> {
    const [edge, cloud] = await Promise.all([
      this.#client.sendCommand<string | null>(['HGET', this.#prefix + 'census:edge', 'a']),
      this.#client.sendCommand<string | null>(['HGET', this.#prefix + 'census:cloud', 'a']),
    ]);
    return { edge: Number(edge ?? 0), cloud: Number(cloud ?? 0) };
  }

  /** Removes nodes whose hash expired from the tile sets. Any replica may run it; it is idempotent. */
  async sweep(now = this.#now(), batch = 1000): Promise<number> {
    const removed = await this.#client.sendCommand<number>([
      'EVAL', SWEEP, '3', this.#seenKey, this.#tileOfKey, this.#searchKey, String(now - this.ttlMs - this.#sweepGraceMs), String(batch), this.#prefix,
    ]);
    return Number(removed);
  }

  /** Deletes every key under the prefix (tests, benches). */
  async flush(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.#client.sendCommand<[string, string[]]>(['SCAN', cursor, 'MATCH', this.#prefix + '*', 'COUNT', '1000']);
      cursor = String(next);
      if (keys.length > 0) await this.#client.sendCommand(['UNLINK', ...keys.map(String)]);
    } while (cursor !== '0');
  }

  /** Bytes Redis uses in total (INFO memory), for the bench's memory-per-node figure. */
  async usedMemoryBytes(): Promise<number> {
    const info = String(await this.#client.sendCommand(['INFO', 'memory']));
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    await this.#client.close().catch(() => this.#client.destroy());
  }

  #nodeKey(id: string): string {
    return `${this.#prefix}node:${id}`;
  }
  #statsKey(id: string): string {
    return `${this.#prefix}stats:${id}`;
  }
  get #seenKey(): string {
    return this.#prefix + 'seen';
  }
  get #searchKey(): string {
    return this.#prefix + 'search';
  }
  get #tileOfKey(): string {
    return this.#prefix + 'tileOf';
  }
  /** PLACE's arguments: prefix, id, tier, caps mask, position, tile "x:y" and its centre. */
  #placeArgs(node: NodeRecord): string[] {
    const deg = this.#tileDegrees[node.tier];
    const nLon = Math.round(360 / deg);
    const lat = clampLat(node.lat);
    const tx = ((Math.floor((node.lon + 180) / deg) % nLon) + nLon) % nLon;
    const ty = Math.floor((lat + 90) / deg);
    const centre = [String((tx + 0.5) * deg - 180), String(clampLat((ty + 0.5) * deg - 90))];
    return [this.#prefix, node.id, node.tier, String(capabilityMask(node.caps)), String(node.lon), String(lat), `${tx}:${ty}`, ...centre];
  }
}
