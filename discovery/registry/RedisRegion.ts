/**
 * One keyspace of the Redis layout (RedisRegistry.ts "Layout"): every key of it starts with one
 * prefix, and every script builds its keys from that prefix. A single Redis holds one of them;
 * RedisClusterRegistry holds one per geographic region, each prefix carrying a hash tag
 * (`…{r:x:y}:`) so all of a region's keys, and so every script on them, land on one shard.
 * Both registries talk through this class: the scripts and the command shapes exist once.
 */
import type { NodeTier } from '../../protocol/index.js';
import { DiscoveryError, DiscoveryErrorCode as E } from '../errors.js';
import type { LatLon } from '../geo.js';
import {
  type StatusUpdate,
  capabilityMask,
  combinedFilter,
  type LearningRates,
  type NearbyNode,
  type NearestOptions,
  type NodeRecord,
  type NodeStats,
  type Observation,
} from './Registry.js';
import { nearestRows } from './descriptorCache.js';
import type { RegionSettings } from './redisLayout.js';
import { clampLat, decodeDescriptor, encodeDescriptor, newVersion, parseRecord, parseStats, searchFields, searchRow } from './redisRecord.js';
import { DESCRIBE, NEAREST, NEAREST_SHA } from './redisNearest.js';
import { LEARN, PLACE, PLACE_SHA, SWEEP, TOUCH, TOUCH_MANY, TOUCH_MANY_SHA, UNPLACE } from './redisScripts.js';

/**
 * How a keyspace reaches Redis: a plain client, or a cluster client routing by `slotKey` (every
 * command given here touches keys of that key's slot only).
 */
export interface RedisLink {
  send<T>(slotKey: string, args: string[]): Promise<T>;
  /** Commands pipelined in one round trip; `atomic` runs them as one MULTI/EXEC. Replies in order. */
  batch(slotKey: string, commands: string[][], atomic: boolean): Promise<unknown[]>;
  /**
   * A query's reads (the search script, descriptor fetches), on a connection of their own where
   * the link has one (RedisRegistry `queryConnection`); else as `send`.
   */
  query?<T>(slotKey: string, args: string[]): Promise<T>;
  /**
   * A query's search script, as `query`, with its bulk strings as Buffers (node-redis
   * `typeMapping`, redisClient.ts BYTES_REPLY): the replica reads the rows' fields in place
   * instead of decoding a string per row.
   */
  bytes<T>(slotKey: string, args: string[]): Promise<T>;
}

const MAX_RADIUS_KM = 20_040;

export class RedisRegion {
  readonly prefix: string;
  readonly #link: RedisLink;
  readonly #s: RegionSettings;

  constructor(link: RedisLink, prefix: string, settings: RegionSettings) {
    this.#link = link;
    this.prefix = prefix;
    this.#s = settings;
  }

  get seenKey(): string { return this.prefix + 'seen'; }
  get searchKey(): string { return this.prefix + 'search'; }
  get learnedKey(): string { return this.prefix + 'learned'; } // id → "b n r" (RedisRegistry.ts "Layout")
  get tileOfKey(): string { return this.prefix + 'tileOf'; }
  nodeKey(id: string): string {
    return `${this.prefix}node:${id}`;
  }
  statsKey(id: string): string {
    return `${this.prefix}stats:${id}`;
  }

  async put(node: NodeRecord): Promise<void> {
    const v = newVersion();
    const d = encodeDescriptor(node);
    await this.#link.batch(this.seenKey, [['DEL', this.nodeKey(node.id)], ...this.writeNode(node, v, d, 'EVAL', PLACE)], true);
    // The replica that registers a node holds its descriptor at once: its own queries that list
    // the node need no DESCRIBE round trip for it. Under bench scale's churn (1 %/s of the nodes
    // registering again) ~1 query in 10 made one, a second round trip. Another replica's
    // registrations are still fetched once, on first sight. Decoded, not copied: a held record is
    // written in place by queries and must not be the caller's object.
    this.#s.descriptors.hold(v, decodeDescriptor(d, node));
  }

  /** Bulk load for benches: one pipeline, no transaction; the script loaded first so every EVALSHA finds it. */
  async putMany(nodes: NodeRecord[]): Promise<void> {
    const commands = [['SCRIPT', 'LOAD', PLACE]];
    for (const node of nodes) commands.push(...this.writeNode(node, newVersion(), encodeDescriptor(node), 'EVALSHA', PLACE_SHA));
    await this.#link.batch(this.seenKey, commands, false);
  }

