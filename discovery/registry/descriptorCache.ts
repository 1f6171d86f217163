/**
 * The replica's copies of decoded node descriptors (RedisRegion.nearest). A descriptor never
 * changes within one registration (a re-registration writes a new version), so the search script
 * sends only a row's id, version and changing fields, and the descriptor line is fetched and
 * decoded once per registration, not once per query: decoding ~40 descriptors and reading their
 * lines out of the reply was 50 KB of a Redis query's 117 KB of garbage (`bench scale
 * --queries-only`).
 */
import { FRESH_STATS, type NearbyNode, type NodeRecord, type NodeStats } from './Registry.js';
import { decodeDescriptor, type StaticDescriptor } from './redisRecord.js';

/** Decoded descriptors by node id and registration version. Bounded: past `max` entries the oldest inserted goes (a node that left is never asked for again). */
export class DescriptorCache {
  readonly #entries = new Map<string, { v: string; d: StaticDescriptor }>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  /** The descriptor of `id` as registered in version `v`; undefined when not held (or another version is). */
  get(id: string, v: string): StaticDescriptor | undefined {
    const e = this.#entries.get(id);
    return e !== undefined && e.v === v ? e.d : undefined;
  }
  set(id: string, v: string, d: StaticDescriptor): void {
    if (this.#max <= 0) return;
    if (!this.#entries.has(id) && this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(id, { v, d });
  }
  delete(id: string): void {
    this.#entries.delete(id);
  }
  get size(): number {
    return this.#entries.size;
  }
}

/**
 * The descriptor of each search row ("id v …", from index `from` of `rows`) at the row's version:
 * from `cache`, else from `fetchRows` (the search hash's rows of the ids it lacks, "v l f s c p d…",
 * in one round trip), which are then cached. Undefined for a row whose node is gone or registered
 * again since the search (its status belongs to the old registration: the caller leaves it out of
 * this answer). Held in the returned array: fetching may evict a known one from a small cache.
 */
export async function rowDescriptors(rows: unknown[], from: number, cache: DescriptorCache, fetchRows: (ids: string[]) => Promise<(string | null)[]>): Promise<(StaticDescriptor | undefined)[]> {
  const held: (StaticDescriptor | undefined)[] = [];
  let unknown: { ids: string[]; at: number[]; versions: string[] } | undefined;
  for (let i = from; i < rows.length; i++) {
    const row = String(rows[i]);
    const idEnd = row.indexOf(' ');
    const id = row.slice(0, idEnd);
    const v = row.slice(idEnd + 1, row.indexOf(' ', idEnd + 1));
    const d = cache.get(id, v);
    held.push(d);
    if (d === undefined) {
      unknown ??= { ids: [], at: [], versions: [] };
      unknown.ids.push(id);
      unknown.at.push(held.length - 1);
      unknown.versions.push(v);
    }
  }
  if (unknown === undefined) return held;
  const lines = await fetchRows(unknown.ids);
  for (let j = 0; j < unknown.ids.length; j++) {
    const line = lines[j];
    if (line === null || line === undefined) continue;
    const text = String(line);
    let at = 0;
    for (let skip = 0; skip < 6; skip++) at = text.indexOf(' ', at) + 1; // past v l f s c p
    const { load, freeCapacity, lastSeen, ...descriptor } = decodeDescriptor(text, { load: 0, freeCapacity: 0, lastSeen: 0 }, at);
    const v = text.slice(0, text.indexOf(' '));
    cache.set(unknown.ids[j]!, v, descriptor);
    if (v === unknown.versions[j]) held[unknown.at[j]!] = descriptor;
  }
  return held;
}

/** A record from a held descriptor and a row's changing fields (named fields: no spread, no copies of the strings). */
export function withStatus(d: StaticDescriptor, load: number, freeCapacity: number, lastSeen: number): NodeRecord {
  return { id: d.id, publicKey: d.publicKey, url: d.url, tier: d.tier, lat: d.lat, lon: d.lon, caps: d.caps, capacity: d.capacity, pricePerMinute: d.pricePerMinute, operator: d.operator, load, freeCapacity, lastSeen };
}

/**
 * A search row ("id v l f s b n r ", the descriptor left out) as a candidate on its held
 * descriptor (distanceKm left to the caller); undefined when last seen at or before `oldest`.
 * Fields are read in place (indexOf), not split into arrays of substrings (garbage per row).
 */
export function rowRecord(row: string, d: StaticDescriptor, oldest: number): NearbyNode | undefined {
  let at = row.indexOf(' ', row.indexOf(' ') + 1) + 1; // past id and v
  const field = (): string => {
    const end = row.indexOf(' ', at);
    const value = row.slice(at, end);
    at = end + 1;
    return value;
  };
  const l = field();
  const f = field();
  const lastSeen = Number(field());
  if (lastSeen <= oldest) return undefined;
  const b = field();
  const n = field();
  const r = field();
  const stats: NodeStats = n === '' ? FRESH_STATS : { baseLatencyMs: b === '' ? undefined : Number(b), samples: Number(n), reputation: r === '' ? 1 : Number(r) };
  return { node: withStatus(d, Number(l), Number(f), lastSeen), stats, distanceKm: 0 };
}
