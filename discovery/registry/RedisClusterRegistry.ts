/**
 * The registry on a Redis Cluster, for when one Redis is not enough: the layout of RedisRegistry
 * run once per geographic region (regionGrid.ts), each region's keys under a hash-tagged prefix
 * `<prefix>{r:<x>:<y>}:` so they share one slot and every script (placement, search, sweep) runs
 * on one shard. A node lives in the region of its position; its stats move with it.
 *
 * Keys besides the regions':
 * - `<prefix>{d<n>}:dir`  hash id → region, in 64 buckets by id (regionDirectory.ts): where a
 *                          node lives, for get, touch, refresh, remove and stats by id. Each
 *                          replica caches it (a hint: a miss in the cached region asks it).
 * - `<prefix>{d<n>}:stats:<id>`  stats learned before the node ever registered (moved into its
 *                          region on registration).
 * - `<prefix>regions:<tier>`  set of regions that ever held a node of the tier: queries and
 *                          sweeps visit only those. Read at connect and every sweep interval, so
 *                          a region's first node is visible to other replicas' queries within
 *                          one sweep interval (at once on the replica that registered it). It
 *                          never shrinks, and a replica writes back regions the set lost.
 * - `<prefix>nonce:<key>`  as on a single Redis.
 *
 * Queries: the region holding the point first, then every occupied region whose nearest possible
 * point is closer than the k-th node found (in parallel), merged and cut to k: exact, as on the
 * other backends. A query that needs a region whose shard is down fails with UNAVAILABLE (not a
 * partial answer: a shortlist missing the nearest nodes would send clients far away without
 * saying so); queries that only touch live shards keep answering, and the dead shard's regions
 * answer again once it is back (empty: its nodes register again when refresh() says so).
 * The cluster must run with `cluster-require-full-coverage no` for the live shards to keep serving.
 *
 * A registration that moves a node to another region is several steps on several shards, not one
 * transaction (stats copied, old region left, new one written, directory last): a replica dying
 * between them leaves the directory on the old region, so liveness finds the node missing there
 * and it registers again, which repairs it.
 */
import { importOptional } from '../../protocol/server/optionalPackages.js';
import type { NodeTier } from '../../protocol/index.js';
import { DiscoveryError, DiscoveryErrorCode as E } from '../errors.js';
import type { LatLon } from '../geo.js';
import type { LearningRates, NearbyNode, NearestOptions, NodeRecord, NodeStats, Observation, Registry, StatusUpdate } from './Registry.js';
import { BYTES_REPLY, makeClusterClient } from './redisClient.js';
import { RedisRegion, type RedisLink } from './RedisRegion.js';
import { resolveLayout, type RedisLayoutOptions, type RegionSettings } from './redisLayout.js';
import { RegionDirectory } from './regionDirectory.js';
import { RegionGrid } from './regionGrid.js';

export interface RedisClusterRegistryOptions extends RedisLayoutOptions {
  /** Seed nodes `host:port` (any few masters; the client discovers the rest). */
  nodes: string[];
  /**
   * Region cells are this many degrees square (must divide 180). Default 10: a metro's k-nearest
   * stays in one region (two to four near a cell edge), and 25 countries spread over dozens of
   * regions, so over every shard. Replicas must agree on it.
   */
  regionDegrees?: number;
  /** Most id → region entries cached per replica (cleared when full). Default 1,000,000. */
  regionCacheSize?: number;
  /**
   * Regions a query's second wave asks at most (each later wave twice as many), nearest bound
   * first. Every region asked returns up to k nodes, decoded here: asking every region that could
   * still hold a nearer node at once cost a sparse tier's query (the cloud's few nodes over dozens
   * of regions) all of them, and most of its garbage. Infinity: every such region at once (one
   * round trip fewer, the most garbage). Default 2.
   */
  fanOutWave?: number;
}

type Cluster = ReturnType<typeof makeClusterClient>;

