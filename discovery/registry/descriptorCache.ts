/**
 * The replica's copies of node records, and the parse of a NEAREST reply into candidates
 * (RedisRegion.nearest). A descriptor never changes within one registration (a re-registration
 * writes a new version), so the search script sends only a row's id, version and changing fields,
 * and the descriptor line is fetched and decoded once per registration, not once per query:
 * decoding ~40 descriptors and reading their lines out of the reply was 50 KB of a Redis query's
 * 117 KB of garbage (`bench scale --queries-only`).
 *
 * The cached record is live, as the memory backend's are (Registry.nearest hands out read-only
 * views): a row's load, free capacity and last seen are written into it in place, and its stats
 * object is kept while the row's "b n r" stay the same. A record, a stats object, a candidate and
 * six substrings per row were a quarter of a Redis query's garbage (rowRecord, 16 of 71 KB), most
 * of it for rows that did not make the k returned.
 */
import { DiscoveryError, DiscoveryErrorCode as E } from '../errors.js';
import { EARTH_RADIUS_KM, type LatLon } from '../geo.js';
import { FRESH_STATS, type NearbyNode, type NodeFilter, type NodeRecord, type NodeStats } from './Registry.js';
import { decodeDescriptor } from './redisRecord.js';

/** A node as this replica holds it: its registration version, its live record, its latest stats. */
interface Held {
  readonly v: string;
  readonly node: NodeRecord;
  stats: Readonly<NodeStats>;
  /** The id's UTF-8 bytes when it is not ASCII (an ASCII id is compared char by byte). */
  readonly idBytes: Buffer | undefined;
  /** The next entry whose id has the same hash. */
  next: Held | undefined;
}

/** FNV-1a over bytes: a reply row's id is looked up from its bytes, without a string per row. */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h | 0;
}

function isAscii(id: string): boolean {
  for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) > 0x7f) return false;
  return true;
}

