/**
 * A registry in Redis, shared by any number of discovery replicas.
 *
 * Layout (all under `prefix`):
 * - `node:<id>`   hash: `d` descriptor JSON, `v` its version (new on every put), `c` caps bitmask,
 *                 `p` price (for the search script), `l` load, `f` free capacity, `s` last seen; PEXPIRE = ttl,
 *                 so Redis itself forgets a silent node.
 * - `geo:<tier>`  GEO set of node ids (counts, sweeps, and searches wider than 48 tiles).
 * - `tile:<tier>:<x>:<y>`  GEO set per tileDegrees-square tile, what searches use: Redis scans
 *                 whole geohash cells around the point, and tiles keep that scan near the circle.
 * - `tileOf`      hash id → tile key, so a moved or expired node leaves its old tile.
 * - `seen`        sorted set id → last seen, so a sweep finds geo members whose hash expired.
 * - `stats:<id>`  hash `b` base latency, `n` samples, `r` reputation; its own long ttl, so a node
 *                 cannot shed a bad record by re-registering.
 * - `nonce:<key>` SET NX PX: replay protection agreed by every replica.
 *
 * Queries grow a GEOSEARCH radius (and COUNT) until k nodes pass the filter, then fetch the hashes
 * in one pipelined round trip. Lua keeps heartbeat and EWMA updates atomic across replicas.
 * Keys are built inside scripts, so this targets a single Redis (not Cluster).
 */
import { randomBytes } from 'node:crypto';
import { createClient } from '@redis/client';
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

export interface RedisRegistryOptions extends RegistryTiming {
  /** `redis://host:port[/db]`. */
  url: string;
  /** Key prefix, so several deployments (or tests) share one Redis. Default `eo:disc:`. */
  prefix?: string;
  /** How long learned stats outlive their node's last report. Default 7 days. */
  statsTtlMs?: number;
  /**
   * First GEOSEARCH radius. Default 8 km. A ring costs Redis time in proportion to the members
   * in its geohash cells, so the next ring is sized from the density the last one saw (between
   * ×`radiusGrowth`, default 1.5, and ×2) rather than jumping to a radius that holds a continent.
   */
  initialRadiusKm?: number;
  radiusGrowth?: number;
  /** Searches run on per-tile GEO sets of this many degrees square. Default 2 (must divide 360). */
  tileDegrees?: number;
  /** Descriptors cached client-side (≈ 0.5 KB each). Default 500,000. */
  maxCachedDescriptors?: number;
  /** Bound on candidates fetched per query when the filter rejects most nodes. Default 20,000. */
  maxExaminedPerQuery?: number;
  /** How often geo members of expired nodes are swept. Default: the heartbeat interval. */
  sweepIntervalMs?: number;
}

// Redis GEO cannot store latitudes beyond ±85.05112878 (Web Mercator); the true lat stays in the hash.
const GEO_MAX_LAT = 85.05112878;
const MAX_RADIUS_KM = 20_040;