export class RedisClusterRegistry implements Registry {
  readonly kind = 'redis-cluster' as const;
  readonly ttlMs: number;
  readonly #cluster: Cluster;
  readonly #prefix: string;
  readonly #settings: RegionSettings;
  readonly #link: RedisLink;
  readonly #grid: RegionGrid;
  readonly #regions = new Map<string, RedisRegion>();
  readonly #dir: RegionDirectory;
  /** Occupied regions per tier as last read (undefined: unknown, so every region). */
  #occupied: Record<NodeTier, Set<string>> | undefined;
  readonly #sweeper: ReturnType<typeof setInterval>;
  #closed = false;
  /** RedisClusterRegistryOptions.fanOutWave; public so a bench can compare waves on one replica. */
  fanOutWave: number;

  static async connect(options: RedisClusterRegistryOptions): Promise<RedisClusterRegistry> {
    if (options.nodes.length === 0) throw new TypeError('nodes: give at least one cluster node host:port');
    if (!((options.fanOutWave ?? 2) >= 1)) throw new TypeError('fanOutWave must be at least 1');
    const { createCluster } = await importOptional('the Redis Cluster registry (edge-offload discovery --redis-cluster)', () => import('@redis/client'));
    const cluster = makeClusterClient(createCluster, options.nodes, options.commandTimeoutMs ?? 0);
    cluster.on('error', () => {});
    try {
      await cluster.connect();
    } catch (err) {
      await cluster.destroy?.();
      throw new Error(`cannot connect to the Redis Cluster at ${options.nodes.join(',')}: ${(err as Error).message}. Are the nodes up and the cluster created?`);
    }
    const registry = new RedisClusterRegistry(cluster, options);
    await registry.#readOccupied().catch(() => {});
    return registry;
  }

