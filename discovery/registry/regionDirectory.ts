/**
 * Where each node of a RedisClusterRegistry lives: `<prefix>{d<n>}:dir`, a hash id → region in 64
 * buckets by id (so no one slot carries every lookup), and this replica's cache of it. The cache
 * is only a hint: a node another replica moved is found in the directory when its cached region
 * no longer holds it. A bucket's slot also keeps the stats of ids that never registered.
 */
import type { RedisLink } from './RedisRegion.js';

const BUCKETS = 64;

export class RegionDirectory {
  readonly #link: RedisLink;
  readonly #prefix: string;
  readonly #cache = new Map<string, string>();
  readonly #cacheSize: number;

  constructor(link: RedisLink, prefix: string, cacheSize: number) {
    this.#link = link;
    this.#prefix = prefix;
    this.#cacheSize = cacheSize;
  }

  /** The prefix of the bucket's keyspace (its slot) of `id`. */
  bucketPrefix(id: string): string {
    return `${this.#prefix}{d${bucketOf(id)}}:`;
  }

  key(id: string): string {
    return this.bucketPrefix(id) + 'dir';
  }

  cached(id: string): string | undefined {
    return this.#cache.get(id);
  }

  remember(id: string, region: string): void {
    if (this.#cache.size >= this.#cacheSize) this.#cache.clear();
    this.#cache.set(id, region);
  }

  clearCache(): void {
    this.#cache.clear();
  }

  /** The stored region of `id` (null: none). */
  async lookup(id: string): Promise<string | null> {
    const key = this.key(id);
    const name = await this.#link.send<string | null>(key, ['HGET', key, id]);
    return name === null || name === undefined ? null : String(name);
  }

  async set(id: string, region: string): Promise<void> {
    const key = this.key(id);
    await this.#link.send(key, ['HSET', key, id, region]);
    this.remember(id, region);
  }

  async delete(id: string): Promise<void> {
    this.#cache.delete(id);
    const key = this.key(id);
    await this.#link.send(key, ['HDEL', key, id]);
  }

  /**
   * Looks ids up (one HMGET per bucket, in parallel) and caches what it finds. Resolves to the ids
   * found; with `changedOnly`, to those whose stored region differs from the cached one.
   */
  async resolve(ids: string[], changedOnly = false): Promise<Set<string>> {
    const byBucket = new Map<string, string[]>();
    for (const id of ids) {
      const key = this.key(id);
      const group = byBucket.get(key);
      if (group) group.push(id);
      else byBucket.set(key, [id]);
    }
    const found = new Set<string>();
    // every bucket is read even when one's shard is down: what the others hold is cached, then
    // the first failure is thrown
    const results = await Promise.allSettled(
      [...byBucket].map(async ([key, group]) => {
        const names = await this.#link.send<(string | null)[]>(key, ['HMGET', key, ...group]);
        group.forEach((id, i) => {
          const name = names[i];
          if (!name || (changedOnly && this.#cache.get(id) === String(name))) return;
          this.remember(id, String(name));
          found.add(id);
        });
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return found;
  }
}

/** FNV-1a of the id, modulo the buckets. */
function bucketOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % BUCKETS;
}
