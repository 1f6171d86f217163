/**
 * How RedisRegistry stores a node's descriptor: one space-separated line ("compact descriptor")
 * instead of JSON. Every query decodes ~20 of them; objects from JSON.parse there survived young-
 * generation GCs (promoted ~17 KB a query, measured with --trace-gc-nvp: 4-8 ms scavenges and
 * frequent old-generation collections in the bench's p99), while objects built field by field did
 * not. Strings are URI-encoded behind a one-letter tag, so no field is empty or holds a space.
 */
import { randomBytes } from 'node:crypto';
import type { Capability, NodeTier } from '../../protocol/index.js';
import { capabilityMask, FRESH_STATS, type NodeRecord, type NodeStats } from './Registry.js';

/** A record's version: new on every put, so a search row written before a re-registration is told apart. */
export function newVersion(): string {
  return randomBytes(6).toString('base64url');
}

// Redis GEO cannot store latitudes beyond ±85.05112878 (Web Mercator); the true lat stays in the hash.
const GEO_MAX_LAT = 85.05112878;

/** The latitude Redis GEO can store: clamped to Web Mercator's ±85.05112878°. */
export function clampLat(lat: number): number {
  return Math.max(-GEO_MAX_LAT, Math.min(GEO_MAX_LAT, lat));
}

export type StaticDescriptor = Omit<NodeRecord, 'load' | 'freeCapacity' | 'lastSeen'>;

function enc(s: string): string {
  return 's' + encodeURIComponent(s);
}
function dec(s: string | undefined): string {
  return s === undefined ? '' : s.length > 1 && s.includes('%') ? decodeURIComponent(s.slice(1)) : s.slice(1);
}

/** "id tier lat lon caps capacity price operator publicKey url", caps comma-joined in their order. */
export function encodeDescriptor(d: StaticDescriptor): string {
  return [enc(d.id), d.tier, d.lat, d.lon, enc(d.caps.join(',')), d.capacity, d.pricePerMinute, enc(d.operator), enc(d.publicKey), enc(d.url)].join(' ');
}

/**
 * Decodes the descriptor that starts at `from` in `line` (a search row carries it after its own
 * fields). Reads the fields in place with indexOf: a query decodes a row per candidate (~40), and
 * splitting each row into arrays of substrings, twice, was a third of a Redis query's garbage.
 */
export function decodeDescriptor(line: string, status: { load: number; freeCapacity: number; lastSeen: number }, from = 0): NodeRecord {
  let at = from;
  const next = (): string => {
    const end = line.indexOf(' ', at);
    const field = end < 0 ? line.slice(at) : line.slice(at, end);
    at = end < 0 ? line.length : end + 1;
    return field;
  };
  const id = dec(next());
  const t = next();
  const tier = t === 'edge' ? 'edge' : t === 'cloud' ? 'cloud' : t; // the constant, not a copy per row
  const lat = Number(next());
  const lon = Number(next());
  const capList = dec(next());
  const capacity = Number(next());
  const pricePerMinute = Number(next());
  const operator = dec(next());
  const publicKey = dec(next());
  const url = dec(next());
  return {
    id,
    publicKey,
    url,
    tier: tier as NodeTier,
    lat,
    lon,
    caps: capList === '' ? [] : (capList.split(',') as Capability[]),
    capacity,
    pricePerMinute,
    operator,
    load: status.load,
    freeCapacity: status.freeCapacity,
    lastSeen: status.lastSeen,
  };
}

/** Copies of descriptor fields the search script checks without decoding the descriptor. */
export function searchFields(node: NodeRecord): string[] {
  return ['c', String(capabilityMask(node.caps)), 'p', String(node.pricePerMinute)];
}

/**
 * The node's row in the `search` hash: version, load, free capacity, last seen, caps mask, price.
 * No descriptor line: the search reads ~35 rows a query, and a ~150-byte line in each was moved
 * into Lua only to be ignored (a replica holds descriptors by version, see descriptorRow).
 */
export function searchRow(v: string, node: NodeRecord): string {
  return [v, node.load, node.freeCapacity, node.lastSeen, capabilityMask(node.caps), node.pricePerMinute].join(' ');
}

/** The node's row in the `desc` hash: "v d", what a replica fetches for a version it does not hold. */
export function descriptorRow(v: string, d: string): string {
  return v + ' ' + d;
}

/** A node hash's `d l f` fields (HMGET), with lastSeen from the deadline set; undefined when the hash is gone. */
export function parseRecord(fields: (string | null)[], lastSeen: number): NodeRecord | undefined {
  const [d, l, f] = fields.map((v) => (v === null || v === undefined ? null : String(v)));
  if (!d) return undefined;
  return decodeDescriptor(d, { load: Number(l), freeCapacity: Number(f), lastSeen });
}

/** A stats hash's `b n r` fields (HMGET). */
export function parseStats(fields: (string | null)[]): NodeStats {
  const [b, n, r] = fields.map((v) => (v === null || v === undefined ? null : String(v)));
  if (n === null) return { ...FRESH_STATS };
  return { baseLatencyMs: b === null ? undefined : Number(b), samples: Number(n), reputation: r === null ? 1 : Number(r) };
}