  private constructor(cluster: Cluster, options: RedisClusterRegistryOptions) {
    const layout = resolveLayout(options);
    this.ttlMs = layout.ttlMs;
    this.#settings = layout;
    this.#cluster = cluster;
    this.#prefix = layout.prefix;
    this.#grid = new RegionGrid(options.regionDegrees ?? 10);
    this.fanOutWave = options.fanOutWave ?? 2;
    const link: RedisLink = (this.#link = {
      send: (key, args) => cluster.sendCommand(key, false, args),
      bytes: (key, args) => cluster.sendCommand(key, false, args, BYTES_REPLY),
      batch: (key, commands, atomic) => {
        const multi = cluster.multi(key);
        for (const c of commands) multi.addCommand(key, false, c);
        return (atomic ? multi.exec() : multi.execAsPipeline()) as Promise<unknown[]>;
      },
    });
    this.#dir = new RegionDirectory(link, this.#prefix, options.regionCacheSize ?? 1_000_000);
    this.#sweeper = setInterval(() => {
      void this.sweep().catch(() => {});
      void this.#readOccupied().catch(() => {});
    }, layout.sweepIntervalMs);
    this.#sweeper.unref();
  }

  /** The key whose slot holds the region of `point` (operators: `CLUSTER KEYSLOT` tells its shard). */
  slotKeyOf(point: LatLon): string {
    return this.#region(this.#grid.regionOf(point)).seenKey;
  }

  async put(node: NodeRecord): Promise<void> {
    const name = this.#grid.regionOf(node);
    const region = this.#region(name);
    const dir = this.#dir.key(node.id);
    const old = await this.#guard(dir, this.#dir.lookup(node.id));
    if (old !== name) {
      // learned stats follow the node (a node must not shed a bad record by moving), from its old
      // region or from where they were kept before it ever registered
      const from = old ? this.#region(old) : new RedisRegion(this.#link, this.#dir.bucketPrefix(node.id), this.#settings);
      const stats = await this.#guard(from.seenKey, from.exportStats(node.id));
      if (stats) await this.#guard(region.seenKey, region.importStats(node.id, stats));
      if (old) await this.#guard(from.seenKey, from.remove(node.id));
    }
    await this.#guard(region.seenKey, region.put(node));
    if (old !== name) await this.#guard(dir, this.#dir.set(node.id, name));
    else this.#dir.remember(node.id, name);
    await this.#markOccupied(node.tier, name);
  }

  async touch(id: string, status: { load: number; freeCapacity: number }, now = this.#settings.now()): Promise<NodeRecord | undefined> {
    return this.#byId(id, (region) => region.touch(id, status, now));
  }

  /** Grouped by region, one pipelined refresh per region, all regions in parallel. */
  refresh(seen: ReadonlyMap<string, number>): Promise<string[]> {
    return this.#manyById(seen, (region, group) => region.refresh(group));
  }

  /** Grouped by region, one pipelined TOUCH_MANY per region, all regions in parallel. */
  touchMany(updates: ReadonlyMap<string, StatusUpdate>): Promise<string[]> {
    return this.#manyById(updates, (region, group) => region.touchMany(group));
  }

  /** Runs a batch op per region of the ids; ids a cached region lacks are retried where the directory says. */
  async #manyById<V>(entries: ReadonlyMap<string, V>, op: (region: RedisRegion, group: [string, V][]) => Promise<string[]>): Promise<string[]> {
    if (entries.size === 0) return [];
    const unknown = [...entries.keys()].filter((id) => this.#dir.cached(id) === undefined);
    // ids whose directory bucket is on a dead shard are left out (not reported missing: their
    // nodes must not be told to register again for an outage); the rest are written, then it throws
    let dirFailure: unknown;
    if (unknown.length > 0) await this.#dir.resolve(unknown).catch((err: unknown) => (dirFailure = err));
    const known = dirFailure === undefined ? [...entries] : [...entries].filter(([id]) => this.#dir.cached(id) !== undefined);
    const missing = await this.#grouped(known, op, true);
    if (dirFailure !== undefined) throw unavailable('the directory', dirFailure);
    if (missing.retry.length === 0) return missing.gone;
    // the cached region did not hold them: ask the directory once more (moved by another replica)
    const moved = await this.#guard('the directory', this.#dir.resolve(missing.retry, true));
    const again = await this.#grouped(missing.retry.filter((id) => moved.has(id)).map((id): [string, V] => [id, entries.get(id)!]), op, false);
    return [...missing.gone, ...missing.retry.filter((id) => !moved.has(id)), ...again.gone, ...again.retry];
  }

  async get(id: string): Promise<NodeRecord | undefined> {
    return this.#byId(id, (region) => region.get(id));
  }

  async remove(id: string): Promise<boolean> {
    const dir = this.#dir.key(id);
    const name = await this.#guard(dir, this.#dir.lookup(id));
    if (!name) return false;
    const region = this.#region(name);
    const removed = await this.#guard(region.seenKey, region.remove(id));
    await this.#guard(dir, this.#dir.delete(id));
    return removed;
  }

  async nearest(point: LatLon, k: number, tier: NodeTier, options: NearestOptions = {}): Promise<NearbyNode[]> {
    if (k <= 0) return [];
    const maxDistanceKm = options.maxDistanceKm ?? Infinity;
    const home = this.#grid.regionOf(point);
    const candidates = [...(this.#occupied?.[tier] ?? this.#grid.all)]
      .map((name) => ({ name, bound: this.#grid.lowerBoundKm(point, name, home) }))
      .filter((c) => c.bound <= maxDistanceKm)
      .sort((a, b) => a.bound - b.bound);
    let found: NearbyNode[] = [];
    let next = 0;
    let width = 1;
    while (next < candidates.length) {
      const limit = found.length >= k ? found[k - 1]!.distanceKm : maxDistanceKm;
      // the first wave is the region the point is in (or the nearest occupied one), alone: most
      // queries end there; later waves are the nearest-bound regions that could still hold a
      // nearer node, fanOutWave of them, then twice as many each wave (the limit tightens between
      // waves, so the far regions of a sparse tier are seldom asked). Still exact: a region is
      // left out only once its bound is beyond the k-th node found.
      const wave = [];
      while (wave.length < width && next < candidates.length && candidates[next]!.bound <= limit) wave.push(candidates[next++]!);
      width = next <= 1 ? this.fanOutWave : width * 2;
      if (wave.length === 0) break;
      const parts = await Promise.all(
        wave.map(({ name }) => {
          const region = this.#region(name);
          return this.#guard(region.seenKey, region.nearest(point, k, tier, { ...options, maxDistanceKm: limit }));
        }),
      );
      found = found.concat(...parts).sort((a, b) => a.distanceKm - b.distanceKm).slice(0, k);
    }
    return found;
  }

  async stats(id: string): Promise<NodeStats> {
    const region = await this.#statsRegion(id);
    return this.#guard(region.seenKey, region.stats(id));
  }

  async learn(id: string, obs: Observation, rates: LearningRates): Promise<void> {
    const region = await this.#statsRegion(id);
    await this.#guard(region.seenKey, region.learn(id, obs, rates));
  }

  async claimNonce(key: string, ttlMs: number): Promise<boolean> {
    const k = this.#prefix + 'nonce:' + key;
    const reply = await this.#guard(k, this.#link.send(k, ['SET', k, '1', 'PX', String(Math.ceil(ttlMs)), 'NX']));
    return reply !== null && reply !== undefined;
  }

  async count(): Promise<Record<NodeTier, number>> {
    const counts = await Promise.all([...this.#occupiedAll()].map((name) => this.#guard(this.#region(name).seenKey, this.#region(name).count())));
    return counts.reduce((sum, c) => ({ edge: sum.edge + c.edge, cloud: sum.cloud + c.cloud }), { edge: 0, cloud: 0 });
  }

  /**
   * Sweeps every occupied region on its own shard, in parallel; a region whose shard is down is
   * skipped (its nodes are swept when it is back) and the others still are.
   */
  async sweep(now = this.#settings.now(), batch = 1000): Promise<number> {
    const results = await Promise.allSettled([...this.#occupiedAll()].map((name) => this.#region(name).sweep(now, batch)));
    return results.reduce((sum, r) => sum + (r.status === 'fulfilled' ? r.value : 0), 0);
  }

  /** Deletes every key under the prefix on every master (tests, benches). */
  async flush(): Promise<void> {
    for (const master of this.#cluster.masters) {
      const client = await this.#cluster.nodeClient(master);
      let cursor = '0';
      do {
        const [next, keys] = (await client.sendCommand(['SCAN', cursor, 'MATCH', this.#prefix + '*', 'COUNT', '1000'])) as [string, string[]];
        cursor = String(next);
        // one key per UNLINK: keys of several slots cannot share a command in a cluster
        await Promise.all(keys.map((key) => client.sendCommand(['UNLINK', String(key)])));
      } while (cursor !== '0');
    }
    this.#dir.clearCache();
    this.#occupied = { edge: new Set(), cloud: new Set() };
  }

  /** Bytes all masters use together (INFO memory). */
  async usedMemoryBytes(): Promise<number> {
    let total = 0;
    for (const master of this.#cluster.masters) {
      const info = String(await (await this.#cluster.nodeClient(master)).sendCommand(['INFO', 'memory']));
      total += Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    await this.#cluster.close().catch(() => this.#cluster.destroy());
  }

  #region(name: string): RedisRegion {
    let region = this.#regions.get(name);
    if (region === undefined) {
      region = new RedisRegion(this.#link, `${this.#prefix}{r:${name}}:`, this.#settings);
      this.#regions.set(name, region);
    }
    return region;
  }

  /** Where a node's stats are: its region, or its directory bucket before it ever registered. */
  async #statsRegion(id: string): Promise<RedisRegion> {
    const name = await this.#guard(this.#dir.key(id), this.#dir.lookup(id));
    return name ? this.#region(name) : new RedisRegion(this.#link, this.#dir.bucketPrefix(id), this.#settings);
  }

  /** `op` per cached region; ids with no known region are gone, ids a region lacks may have moved. */
  async #grouped<V>(entries: [string, V][], op: (region: RedisRegion, group: [string, V][]) => Promise<string[]>, mayRetry: boolean): Promise<{ gone: string[]; retry: string[] }> {
    const byRegion = new Map<string, [string, V][]>();
    const gone: string[] = [];
    for (const entry of entries) {
      const name = this.#dir.cached(entry[0]);
      if (name === undefined) gone.push(entry[0]);
      else if (byRegion.has(name)) byRegion.get(name)!.push(entry);
      else byRegion.set(name, [entry]);
    }
    const results = await Promise.allSettled([...byRegion].map(([name, group]) => op(this.#region(name), group)));
    const failed = results.find((r) => r.status === 'rejected');
    // the other regions were written; the failed one's nodes pong again next interval
    if (failed) throw unavailable('a batch of nodes', failed.reason);
    const missing = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    return mayRetry ? { gone, retry: missing } : { gone: [...gone, ...missing], retry: [] };
  }

  /** Runs `op` in the node's cached region, and once more in its directory region if that differs. */
  async #byId<T>(id: string, op: (region: RedisRegion) => Promise<T | undefined>): Promise<T | undefined> {
    const cached = this.#dir.cached(id);
    if (cached !== undefined) {
      const region = this.#region(cached);
      const result = await this.#guard(region.seenKey, op(region));
      if (result !== undefined) return result;
    }
    const name = await this.#guard(this.#dir.key(id), this.#dir.lookup(id));
    if (!name || name === cached) return undefined;
    this.#dir.remember(id, name);
    const region = this.#region(name);
    return this.#guard(region.seenKey, op(region));
  }

  #occupiedAll(): Set<string> {
    if (this.#occupied === undefined) return new Set(this.#grid.all);
    return new Set([...this.#occupied.edge, ...this.#occupied.cloud]);
  }

  async #markOccupied(tier: NodeTier, name: string): Promise<void> {
    if (this.#occupied?.[tier].has(name)) return;
    const key = `${this.#prefix}regions:${tier}`;
    // recorded before it counts as known here: if the shard holding the set is down, the next
    // registration in this region tries again
    await this.#link.send(key, ['SADD', key, name]).then(
      () => this.#occupied?.[tier].add(name),
      () => {},
    );
  }

  /**
   * Merges the stored occupied sets into what this replica knows (never shrinking it: a stale
   * region costs an empty search, a forgotten one would hide its nodes), and writes back what the
   * store lost (the shard holding the set restarted empty).
   */
  async #readOccupied(): Promise<void> {
    const key = (tier: NodeTier) => `${this.#prefix}regions:${tier}`;
    const read = (tier: NodeTier) => this.#link.send<string[]>(key(tier), ['SMEMBERS', key(tier)]);
    const [edge, cloud] = await Promise.all([read('edge'), read('cloud')]);
    const stored = { edge: new Set(edge.map(String)), cloud: new Set(cloud.map(String)) };
    const known = this.#occupied;
    this.#occupied = stored;
    if (known === undefined) return;
    for (const tier of ['edge', 'cloud'] as const) {
      const lost = [...known[tier]].filter((name) => !stored[tier].has(name));
      for (const name of lost) stored[tier].add(name);
      if (lost.length > 0) await this.#link.send(key(tier), ['SADD', key(tier), ...lost]);
    }
  }

  /** A shard that cannot be reached becomes UNAVAILABLE, naming the slot key (so the region). */
  async #guard<T>(slotKey: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      throw unavailable(slotKey, err);
    }
  }
}

function unavailable(where: string, cause: unknown): DiscoveryError {
  if (cause instanceof DiscoveryError) return cause;
  return new DiscoveryError(E.UNAVAILABLE, `the Redis Cluster shard for ${where} is unreachable (${(cause as Error)?.message ?? cause}); retry shortly`);
}