  /** What registering `node` as version `v` with descriptor line `d` writes: its hash, its search row, its tile sets, last seen. */
  writeNode(node: NodeRecord, v: string, d: string, evalCommand: 'EVAL' | 'EVALSHA', place: string): string[][] {
    const key = this.nodeKey(node.id);
    const { load, freeCapacity, lastSeen } = node;
    return [
      ['HSET', key, 'd', d, 'v', v, ...searchFields(node), 'l', String(load), 'f', String(freeCapacity), 's', String(lastSeen)],
      ['HSET', this.searchKey, node.id, searchRow(v, node)],
      [evalCommand, place, '1', this.tileOfKey, ...this.#placeArgs(node)],
      ['ZADD', this.seenKey, String(lastSeen), node.id],
    ];
  }

  async touch(id: string, status: { load: number; freeCapacity: number }, now: number): Promise<NodeRecord | undefined> {
    const d = await this.#link.send<string | null>(this.seenKey, [
      'EVAL', TOUCH, '3', this.nodeKey(id), this.seenKey, this.searchKey,
      String(status.load), String(status.freeCapacity), String(now), String(this.#s.now() - this.#s.ttlMs), id,
    ]);
    if (d === null || d === undefined) return undefined;
    return decodeDescriptor(String(d), { load: status.load, freeCapacity: status.freeCapacity, lastSeen: now });
  }