function hashId(id: string): number {
  if (!isAscii(id)) {
    const bytes = Buffer.from(id);
    return hashBytes(bytes, 0, bytes.length);
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** Whether `held`'s id is the bytes [0, end) of `row`. */
function idIs(held: Held, row: Uint8Array, end: number): boolean {
  const bytes = held.idBytes;
  if (bytes !== undefined) return bytes.length === end && Buffer.compare(bytes, row.subarray(0, end)) === 0;
  const id = held.node.id;
  if (id.length !== end) return false;
  for (let i = 0; i < end; i++) if (id.charCodeAt(i) !== row[i]) return false;
  return true;
}

/**
 * Records by node id (hashed from its bytes) and registration version. Bounded: past `max`
 * entries the oldest inserted goes (a node that left is never asked for again).
 */
export class DescriptorCache {
  readonly #buckets = new Map<number, Held>();
  readonly #max: number;
  #size = 0;
  constructor(max: number) {
    this.#max = max;
  }
  /** The entry of the id in bytes [0, idEnd) of `row`, whatever its version; undefined when not held. */
  entryAt(row: Uint8Array, idEnd: number): Held | undefined {
    for (let e = this.#buckets.get(hashBytes(row, 0, idEnd)); e !== undefined; e = e.next) if (idIs(e, row, idEnd)) return e;
    return undefined;
  }
  /** Holds `node` as registered in version `v`; the entry (kept only when the cache has room for any). */
  hold(v: string, node: NodeRecord): Held {
    const held: Held = { v, node, stats: FRESH_STATS, idBytes: isAscii(node.id) ? undefined : Buffer.from(node.id), next: undefined };
    if (this.#max <= 0) return held;
    this.delete(node.id);
    // the oldest inserted bucket goes (one entry, or a few that share its hash)
    while (this.#size >= this.#max) {
      const [hash, first] = this.#buckets.entries().next().value!;
      this.#buckets.delete(hash);
      for (let e: Held | undefined = first; e !== undefined; e = e.next) this.#size--;
    }
    const hash = hashId(node.id);
    held.next = this.#buckets.get(hash);
    this.#buckets.set(hash, held);
    this.#size++;
    return held;
  }
  delete(id: string): void {
    const hash = hashId(id);
    let prev: Held | undefined;
    for (let e = this.#buckets.get(hash); e !== undefined; prev = e, e = e.next) {
      if (e.node.id !== id) continue;
      if (prev !== undefined) prev.next = e.next;
      else if (e.next !== undefined) this.#buckets.set(hash, e.next);
      else this.#buckets.delete(hash);
      this.#size--;
      return;
    }
  }
  get size(): number {
    return this.#size;
  }
}

const SPACE = 32;
const RAD = Math.PI / 180;
/** Fields of a search row before its stats ("id v l f s "): fewer is a malformed reply. */
const ROW_FIELDS = 5;

function malformed(what: string): DiscoveryError {
  return new DiscoveryError(E.UNAVAILABLE, `Redis answered a malformed NEAREST reply (${what})`);
}

/**
 * One query's rows, reused by every query: the held entry of each row and the passing rows'
 * distances and order, instead of a candidate object per row, an array of them and a sort. Safe
 * to share: a query fills and reads it with no await in between (a descriptor fetch in between
 * copies it out first).
 */
const scratch = {
  held: [] as (Held | undefined)[],
  nodes: [] as (NodeRecord | undefined)[],
  stats: [] as (Readonly<NodeStats> | undefined)[],
  distance: new Float64Array(64),
  /** Passing rows' indices, nearest first (ties: reply order), the k nearest at most. */
  order: new Uint32Array(64),
  /** Field bounds of the row being read: start, end of id v l f s b n r. */
  bounds: new Int32Array(16),
  /** The row's numbers as read: s l f b n r. */
  numbers: new Float64Array(6),
};

/** The field bounds of `row` into scratch.bounds; false when it has fewer than ROW_FIELDS fields and a separator after them. */
function scanRow(row: Buffer): boolean {
  const bounds = scratch.bounds;
  let at = 0;
  for (let j = 0; j < 8; j++) {
    const end = row.indexOf(SPACE, at);
    if (end < 0 && j < ROW_FIELDS) return false;
    bounds[2 * j] = at;
    bounds[2 * j + 1] = end < 0 ? row.length : end;
    at = end < 0 ? row.length : end + 1;
  }
  return true;
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * Number(text of row[start, end)) without a string for what Lua and JS write here
 * ([-]digits[.digits], at most 15 significant digits: the integer mantissa is exact and one
 * division by an exact power of ten rounds correctly, as Number's own parse does); anything else
 * goes through Number.
 */
export function numberIn(row: Buffer, start: number, end: number): number {
  readNumber(row, start, end, 0);
  return scratch.numbers[0]!;
}

/**
 * numberIn into scratch.numbers[slot]: a double returned from a call that is not inlined is a new
 * heap number; one written into a typed array is not (five a row were 1.3 KB of a query's garbage).
 */
function readNumber(row: Buffer, start: number, end: number, slot: number): void {
  const out = scratch.numbers;
  let i = start;
  const negative = i < end && row[i] === 45;
  if (negative) i++;
  let mantissa = 0;
  let digits = 0;
  let fraction = -1;
  for (; i < end; i++) {
    const c = row[i]!;
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (fraction >= 0) fraction++;
    } else if (c === 46 && fraction < 0) fraction = 0;
    else {
      out[slot] = Number(row.toString('latin1', start, end));
      return;
    }
  }
  if (digits === 0 || digits > 15) {
    out[slot] = Number(row.toString('latin1', start, end));
    return;
  }
  const value = fraction > 0 ? mantissa / POW10[fraction]! : mantissa;
  out[slot] = negative ? -value : value;
}

/**
 * The row's stats ("b n r"; none learned: "n" empty), the held ones when the row's numbers are the
 * same (they change only when a client reports on the node).
 */
function rowStats(row: Buffer, held: Held): Readonly<NodeStats> {
  const b = scratch.bounds;
  if (b[12] === b[13]) return FRESH_STATS;
  const n = scratch.numbers;
  const learned = b[10] !== b[11];
  if (learned) readNumber(row, b[10]!, b[11]!, 3);
  readNumber(row, b[12]!, b[13]!, 4);
  if (b[14] !== b[15]) readNumber(row, b[14]!, b[15]!, 5);
  else n[5] = 1;
  const s = held.stats;
  if ((learned ? s.baseLatencyMs !== undefined && Object.is(s.baseLatencyMs, n[3]) : s.baseLatencyMs === undefined) && Object.is(s.samples, n[4]) && Object.is(s.reputation, n[5])) return s;
  return (held.stats = { baseLatencyMs: learned ? n[3] : undefined, samples: n[4]!, reputation: n[5]! });
}

/** Whether bytes [start, end) of `row` are `text` (ASCII: a version, a number). */
function bytesAre(row: Uint8Array, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = 0; i < text.length; i++) if (row[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** The held entry of `rows[i]` at the row's version into scratch.held; the row's id when not held. */
function holdRow(rows: unknown[], i: number, cache: DescriptorCache): string | undefined {
  const row = rows[i];
  if (!Buffer.isBuffer(row)) throw malformed(`row ${i} is not a bulk string`);
  if (!scanRow(row)) throw malformed(`row ${i} has fewer than ${ROW_FIELDS} fields`);
  const b = scratch.bounds;
  const e = cache.entryAt(row, b[1]!);
  const hit = e !== undefined && bytesAre(row, b[2]!, b[3]!, e.v);
  scratch.held[i] = hit ? e : undefined;
  return hit ? undefined : row.toString('utf8', 0, b[1]);
}

/**
 * Each row's entry at its version into scratch.held, at once when every row is held (undefined
 * returned: no await, so no other query can touch the scratch before the caller reads it). Else
 * a promise of them all, the missing ones from `fetchRows` (the descriptor rows "v d…" of the ids
 * not held, redisRecord.ts descriptorRow, in one round trip), decoded and held. A row whose node is gone or
 * registered again since the search is left undefined (its status belongs to the old
 * registration: the caller leaves it out of this answer).
 */
function holdRows(rows: unknown[], from: number, cache: DescriptorCache, fetchRows: (ids: string[]) => Promise<(string | null)[]>): Promise<(Held | undefined)[]> | undefined {
  let missing: { ids: string[]; at: number[] } | undefined;
  for (let i = from; i < rows.length; i++) {
    const id = holdRow(rows, i, cache);
    if (id === undefined) continue;
    missing ??= { ids: [], at: [] };
    missing.ids.push(id);
    missing.at.push(i);
  }
  if (missing === undefined) return undefined;
  // other queries use the scratch while this one waits; fetching may also evict a known entry
  // from a small cache, so the entries found so far travel in an array of this query's
  const held = scratch.held.slice(0, rows.length);
  return fetchMissing(rows, held, missing, cache, fetchRows);
}

async function fetchMissing(
  rows: unknown[],
  held: (Held | undefined)[],
  missing: { ids: string[]; at: number[] },
  cache: DescriptorCache,
  fetchRows: (ids: string[]) => Promise<(string | null)[]>,
): Promise<(Held | undefined)[]> {
  const lines = await fetchRows(missing.ids);
  if (!Array.isArray(lines) || lines.length !== missing.ids.length) throw malformed('descriptor fetch');
  for (let j = 0; j < missing.ids.length; j++) {
    const line = lines[j];
    if (line === null || line === undefined) continue;
    const text = String(line);
    const vEnd = text.indexOf(' ');
    if (vEnd <= 0) throw malformed('descriptor row');
    const v = text.slice(0, vEnd);
    const node = decodeDescriptor(text, { load: 0, freeCapacity: 0, lastSeen: 0 }, vEnd + 1);
    const i = missing.at[j]!;
    const row = rows[i] as Buffer;
    // the row's version (its second field) names the registration its status belongs to
    const vStart = row.indexOf(SPACE) + 1;
    const entry = cache.hold(v, node);
    if (node.id === missing.ids[j] && bytesAre(row, vStart, row.indexOf(SPACE, vStart), v)) held[i] = entry;
  }
  return held;
}

/**
 * The candidates of a NEAREST reply (`rows` from index `from`, bulk strings as Buffers: "id v l f
 * s b n r ", the descriptor left out): live (last seen after `oldest`), passing `filter`, within `maxDistanceKm` of `point`
 * on our sphere; the k nearest, nearest first (ties in reply order), and how many passed.
 * Candidate objects are built for the k returned only.
 */
export async function nearestRows(
  rows: unknown[],
  from: number,
  cache: DescriptorCache,
  fetchRows: (ids: string[]) => Promise<(string | null)[]>,
  point: LatLon,
  oldest: number,
  filter: NodeFilter | undefined,
  maxDistanceKm: number,
  k: number,
): Promise<{ nearest: NearbyNode[]; passing: number }> {
  // nothing from here to the end awaits when every row is held: the scratch is this query's
  const fetched = holdRows(rows, from, cache, fetchRows);
  if (fetched !== undefined) {
    const held = await fetched;
    for (let i = from; i < rows.length; i++) scratch.held[i] = held[i];
  }
  if (scratch.distance.length < rows.length) {
    scratch.distance = new Float64Array(rows.length * 2);
    scratch.order = new Uint32Array(rows.length * 2);
  }
  const { held: heldRows, nodes: nodeRows, stats: statsRows, distance, order, bounds: b } = scratch;
  let passing = 0;
  let kept = 0;
  for (let i = from; i < rows.length; i++) {
    const held = heldRows[i];
    heldRows[i] = undefined; // the scratch keeps no record alive
    // gone, or re-registered between the search and the fetch: the node is left out of this answer
    if (held === undefined) continue;
    const row = rows[i] as Buffer;
    scanRow(row);
    const n = scratch.numbers;
    readNumber(row, b[8]!, b[9]!, 0);
    const lastSeen = n[0]!;
    if (lastSeen <= oldest) continue;
    const node = held.node;
    // an older reply (one that waited for a descriptor fetch) does not undo a newer one's status
    if (!(lastSeen < node.lastSeen)) {
      readNumber(row, b[4]!, b[5]!, 1);
      readNumber(row, b[6]!, b[7]!, 2);
      node.load = n[1]!;
      node.freeCapacity = n[2]!;
      node.lastSeen = lastSeen;
    }
    const stats = rowStats(row, held);
    if (filter !== undefined && !filter(node, stats)) continue;
    // geo.ts greatCircleKmOf(point.lat, point.lon, node.lat, node.lon), the same expression, written
    // out: passing four doubles to that call (not inlined here) boxed each, 3 KB a query of garbage
    const dLat = (node.lat - point.lat) * RAD;
    const dLon = (node.lon - point.lon) * RAD;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(point.lat * RAD) * Math.cos(node.lat * RAD) * Math.sin(dLon / 2) ** 2;
    const d = 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
    if (!(d <= maxDistanceKm)) continue;
    passing++;
    // the k nearest so far, in order: a row goes after every one at its distance (a stable sort's order)
    if (kept === k && !(d < distance[order[k - 1]!]!)) continue;
    distance[i] = d;
    nodeRows[i] = node;
    statsRows[i] = stats;
    let at = kept < k ? kept++ : k - 1;
    while (at > 0 && distance[order[at - 1]!]! > d) {
      order[at] = order[at - 1]!;
      at--;
    }
    order[at] = i;
  }
  const nearest: NearbyNode[] = new Array(kept);
  for (let p = 0; p < kept; p++) {
    const i = order[p]!;
    nearest[p] = { node: nodeRows[i]!, stats: statsRows[i]!, distanceKm: distance[i]! };
  }
  nodeRows.fill(undefined, from, rows.length);
  statsRows.fill(undefined, from, rows.length);
  return { nearest, passing };
}
