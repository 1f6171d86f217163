/**
 * A registry in Redis, shared by any number of discovery replicas.
 *
 * Layout (all under `prefix`):
 * - `node:<id>`   hash: `d` descriptor JSON, `l` load, `f` free capacity, `s` last seen; PEXPIRE = ttl,
 *                 so Redis itself forgets a silent node.
 * - `geo:<tier>`  GEO set of node ids (GEOADD/GEOSEARCH).
 * - `seen`        sorted set id → last seen, so a sweep finds geo members whose hash expired.
 * - `stats:<id>`  hash `b` base latency, `n` samples, `r` reputation; its own long ttl, so a node
 *                 cannot shed a bad record by re-registering.
 * - `nonce:<key>` SET NX PX: replay protection agreed by every replica.
 *
 * Queries grow a GEOSEARCH radius (and COUNT) until k nodes pass the filter, then fetch the hashes
 * in one pipelined round trip. Lua keeps heartbeat and EWMA updates atomic across replicas.
 * Keys are built inside scripts, so this targets a single Redis (not Cluster).
 */
import { createClient } from '@redis/client';
import type { NodeTier } from '../../protocol/index.js';
import { greatCircleKm, type LatLon } from '../geo.js';
import {
  FRESH_STATS,
  resolveTtlMs,
  type LearningRates,
  type NearbyNode,
  type NodeFilter,
  type NodeRecord,
  type NodeStats,
  type Observation,
  type Registry,
  type RegistryTiming,
} from './Registry.js';

export interface RedisRegistryOptions extends RegistryTiming {
  /** `redis://host:port[/db]`. */
  url: string;
  /** Key prefix, so several deployments (or tests) share one Redis. Default `eo:disc:`. */
  prefix?: string;
  /** How long learned stats outlive their node's last report. Default 7 days. */
  statsTtlMs?: number;
  /** First GEOSEARCH radius; doubled ×4 until k nodes pass. Default 100 km. */
  initialRadiusKm?: number;
  /** Candidates fetched per k on the first round. Default 3. */
  overfetch?: number;
  /** Bound on candidates fetched per query when the filter rejects most nodes. Default 20,000. */
  maxExaminedPerQuery?: number;
  /** How often geo members of expired nodes are swept. Default: the heartbeat interval. */
  sweepIntervalMs?: number;
}

// Redis GEO cannot store latitudes beyond ±85.05112878 (Web Mercator); the true lat stays in the hash.
const GEO_MAX_LAT = 85.05112878;
const MAX_RADIUS_KM = 20_040;

const TOUCH = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'l', ARGV[1], 'f', ARGV[2], 's', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
return redis.call('HGET', KEYS[1], 'd')`;

// The same arithmetic as foldObservation() in Registry.ts.
const LEARN = `
local b = tonumber(redis.call('HGET', KEYS[1], 'b'))
local n = tonumber(redis.call('HGET', KEYS[1], 'n')) or 0
local r = tonumber(redis.call('HGET', KEYS[1], 'r')) or 1
if ARGV[1] == '1' then
  local x = tonumber(ARGV[2])
  if b == nil then b = x else b = b + tonumber(ARGV[4]) * (x - b) end
  n = n + 1
  redis.call('HSET', KEYS[1], 'b', string.format('%.17g', b))
end
local a = 0
if ARGV[3] == '1' then a = 1 end
r = r + tonumber(ARGV[5]) * (a - r)
redis.call('HSET', KEYS[1], 'n', n, 'r', string.format('%.17g', r))
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1`;

const SWEEP = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local removed = 0
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[3] .. id) == 0 then
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[1], id)
    removed = removed + 1
  end
end
return removed`;

/** Reconnects with backoff once up; the first connect fails fast so a wrong URL is reported at start. */
function makeClient(url: string, everConnected: () => boolean) {
  return createClient({
    url,
    socket: {
      connectTimeout: 3000,
      reconnectStrategy: (retries, cause) => (everConnected() ? Math.min(50 * 2 ** retries, 2000) : cause),
    },
  });
}
type Client = ReturnType<typeof makeClient>;
type Static = Omit<NodeRecord, 'load' | 'freeCapacity' | 'lastSeen'>;