  /**
   * One TOUCH_MANY script per `touchBatch` updates, pipelined: a script call and a round trip
   * per batch instead of per node. Resolves to the ids not held.
   */
  async touchMany(updates: Iterable<[string, StatusUpdate]>): Promise<string[]> {
    const oldest = String(this.#s.now() - this.#s.ttlMs);
    const commands: string[][] = [];
    const order: string[][] = [];
    let ids: string[] = [];
    let args: string[] = [];
    const push = () => {
      commands.push(['EVALSHA', TOUCH_MANY_SHA, '2', this.seenKey, this.searchKey, this.prefix, oldest, ...args]);
      order.push(ids);
      ids = [];
      args = [];
    };
    for (const [id, u] of updates) {
      ids.push(id);
      args.push(id, String(u.load), String(u.freeCapacity), String(u.at));
      if (ids.length === this.#s.touchBatch) push();
    }
    if (ids.length > 0) push();
    if (commands.length === 0) return [];
    let replies: unknown[];
    try {
      replies = await this.#link.batch(this.seenKey, commands, false);
    } catch (err) {
      // a Redis that lost its script cache (restart, SCRIPT FLUSH): load it and go again
      const failed = (err as { replies?: unknown[] }).replies ?? [err];
      if (!failed.some((r) => String((r as Error)?.message ?? '').startsWith('NOSCRIPT'))) throw err;
      replies = (await this.#link.batch(this.seenKey, [['SCRIPT', 'LOAD', TOUCH_MANY], ...commands], false)).slice(1);
    }
    return replies.flatMap((reply, i) => (reply as unknown[]).map((pos) => order[i]![Number(pos) - 1]!));
  }

  /**
   * One `ZADD XX GT` per `refreshBatch` nodes, and a ZMSCORE to tell which ids Redis no longer
   * holds, pipelined: two commands per batch instead of a script per node. XX never re-adds a
   * removed or swept node; GT never moves a lastSeen back. Resolves to the ids not held.
   */
  async refresh(seen: Iterable<[string, number]>): Promise<string[]> {
    const commands: string[][] = [];
    const order: string[] = [];
    let zadd = ['ZADD', this.seenKey, 'XX', 'GT'];
    let ids: string[] = [];
    for (const [id, lastSeen] of seen) {
      zadd.push(String(lastSeen), id);
      ids.push(id);
      order.push(id);
      if (ids.length === this.#s.refreshBatch) {
        commands.push(zadd, ['ZMSCORE', this.seenKey, ...ids]);
        zadd = ['ZADD', this.seenKey, 'XX', 'GT'];
        ids = [];
      }
    }
    if (ids.length > 0) commands.push(zadd, ['ZMSCORE', this.seenKey, ...ids]);
    if (commands.length === 0) return [];
    const replies = await this.#link.batch(this.seenKey, commands, false);
    const missing: string[] = [];
    let next = 0;
    for (let i = 1; i < replies.length; i += 2) {
      for (const score of replies[i] as unknown[]) {
        const id = order[next++]!;
        if (score === null || score === undefined) missing.push(id);
      }
    }
    return missing;
  }

  async get(id: string): Promise<NodeRecord | undefined> {
    const [fields, score] = (await this.#link.batch(this.seenKey, [['HMGET', this.nodeKey(id), 'd', 'l', 'f'], ['ZSCORE', this.seenKey, id]], false)) as [
      (string | null)[],
      string | null,
    ];
    if (score === null || score === undefined || Number(score) <= this.#s.now() - this.#s.ttlMs) return undefined;
    return parseRecord(fields, Number(score));
  }

  async remove(id: string): Promise<boolean> {
    this.#s.descriptors.delete(id);
    const replies = await this.#link.batch(
      this.seenKey,
      [['DEL', this.nodeKey(id)], ['HDEL', this.searchKey, id], ['ZREM', this.seenKey, id], ['EVAL', UNPLACE, '1', this.tileOfKey, this.prefix, id]],
      true,
    );
    return Number(replies[0]) > 0;
  }

  /** The k nearest of this keyspace, exact on our sphere, nearest first (see RedisRegistry.nearest). */
  async nearest(point: LatLon, k: number, tier: NodeTier, options: NearestOptions = {}): Promise<NearbyNode[]> {
    if (k <= 0) return [];
    const maxDistanceKm = options.maxDistanceKm ?? Infinity;
    const e = options.eligibility ?? {};
    const oldest = this.#s.now() - this.#s.ttlMs;
    const filter = combinedFilter(options);
    const deg = this.#s.tileDegrees[tier];
    // the script gets the eligibility rules; `filter` re-checks in full here, because Lua numbers
    // and a caller's own filter are not the last word
    let need = k;
    for (;;) {
      const flat = await this.#evalNearest([
        this.searchKey,
        // Redis's sphere is 0.03 % larger than ours: the script's radius leaves room, ours decides
        String(point.lon), String(clampLat(point.lat)), String(need), this.prefix + 'stats:', String(Math.min(MAX_RADIUS_KM, maxDistanceKm * 1.001)),
        String(capabilityMask(e.caps ?? [])), String(e.maxPrice ?? 1e300), String(e.maxLoad ?? 1e300), String(e.minReputation ?? -1e300),
        String(this.#s.maxExamined), options.eligibility ? '1' : '0', String(this.#overfetch(options)),
        // a first radius under a tile's diagonal (on Redis's sphere) would only add a centre search
        String(deg), this.prefix, tier, String(oldest), String(Math.max(this.#s.initialRadiusKm, 111.25 * deg * 1.4143)),
        '0', // unused (was: rows with their descriptor lines; search rows hold none now)
        String(this.#s.sparseTileMembers),
      ]);
      if (!Array.isArray(flat) || flat.length < 2) throw new DiscoveryError(E.UNAVAILABLE, 'Redis answered a malformed NEAREST reply (not a list of radius, count, rows)');
      const read = Number(String(flat[1]));
      const rowCount = flat.length - 2;
      const tuning = this.#s.tuning;
      if (options.eligibility && read >= need) tuning.passRate += 0.1 * (Math.max(rowCount / read, 0.02) - tuning.passRate);
      // each row's record at its version (held here, or fetched from the node hashes in one script call and decoded once),
      // its status read in place; Redis measures on its own sphere and geohash grid, the rows are
      // re-ranked on ours so backends agree
      const found = await nearestRows(flat, 2, this.#s.descriptors, (ids) => this.#s.busyPoll.wait(this.#query(['EVAL', DESCRIBE, '1', this.seenKey, this.prefix, ...ids])), point, oldest, filter, maxDistanceKm, k);
      // fewer rows than asked: the script ran out of ring (or of maxExamined); nothing more to find
      if (found.passing >= k || rowCount < need || need >= this.#s.maxExamined) return found.nearest;
      // the caller's own filter rejected some of what the script passed: ask for more
      need = Math.min(this.#s.maxExamined, need * 4);
    }
  }

  /**
   * EVALSHA: the 4 KB script is sent and hashed once per connection, not on every query. A Redis
   * that lost its script cache (restart, SCRIPT FLUSH) answers NOSCRIPT, and EVAL reloads it.
   */
  async #evalNearest(args: string[]): Promise<unknown[]> {
    const poll = this.#s.busyPoll;
    try {
      return await poll.wait(this.#link.bytes<unknown[]>(this.seenKey, ['EVALSHA', NEAREST_SHA, '1', ...args]));
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return await poll.wait(this.#link.bytes<unknown[]>(this.seenKey, ['EVAL', NEAREST, '1', ...args]));
    }
  }

  #query<T>(args: string[]): Promise<T> {
    return this.#link.query ? this.#link.query<T>(this.seenKey, args) : this.#link.send<T>(this.seenKey, args);
  }

  /**
   * Members to read per wanted node on the first try: about 1 / (the share of nodes that passed
   * the eligibility check lately), so a selective query rarely needs a second pass.
   */
  #overfetch(options: NearestOptions): number {
    if (!options.eligibility) return 1.25;
    return Math.min(20, Math.max(1.25, 1.25 / this.#s.tuning.passRate));
  }

  async stats(id: string): Promise<NodeStats> {
    return parseStats(await this.#link.send<(string | null)[]>(this.seenKey, ['HMGET', this.statsKey(id), 'b', 'n', 'r']));
  }

  async learn(id: string, obs: Observation, rates: LearningRates): Promise<void> {
    await this.#link.send(this.seenKey, [
      'EVAL', LEARN, '3', this.statsKey(id), this.tileOfKey, this.learnedKey,
      obs.baseLatencyMs === undefined ? '0' : '1', String(obs.baseLatencyMs ?? 0), obs.answered ? '1' : '0',
      String(rates.latencyAlpha), String(rates.reputationAlpha), String(this.#s.statsTtlMs), id,
    ]);
  }

  /** The raw stats hash and its remaining ttl, for moving a node's record to another keyspace. */
  async exportStats(id: string): Promise<{ fields: string[]; ttlMs: number } | undefined> {
    const [fields, ttl] = (await this.#link.batch(this.seenKey, [['HGETALL', this.statsKey(id)], ['PTTL', this.statsKey(id)]], false)) as [unknown, number];
    const flat = Array.isArray(fields) ? fields.map(String) : Object.entries((fields ?? {}) as Record<string, unknown>).flatMap(([k, v]) => [k, String(v)]);
    return flat.length === 0 ? undefined : { fields: flat, ttlMs: Number(ttl) > 0 ? Number(ttl) : this.#s.statsTtlMs };
  }

  async importStats(id: string, stats: { fields: string[]; ttlMs: number }): Promise<void> {
    await this.#link.batch(this.seenKey, [['HSET', this.statsKey(id), ...stats.fields], ['PEXPIRE', this.statsKey(id), String(stats.ttlMs)]], true);
  }

  async count(): Promise<Record<NodeTier, number>> {
    const [edge, cloud] = (await this.#link.batch(
      this.seenKey,
      [['HGET', this.prefix + 'census:edge', 'a'], ['HGET', this.prefix + 'census:cloud', 'a']],
      false,
    )) as (string | null)[];
    return { edge: Number(edge ?? 0), cloud: Number(cloud ?? 0) };
  }

  /** Removes nodes past ttl + grace from every set of this keyspace; idempotent, any replica may run it. */
  async sweep(now: number, batch: number): Promise<number> {
    const oldest = String(now - this.#s.ttlMs - this.#s.sweepGraceMs);
    // up to `batch` nodes in scripts of sweepBatch, so none holds Redis long (queries interleave)
    let removed = 0;
    for (;;) {
      const chunk = Math.min(this.#s.sweepBatch, batch - removed);
      if (chunk <= 0) return removed;
      const n = Number(await this.#link.send<number>(this.seenKey, ['EVAL', SWEEP, '3', this.seenKey, this.tileOfKey, this.searchKey, oldest, String(chunk), this.prefix]));
      removed += n;
      if (n < chunk) return removed;
    }
  }

  /** PLACE's arguments: prefix, id, tier, caps mask, position, tile "x:y" and its centre. */
  #placeArgs(node: NodeRecord): string[] {
    const deg = this.#s.tileDegrees[node.tier];
    const nLon = Math.round(360 / deg);
    const lat = clampLat(node.lat);
    const tx = ((Math.floor((node.lon + 180) / deg) % nLon) + nLon) % nLon;
    const ty = Math.floor((lat + 90) / deg);
    const centre = [String((tx + 0.5) * deg - 180), String(clampLat((ty + 0.5) * deg - 90))];
    return [this.prefix, node.id, node.tier, String(capabilityMask(node.caps)), String(node.lon), String(lat), `${tx}:${ty}`, ...centre];
  }
}
