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
 * - `all:<tier>:<set>`  GEO set of every member of the tier's `<set>` (the union of its tiles),
 *                 searched instead of the tiles where they are sparse (`sparseTileMembers`).
 * - `census:<tier>` hash set → members (`a`: the tier's node count), so a query searches its
 *                 rarest capability's sets.
 * - `tileOf`      hash id → "tier mask x:y", the sets a node was placed in, so a moved, removed or
 *                 expired node leaves exactly those (PLACE / UNPLACE / SWEEP in redisScripts.ts).
 * - `search`      hash id → "v l f s c p" (the node hash's search fields, a lean row: no
 *                 descriptor line, which a replica holds by version and fetches from the node hash
 *                 once per registration, DESCRIBE): the search script reads every candidate in one
 *                 HMGET instead of a call per node. Written with the node hash (put, TOUCH, remove),
 *                 dropped by the sweep; until then a row of an expired node is skipped by its lastSeen.
 * - `seen`        sorted set id → last seen (epoch ms), the deadline set: a node is live while its
 *                 score is within ttl of now. Liveness from the node channel lands here as one
 *                 `ZADD XX GT` per batch of nodes (refresh()), not a script and a PEXPIRE per node;
 *                 replicas sweep nodes whose score fell behind (SWEEP removes every key of theirs).
 * - `stats:<id>`  hash `b` base latency, `n` samples, `r` reputation; its own long ttl, so a node
 *                 cannot shed a bad record by re-registering.
 * - `learned`     hash id → "b n r", a placed node's `stats:<id>` fields mirrored (empty when none):
 *                 PLACE copies them at registration, LEARN refreshes them, UNPLACE and SWEEP drop
 *                 them, so the search reads every candidate's stats in one HMGET instead of a call
 *                 per candidate. A row missing (placed by an older replica) is read from `stats:<id>`.
 * - `nonce:<key>` SET NX PX: replay protection agreed by every replica (registrations and the
 *                 signed HTTP heartbeats; the node channel needs none after its registration).
 *
 * Replicas must run the same layout: upgrade them together (and flush the prefix) when it changes;
 * there is no migration. Lean search rows: a replica from before them skips every row a newer one
 * wrote (its search wants the descriptor line after the price), so upgrade replicas together; a
 * newer replica reads the older rows (the line after the price is ignored) and their descriptors. This layout (capability tile sets, tile centres, census) replaced
 * `geo:<tier>` + `tiles:<tier>` sets of "x:y" + tileOf → tile key.
 *
 * Queries search tiles best-first (redisNearest.ts NEAREST) until k nodes pass the filter, and
 * get the descriptors in the same reply: one round trip, and no descriptor cache in this process
 * (its churn, parsed objects promoted to the old generation, caused 8-17 ms GC pauses). Lua
 * keeps heartbeat and EWMA updates atomic across replicas.
 * Keys are built inside scripts from one prefix (RedisRegion.ts runs them); RedisClusterRegistry
 * runs the same keyspace once per region, the prefix hash-tagged so a region's keys share a slot.
 */
import { importOptional } from '../../protocol/server/optionalPackages.js';
import type { NodeTier } from '../../protocol/index.js';
import type { LatLon } from '../geo.js';
import type { LearningRates, LivenessStore, NearbyNode, NearestOptions, NodeRecord, NodeStats, Observation, Registry, SharedLiveness, StatusUpdate } from './Registry.js';
import { BYTES_REPLY, makeClient } from './redisClient.js';
import { RedisRegion, type RedisLink } from './RedisRegion.js';
import { resolveLayout, type RedisLayoutOptions } from './redisLayout.js';

export interface RedisRegistryOptions extends RedisLayoutOptions {
  /** `redis://host:port[/db]`. */
  url: string;
  /**
   * Queries (the search script, descriptor fetches) on a connection of their own. Redis runs a
   * connection's pipelined commands in order, all that arrived, before it turns to the next
   * connection, so on a shared one a query waited behind every liveness and status batch the
   * replica had sent before it (a liveness round of 8,000 nodes is 80 commands, several ms of
   * Redis); on its own it waits behind at most one read of the other's (16 KB). Default true.
   */
  queryConnection?: boolean;
  /**
   * Sweep expired nodes (every `sweepIntervalMs`). Default true; false for an instance that only
   * writes liveness (the channel process's, RedisRegistry.livenessStore).
   */
  sweeps?: boolean;
}

type Client = ReturnType<typeof makeClient>;

export class RedisRegistry implements Registry, SharedLiveness {
  readonly kind = 'redis' as const;
  readonly ttlMs: number;
  readonly #client: Client;
  readonly #queryClient: Client | undefined;
  readonly #prefix: string;
  readonly #region: RedisRegion;
  readonly #now: () => number;
  readonly #liveness: LivenessStore | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Connects first, so a bad URL fails here with a clear message rather than on the first query. */
  static async connect(options: RedisRegistryOptions): Promise<RedisRegistry> {
    const { createClient } = await importOptional('the Redis registry (edge-offload discovery --redis)', () => import('@redis/client'));
    let connected = false;
    const clients = [makeClient(createClient, options.url, options.commandTimeoutMs ?? 0, () => connected)];
    if (options.queryConnection ?? true) clients.push(makeClient(createClient, options.url, options.commandTimeoutMs ?? 0, () => connected));
    // without a listener node-redis rethrows socket errors as uncaught; reconnects are handled above
    for (const client of clients) client.on('error', () => {});
    try {
      for (const client of clients) await client.connect();
      connected = true;
    } catch (err) {
      for (const client of clients) await client.destroy?.();
      throw new Error(`cannot connect to Redis at ${options.url}: ${(err as Error).message}. Is redis-server running?`);
    }
    return new RedisRegistry(clients[0]!, clients[1], options);
  }

  private constructor(client: Client, queryClient: Client | undefined, options: RedisRegistryOptions) {
    const layout = resolveLayout(options);
    this.ttlMs = layout.ttlMs;
    this.#client = client;
    this.#queryClient = queryClient;
    this.#prefix = layout.prefix;
    this.#now = layout.now;
    const link: RedisLink = {
      send: (_key, args) => client.sendCommand(args),
      batch: (_key, commands, atomic) => {
        const multi = client.multi();
        for (const c of commands) multi.addCommand(c);
        return (atomic ? multi.exec() : multi.execAsPipeline()) as Promise<unknown[]>;
      },
      ...(queryClient ? { query: (_key: string, args: string[]) => queryClient.sendCommand(args) } : {}),
      bytes: (_key, args) => (queryClient ?? client).sendCommand(args, BYTES_REPLY),
    };
    this.#region = new RedisRegion(link, layout.prefix, layout);
    // on a clock of its own (tests) the liveness writes stay here: another process runs on Date.now
    this.#liveness = options.now
      ? undefined
      : {
          kind: 'redis',
          url: options.url,
          options: {
            prefix: layout.prefix,
            heartbeatIntervalMs: layout.heartbeatIntervalMs,
            missedHeartbeats: layout.ttlMs / layout.heartbeatIntervalMs,
            sweepGraceMs: layout.sweepGraceMs,
            refreshBatch: layout.refreshBatch,
            touchBatch: layout.touchBatch,
            commandTimeoutMs: options.commandTimeoutMs ?? 0,
          },
        };
    if (options.sweeps ?? true) {
      this.#sweeper = setInterval(() => void this.sweep().catch(() => {}), layout.sweepIntervalMs);
      this.#sweeper.unref();
    }
  }

  /** This keyspace's liveness for another process's connection (Registry.ts LivenessStore). */
  livenessStore(): LivenessStore | undefined {
    return this.#liveness;
  }

  put(node: NodeRecord): Promise<void> {
    return this.#region.put(node);
  }

  /** Bulk load for benches: one pipeline per call, no transaction. */
  putMany(nodes: NodeRecord[]): Promise<void> {
    return this.#region.putMany(nodes);
  }

  touch(id: string, status: { load: number; freeCapacity: number }, now = this.#now()): Promise<NodeRecord | undefined> {
    return this.#region.touch(id, status, now);
  }

  /**
   * One `ZADD XX GT` per `refreshBatch` nodes, and a ZMSCORE to tell which ids Redis no longer
   * holds, pipelined: two commands per batch instead of a script per node. A node expired but not
   * yet swept is revived (its connection just proved it alive), on both backends.
   */
  async refresh(seen: ReadonlyMap<string, number>): Promise<string[]> {
    return seen.size === 0 ? [] : this.#region.refresh(seen);
  }

  /** One TOUCH_MANY script per `touchBatch` updates, pipelined. */
  async touchMany(updates: ReadonlyMap<string, StatusUpdate>): Promise<string[]> {
    return updates.size === 0 ? [] : this.#region.touchMany(updates);
  }

  get(id: string): Promise<NodeRecord | undefined> {
    return this.#region.get(id);
  }

  remove(id: string): Promise<boolean> {
    return this.#region.remove(id);
  }

  /**
   * Searches tiles best-first (redisNearest.ts NEAREST) until k nodes pass the filter; exact on
   * our sphere (Redis's is re-sorted away).
   */
  nearest(point: LatLon, k: number, tier: NodeTier, options: NearestOptions = {}): Promise<NearbyNode[]> {
    return this.#region.nearest(point, k, tier, options);
  }

  stats(id: string): Promise<NodeStats> {
    return this.#region.stats(id);
  }

  learn(id: string, obs: Observation, rates: LearningRates): Promise<void> {
    return this.#region.learn(id, obs, rates);
  }

  async claimNonce(key: string, ttlMs: number): Promise<boolean> {
    const reply = await this.#client.sendCommand(['SET', this.#prefix + 'nonce:' + key, '1', 'PX', String(Math.ceil(ttlMs)), 'NX']);
    return reply !== null && reply !== undefined;
  }

  count(): Promise<Record<NodeTier, number>> {
    return this.#region.count();
  }

  /** Removes nodes whose hash expired from the tile sets. Any replica may run it; it is idempotent. */
  sweep(now = this.#now(), batch = 1000): Promise<number> {
    return this.#region.sweep(now, batch);
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
    await this.#queryClient?.close().catch(() => this.#queryClient?.destroy());
  }
}