export class RedisRegistry implements Registry {
  readonly kind = 'redis' as const;
  readonly ttlMs: number;
  readonly #client: Client;
  readonly #prefix: string;
  readonly #statsTtlMs: number;
  readonly #initialRadiusKm: number;
  readonly #overfetch: number;
  readonly #maxExamined: number;
  readonly #sweepIntervalMs: number;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Connects first, so a bad URL fails here with a clear message rather than on the first query. */
  static async connect(options: RedisRegistryOptions): Promise<RedisRegistry> {
    let connected = false;
    const client = makeClient(options.url, () => connected);
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
    const { heartbeatIntervalMs, ttlMs } = resolveTtlMs(options);
    this.ttlMs = ttlMs;
    this.#client = client;
    this.#prefix = options.prefix ?? 'eo:disc:';
    this.#statsTtlMs = options.statsTtlMs ?? 7 * 24 * 3600_000;
    this.#initialRadiusKm = options.initialRadiusKm ?? 100;
    this.#overfetch = options.overfetch ?? 3;
    this.#maxExamined = options.maxExaminedPerQuery ?? 20_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? heartbeatIntervalMs;
    this.#sweeper = setInterval(() => void this.sweep().catch(() => {}), this.#sweepIntervalMs);
    this.#sweeper.unref();
  }

