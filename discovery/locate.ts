/**
 * Where is this client (or node)? A lat/lon it sent wins (a headset with GPS or a user's
 * choice); otherwise its IP through geoip-lite; loopback and private addresses, which geoip
 * cannot place, fall back to a configured default location.
 */
import { BlockList, isIP } from 'node:net';
import type { LatLon } from './geo.js';
import { importOptional } from '../protocol/server/optionalPackages.js';

export type LocationSource = 'client' | 'geoip' | 'default';
export interface Located extends LatLon {
  source: LocationSource;
}

export interface IpLocatorOptions {
  /** Where clients without a usable location are placed. Env `DISCOVERY_DEFAULT_LOCATION="lat,lon"`; default 0,0. */
  defaultLocation?: LatLon;
  /** Replaces geoip-lite (tests, or another database). */
  lookup?: (ip: string) => LatLon | undefined;
}

const PRIVATE = new BlockList();
for (const [net, prefix] of [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['127.0.0.0', 8], ['169.254.0.0', 16], ['100.64.0.0', 10], ['0.0.0.0', 8]] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [['::1', 128], ['fc00::', 7], ['fe80::', 10], ['::', 128]] as const) PRIVATE.addSubnet(net, prefix, 'ipv6');

/** `::ffff:1.2.3.4` (how Node reports IPv4 peers on a dual-stack socket) → `1.2.3.4`. */
export function normaliseIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? mapped[1]! : ip;
}

export function isPrivateIp(ip: string): boolean {
  const plain = normaliseIp(ip);
  const family = isIP(plain);
  if (family === 0) return true; // not an address at all: treat as unplaceable
  return PRIVATE.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}

type GeoipModule = { lookup(ip: string): { ll: [number, number] } | null };
let geoip: GeoipModule | undefined;

/**
 * geoip-lite reads ~150 MB of tables synchronously when imported, so it loads on the first public
 * IP instead of at start (tests on loopback never pay for it). Call `preloadGeoip()` at server start
 * to move that cost out of the first query.
 */
export async function preloadGeoip(): Promise<void> {
  if (geoip === undefined) {
    const mod = (await importOptional('locating clients by IP (edge-offload discovery)', () => import('geoip-lite'))) as unknown as { default?: GeoipModule } & GeoipModule;
    geoip = mod.default ?? mod;
  }
}

export function geoipLookup(ip: string): LatLon | undefined {
  if (geoip === undefined) return undefined;
  const hit = geoip.lookup(ip);
  if (hit === null || !Array.isArray(hit.ll)) return undefined;
  const [lat, lon] = hit.ll;
  // geoip-lite answers 0,0 (or nothing useful) for addresses it only knows the continent of
  return Number.isFinite(lat) && Number.isFinite(lon) && !(lat === 0 && lon === 0) ? { lat, lon } : undefined;
}

export class IpLocator {
  readonly defaultLocation: LatLon;
  readonly #lookup: ((ip: string) => LatLon | undefined) | undefined;

  constructor(options: IpLocatorOptions = {}) {
    this.defaultLocation = options.defaultLocation ?? parseLatLon(process.env.DISCOVERY_DEFAULT_LOCATION) ?? { lat: 0, lon: 0 };
    this.#lookup = options.lookup;
  }

  /** Locates by what the peer sent first, then its IP, then the default. */
  async locate(ip: string | undefined, sent: { lat?: number | undefined; lon?: number | undefined } = {}): Promise<Located> {
    if (sent.lat !== undefined && sent.lon !== undefined) return { lat: sent.lat, lon: sent.lon, source: 'client' };
    const found = ip === undefined ? undefined : await this.lookupIp(ip);
    return found ? { ...found, source: 'geoip' } : { ...this.defaultLocation, source: 'default' };
  }

  /** Only the IP: undefined for private, loopback or unknown addresses. */
  async lookupIp(ip: string): Promise<LatLon | undefined> {
    if (isPrivateIp(ip)) return undefined;
    const plain = normaliseIp(ip);
    if (this.#lookup) return this.#lookup(plain);
    await preloadGeoip();
    return geoipLookup(plain);
  }
}

/** `"lat,lon"` → LatLon, for env vars and CLI flags. */
export function parseLatLon(text: string | undefined): LatLon | undefined {
  if (text === undefined || text === '') return undefined;
  const parts = text.split(',').map((s) => Number(s.trim()));
  const [lat, lon] = parts;
  if (parts.length !== 2 || !Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat!) > 90 || Math.abs(lon!) > 180) {
    throw new TypeError(`'${text}' is not "lat,lon" (e.g. "52.52,13.40")`);
  }
  return { lat: lat!, lon: lon! };
}