// Drops a node from the tile set it was last put in (tileOf remembers which, beyond the node's ttl).
const UNTILE = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then redis.call('ZREM', old, ARGV[1]) end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1`;

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

// One round trip per query: grows the search ring server-side and applies the eligibility check
// (caps mask, price, load, free capacity, reputation: the same rules as eligibilityFilter) next to
// the data, until `need` eligible nodes are found or the largest ring is exhausted. A ring costs
// Redis time in proportion to the members in its geohash cells, so rings start small and grow
// gently; a ring whose COUNT saturates before enough pass is asked again for more.
// Reply: radius, members read in the last pass, then one space-joined "id v l f s b n r" string per eligible hit, nearest first
// (one reply item per hit keeps client parsing cheap; ids cannot contain spaces). Descriptors (d)
// stay out: the client caches them by version v and fetches only those it has not seen.
const NEAREST = `
local lon, lat = ARGV[1], ARGV[2]
local radius, need = tonumber(ARGV[3]), tonumber(ARGV[4])
local nodePrefix, statsPrefix = ARGV[5], ARGV[6]
local maxRadius, growth = tonumber(ARGV[7]), tonumber(ARGV[8])
local capsMask, maxPrice, maxLoad, minRep = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local maxExamined = tonumber(ARGV[13])
local checkEligibility = ARGV[14] == '1'
local count = math.ceil(need * tonumber(ARGV[15]))
local tileDeg, tilePrefix = tonumber(ARGV[16]), ARGV[17]
local lat0, lon0 = tonumber(lat), tonumber(lon)
local nLon = math.floor(360 / tileDeg + 0.5)
-- GEOSEARCH scans whole geohash cells around the point (up to ~3x the radius each way); searching
-- per-tile sets bounds that scan to the tiles the circle touches
local function search(r, c)
  local dLat = r / 111.19
  local latLo, latHi = math.max(-90, lat0 - dLat), math.min(90, lat0 + dLat)
  local edge = math.max(math.abs(latLo), math.abs(latHi))
  local dLon = 180
  if edge < 89 then dLon = dLat / math.cos(math.rad(edge)) end
  local txLo = math.floor((lon0 - dLon + 180) / tileDeg)
  local txHi = math.floor((lon0 + dLon + 180) / tileDeg)
  local tyLo, tyHi = math.floor((latLo + 90) / tileDeg), math.floor((latHi + 90) / tileDeg)
  if dLon >= 180 or (txHi - txLo + 1) * (tyHi - tyLo + 1) > 48 then
    -- a ring this wide touches too many tiles: one search on the tier-wide set is cheaper
    return redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', lon, lat, 'BYRADIUS', r, 'km', 'ASC', 'COUNT', c)
  end
  if txLo == txHi and tyLo == tyHi then
    return redis.call('GEOSEARCH', tilePrefix .. (txLo % nLon) .. ':' .. tyLo, 'FROMLONLAT', lon, lat, 'BYRADIUS', r, 'km', 'ASC', 'COUNT', c)
  end
  local found = {}
  for ty = tyLo, tyHi do
    for tx = txLo, txHi do
      local hits = redis.call('GEOSEARCH', tilePrefix .. (tx % nLon) .. ':' .. ty, 'FROMLONLAT', lon, lat, 'BYRADIUS', r, 'km', 'ASC', 'COUNT', c, 'WITHDIST')
      for _, h in ipairs(hits) do found[#found + 1] = h end
    end
  end
  if #found > 1 then table.sort(found, function(a, b) return tonumber(a[2]) < tonumber(b[2]) end) end
  local ids = {}
  for i = 1, math.min(c, #found) do ids[i] = found[i][1] end
  return ids
end
local rows
local lastRead = 0
while true do
  local hits = search(radius, count)
  if #hits < count and radius < maxRadius then
    -- the ring holds fewer members than we would look at: widen it before reading any hash, by
    -- what the density seen so far suggests (area ~ radius^2) but at most x2: GEOSEARCH scans whole
    -- geohash cells, which double with the radius, so a bigger jump can cost 16x the members
    local factor = 2
    if #hits > 0 then factor = math.min(2, math.max(growth, math.sqrt(count / #hits) * 1.2)) end
    radius = math.min(radius * factor, maxRadius)
  else
    rows = {}
    lastRead = #hits
    for _, id in ipairs(hits) do
      local n = redis.call('HMGET', nodePrefix .. id, 'v', 'l', 'f', 's', 'c', 'p')
      if n[1] and (not checkEligibility or (tonumber(n[3]) > 0 and tonumber(n[2]) < maxLoad and tonumber(n[6]) <= maxPrice
        and bit.band(tonumber(n[5]), capsMask) == capsMask)) then
        local st = redis.call('HMGET', statsPrefix .. id, 'b', 'n', 'r')
        if not checkEligibility or (tonumber(st[3]) or 1) >= minRep then
          rows[#rows + 1] = table.concat({ id, n[1], n[2], n[3], n[4], st[1] or '', st[2] or '', st[3] or '' }, ' ')
        end
      end
    end
    if #rows >= need or #hits < count or count >= maxExamined then break end
    -- saturated but too few eligible: look at as many more members of the same ring as this
    -- round's pass rate says are needed (each hit costs a hash read)
    local passRate = math.max(#rows / #hits, 0.02)
    count = math.min(maxExamined, math.max(count * 2, math.ceil(need / passRate * 1.25)))
  end
end
table.insert(rows, 1, tostring(radius))
table.insert(rows, 2, tostring(lastRead))
return rows`;

const SWEEP = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local removed = 0
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[3] .. id) == 0 then
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[1], id)
    local tile = redis.call('HGET', KEYS[4], id)
    if tile then redis.call('ZREM', tile, id) end
    redis.call('HDEL', KEYS[4], id)
    removed = removed + 1
  end
end
return removed`;

/** Reconnects with backoff once up; the first connect fails fast so a wrong URL is reported at start. */
function makeClient(url: string, everConnected: () => boolean) {
  return createClient({
    url,
    // while reconnecting, fail commands at once (discovery answers UNAVAILABLE) instead of queueing
    // them behind an outage the HTTP client has long given up on
    disableOfflineQueue: true,
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
  readonly #maxExamined: number;
  readonly #sweepIntervalMs: number;
  readonly #radiusGrowth: number;
  /** id → descriptor at version v; descriptors change only on re-registration. */
  readonly #descriptors = new Map<string, { v: string; d: Static }>();
  readonly #maxCachedDescriptors: number;
  readonly #tileDegrees: number;
  /** EWMA of the eligible share of members read, across queries with an eligibility check. */
  #passRate = 0.5;
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
    this.#initialRadiusKm = options.initialRadiusKm ?? 8;
    this.#tileDegrees = options.tileDegrees ?? 2;
    if (!(this.#tileDegrees > 0) || 360 % this.#tileDegrees !== 0) throw new TypeError('tileDegrees must divide 360');
    this.#radiusGrowth = options.radiusGrowth ?? 1.5;
    this.#maxCachedDescriptors = options.maxCachedDescriptors ?? 500_000;
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
      .addCommand(['HSET', key, 'd', JSON.stringify(fixed), 'v', newVersion(), ...searchFields(node), 'l', String(load), 'f', String(freeCapacity), 's', String(lastSeen)])
      .addCommand(['PEXPIRE', key, String(this.ttlMs)])
      .addCommand(['ZREM', this.#geoKey(other), node.id])
      .addCommand(['GEOADD', this.#geoKey(node.tier), String(node.lon), String(clampLat(node.lat)), node.id])
      .addCommand(['EVAL', UNTILE, '1', this.#tileOfKey, node.id])
      .addCommand(['GEOADD', this.#tileKey(node), String(node.lon), String(clampLat(node.lat)), node.id])
      .addCommand(['HSET', this.#tileOfKey, node.id, this.#tileKey(node)])
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
        .addCommand(['HSET', key, 'd', JSON.stringify(fixed), 'v', newVersion(), ...searchFields(node), 'l', String(load), 'f', String(freeCapacity), 's', String(lastSeen)])
        .addCommand(['PEXPIRE', key, String(this.ttlMs)])
        .addCommand(['GEOADD', this.#geoKey(node.tier), String(node.lon), String(clampLat(node.lat)), node.id])
        .addCommand(['EVAL', UNTILE, '1', this.#tileOfKey, node.id])
        .addCommand(['GEOADD', this.#tileKey(node), String(node.lon), String(clampLat(node.lat)), node.id])
        .addCommand(['HSET', this.#tileOfKey, node.id, this.#tileKey(node)])
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
      .addCommand(['EVAL', UNTILE, '1', this.#tileOfKey, id])
      .exec();
    return Number(replies[0]) > 0;
  }

  async nearest(point: LatLon, k: number, tier: NodeTier, options: NearestOptions = {}): Promise<NearbyNode[]> {
    if (k <= 0) return [];
    const maxDistanceKm = options.maxDistanceKm ?? Infinity;
    const e = options.eligibility ?? {};
    const oldest = Date.now() - this.ttlMs;
    const filter = combinedFilter(options);
    // the script gets the eligibility rules; `filter` re-checks in full here, because Lua numbers
    // and a caller's own filter are not the last word
    let need = k;
    for (;;) {
      const flat = await this.#client.sendCommand<string[]>([
        'EVAL', NEAREST, '1', this.#geoKey(tier),
        String(point.lon), String(clampLat(point.lat)), String(Math.min(this.#initialRadiusKm, maxDistanceKm, MAX_RADIUS_KM)), String(need),
        this.#prefix + 'node:', this.#prefix + 'stats:', String(Math.min(MAX_RADIUS_KM, maxDistanceKm)), String(this.#radiusGrowth),
        String(capabilityMask(e.caps ?? [])), String(e.maxPrice ?? 1e300), String(e.maxLoad ?? 1e300), String(e.minReputation ?? -1e300),
        String(this.#maxExamined), options.eligibility ? '1' : '0', String(this.#overfetch(options)),
        String(this.#tileDegrees), `${this.#prefix}tile:${tier}:`,
      ]);
      const read = Number(flat[1]);
      const rows = flat.slice(2).map((row) => String(row).split(' '));
      if (options.eligibility && read >= need) this.#passRate += 0.1 * (Math.max(rows.length / read, 0.02) - this.#passRate);
      await this.#resolveDescriptors(rows);
      const passing: NearbyNode[] = [];
      for (const [id, v, l, f, seen, b, n, r] of rows) {
        const fixed = this.#descriptors.get(id!);
        if (fixed === undefined || fixed.v !== v) continue;
        const node: NodeRecord = { ...fixed.d, load: Number(l), freeCapacity: Number(f), lastSeen: Number(seen) };
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
   * Members to read per wanted node on the first try: about 1 / (the share of nodes that passed
   * the eligibility check lately), so a selective query rarely needs a second pass.
   */
  #overfetch(options: NearestOptions): number {
    if (!options.eligibility) return 1.25;
    return Math.min(20, Math.max(1.25, 1.25 / this.#passRate));
  }

  /** Fetches (one pipelined round trip) the descriptors of hits whose version is not cached. */
  async #resolveDescriptors(rows: string[][]): Promise<void> {
    const missing: string[] = [];
    for (const [id, v] of rows) if (this.#descriptors.get(id!)?.v !== v) missing.push(id!);
    if (missing.length === 0) return;
    const replies = await Promise.all(missing.map((id) => this.#client.sendCommand<(string | null)[]>(['HMGET', this.#nodeKey(id), 'd', 'v'])));
    missing.forEach((id, i) => {
      const [d, v] = replies[i]!;
      if (d === null || d === undefined || v === null || v === undefined) return;
      if (this.#descriptors.size >= this.#maxCachedDescriptors) this.#descriptors.delete(this.#descriptors.keys().next().value!);
      this.#descriptors.set(id, { v: String(v), d: JSON.parse(String(d)) as Static });
    });
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
      'EVAL', SWEEP, '4', this.#prefix + 'seen', this.#geoKey('edge'), this.#geoKey('cloud'), this.#tileOfKey,
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

  #nodeKey(id: string): string {
    return `${this.#prefix}node:${id}`;
  }
  #statsKey(id: string): string {
    return `${this.#prefix}stats:${id}`;
  }
  get #tileOfKey(): string {
    return this.#prefix + 'tileOf';
  }
  /** Must match the tile arithmetic in the NEAREST script. */
  #tileKey(node: { tier: NodeTier; lat: number; lon: number }): string {
    const nLon = Math.round(360 / this.#tileDegrees);
    const tx = ((Math.floor((node.lon + 180) / this.#tileDegrees) % nLon) + nLon) % nLon;
    const ty = Math.floor((clampLat(node.lat) + 90) / this.#tileDegrees);
    return `${this.#prefix}tile:${node.tier}:${tx}:${ty}`;
  }
  #geoKey(tier: NodeTier): string {
    return `${this.#prefix}geo:${tier}`;
  }
}

/** Copies of descriptor fields the search script checks without parsing JSON. */
function searchFields(node: NodeRecord): string[] {
  return ['c', String(capabilityMask(node.caps)), 'p', String(node.pricePerMinute)];
}

function newVersion(): string {
  return randomBytes(6).toString('base64url');
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