  async put(node: NodeRecord): Promise<void> {
    const key = this.#nodeKey(node.id);
    const { load, freeCapacity, lastSeen, ...fixed } = node;
    const other: NodeTier = node.tier === 'edge' ? 'cloud' : 'edge';
    await this.#client
      .multi()
      .addCommand(['DEL', key])
      .addCommand(['HSET', key, 'd', JSON.stringify(fixed), 'l', String(load), 'f', String(freeCapacity), 's', String(lastSeen)])
      .addCommand(['PEXPIRE', key, String(this.ttlMs)])
      .addCommand(['ZREM', this.#geoKey(other), node.id])
      .addCommand(['GEOADD', this.#geoKey(node.tier), String(node.lon), String(clampLat(node.lat)), node.id])
      .addCommand(['ZADD', this.#prefix + 'seen', String(lastSeen), node.id])
      .exec();
  }

  /** Bulk load for benches: one pipeline per call, no transaction. */
  async putMany(nodes: NodeRecord[]): Promise<void> {
    const multi = this.#client.multi();
    for (const node of nodes) {
      const key = this.#nodeKey(node.id);
      const { load, freeCapacity, lastSeen, ...fixed } = node;
      multi
        .addCommand(['HSET', key, 'd', JSON.stringify(fixed), 'l', String(load), 'f', String(freeCapacity), 's', String(lastSeen)])
        .addCommand(['PEXPIRE', key, String(this.ttlMs)])
        .addCommand(['GEOADD', this.#geoKey(node.tier), String(node.lon), String(clampLat(node.lat)), node.id])
        .addCommand(['ZADD', this.#prefix + 'seen', String(lastSeen), node.id]);
    }
    await multi.execAsPipeline();
  }

  async touch(id: string, status: { load: number; freeCapacity: number }, now = Date.now()): Promise<NodeRecord | undefined> {
    const d = await this.#client.sendCommand<string | null>([
      'EVAL', TOUCH, '2', this.#nodeKey(id), this.#prefix + 'seen',
      String(status.load), String(status.freeCapacity), String(now), String(this.ttlMs), id,
    ]);
    if (d === null || d === undefined) return undefined;
    return { ...(JSON.parse(String(d)) as Static), load: status.load, freeCapacity: status.freeCapacity, lastSeen: now };
  }

  async get(id: string): Promise<NodeRecord | undefined> {
    const fields = await this.#client.sendCommand<(string | null)[]>(['HMGET', this.#nodeKey(id), 'd', 'l', 'f', 's']);
    return parseRecord(fields);
  }

  async remove(id: string): Promise<boolean> {
    const replies = await this.#client
      .multi()
      .addCommand(['DEL', this.#nodeKey(id)])
      .addCommand(['ZREM', this.#geoKey('edge'), id])
      .addCommand(['ZREM', this.#geoKey('cloud'), id])
      .addCommand(['ZREM', this.#prefix + 'seen', id])
      .exec();
    return Number(replies[0]) > 0;
  }

  async nearest(point: LatLon, k: number, tier: NodeTier, filter?: NodeFilter): Promise<NearbyNode[]> {
    if (k <= 0) return [];
    let radius = this.#initialRadiusKm;
    let count = Math.max(k * this.#overfetch, 8);
    const seen = new Map<string, NearbyNode | null>();
    for (;;) {
      const hits = await this.#client.sendCommand<string[][]>([
        'GEOSEARCH', this.#geoKey(tier), 'FROMLONLAT', String(point.lon), String(clampLat(point.lat)),
        'BYRADIUS', String(radius), 'km', 'ASC', 'COUNT', String(count), 'WITHDIST',
      ]);
      const fresh = hits.map((hit) => String(hit[0])).filter((id) => !seen.has(id));
      await this.#fetch(fresh, point, seen);
      const passing: NearbyNode[] = [];
      for (const hit of hits) {
        const candidate = seen.get(String(hit[0]));
        if (candidate && (filter === undefined || filter(candidate.node, candidate.stats))) passing.push(candidate);
      }
      const saturated = hits.length >= count;
      if (passing.length >= k || seen.size >= this.#maxExamined || (!saturated && radius >= MAX_RADIUS_KM)) {
        // Redis measures on its own sphere and geohash grid; re-sort on ours so both backends agree
        return passing.sort((a, b) => a.distanceKm - b.distanceKm).slice(0, k);
      }
      if (saturated) count *= 4;
      else radius = Math.min(radius * 4, MAX_RADIUS_KM);
    }
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
      this.#client.sendCommand<number>(['ZCARD', this.#geoKey('edge')]),
      this.#client.sendCommand<number>(['ZCARD', this.#geoKey('cloud')]),
    ]);
    return { edge: Number(edge), cloud: Number(cloud) };
  }

  /** Removes geo members whose node hash expired. Any replica may run it; it is idempotent. */
  async sweep(now = Date.now(), batch = 1000): Promise<number> {
    const removed = await this.#client.sendCommand<number>([
      'EVAL', SWEEP, '3', this.#prefix + 'seen', this.#geoKey('edge'), this.#geoKey('cloud'),
      String(now - this.ttlMs), String(batch), this.#prefix + 'node:',
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

  async #fetch(ids: string[], point: LatLon, into: Map<string, NearbyNode | null>): Promise<void> {
    if (ids.length === 0) return;
    // node-redis pipelines commands issued in the same tick: one round trip for all of them
    const replies = await Promise.all(
      ids.flatMap((id) => [
        this.#client.sendCommand<(string | null)[]>(['HMGET', this.#nodeKey(id), 'd', 'l', 'f', 's']),
        this.#client.sendCommand<(string | null)[]>(['HMGET', this.#statsKey(id), 'b', 'n', 'r']),
      ]),
    );
    const oldest = Date.now() - this.ttlMs;
    ids.forEach((id, i) => {
      const node = parseRecord(replies[2 * i]!);
      // a missing hash means the node expired; the geo member goes at the next sweep
      if (node === undefined || node.lastSeen <= oldest) return void into.set(id, null);
      into.set(id, { node, stats: parseStats(replies[2 * i + 1]!), distanceKm: greatCircleKm(point, node) });
    });
  }

  #nodeKey(id: string): string {
    return `${this.#prefix}node:${id}`;
  }
  #statsKey(id: string): string {
    return `${this.#prefix}stats:${id}`;
  }
  #geoKey(tier: NodeTier): string {
    return `${this.#prefix}geo:${tier}`;
  }
}

function clampLat(lat: number): number {
  return Math.max(-GEO_MAX_LAT, Math.min(GEO_MAX_LAT, lat));
}

function parseRecord(fields: (string | null)[]): NodeRecord | undefined {
  const [d, l, f, s] = fields.map((v) => (v === null || v === undefined ? null : String(v)));
  if (!d) return undefined;
  return { ...(JSON.parse(d) as Static), load: Number(l), freeCapacity: Number(f), lastSeen: Number(s) };
}

function parseStats(fields: (string | null)[]): NodeStats {
  const [b, n, r] = fields.map((v) => (v === null || v === undefined ? null : String(v)));
  if (n === null) return { ...FRESH_STATS };
  return { baseLatencyMs: b === null ? undefined : Number(b), samples: Number(n), reputation: r === null ? 1 : Number(r) };
}
