/**
 * Synthetic nodes and clients placed around real cities (discovery/data/cities.ts), from a
 * seeded generator so every run measures the same world.
 */
import { CITIES } from '../../discovery/data/cities.js';
import type { LatLon } from '../../discovery/geo.js';
import type { NodeRecord } from '../../discovery/registry/Registry.js';
import type { Capability } from '../../protocol/index.js';

/** Deterministic uniform [0, 1). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

export function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** A point within about `sigmaDeg` degrees of `centre`, wrapped into valid ranges. */
export function near(centre: LatLon, sigmaDeg: number, rand: () => number): LatLon {
  const lat = Math.max(-89.9, Math.min(89.9, centre.lat + gaussian(rand) * sigmaDeg));
  const lon = ((((centre.lon + gaussian(rand) * sigmaDeg) + 540) % 360) + 360) % 360 - 180;
  return { lat, lon };
}

export function uniformOnSphere(rand: () => number): LatLon {
  return { lat: (Math.asin(2 * rand() - 1) * 180) / Math.PI, lon: rand() * 360 - 180 };
}

const CAP_SETS: Capability[][] = [['predict', 'infer', 'render'], ['predict', 'infer'], ['predict', 'render'], ['predict']];
// one shared key string: the index and records are what is measured, not 1M distinct keys
const KEY = 'A'.repeat(43);

export function syntheticNode(i: number, rand: () => number, now: number): NodeRecord {
  const city = CITIES[Math.floor(rand() * CITIES.length)]!;
  const at = near(city, 0.3, rand);
  return {
    id: `n${i}`,
    publicKey: KEY,
    url: `ws://n${i}.invalid/v1/session`,
    tier: i % 100 === 0 ? 'cloud' : 'edge',
    lat: at.lat,
    lon: at.lon,
    caps: CAP_SETS[Math.floor(rand() * CAP_SETS.length)]!,
    capacity: 8,
    pricePerMinute: Math.round(rand() * 100) / 1000,
    operator: 'bench',
    load: rand() * 0.9,
    freeCapacity: rand() < 0.05 ? 0 : 1 + Math.floor(rand() * 7),
    lastSeen: now,
  };
}

/** The point `km` away from `from` along initial bearing `bearingDeg`. */
export function destination(from: LatLon, km: number, bearingDeg: number): LatLon {
  const d = km / 6371.0088;
  const b = (bearingDeg * Math.PI) / 180;
  const lat1 = (from.lat * Math.PI) / 180;
  const lon1 = (from.lon * Math.PI) / 180;
  const lat2 = Math.asin(Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(b));
  const lon2 = lon1 + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(lat1), Math.cos(d) - Math.sin(lat1) * Math.sin(lat2));
  return { lat: (lat2 * 180) / Math.PI, lon: ((((lon2 * 180) / Math.PI + 540) % 360) + 360) % 360 - 180 };
}

/**
 * Where headset users are: 80 % in a metro area (within ~50 km of a city centre), 20 % regional
 * (50-300 km out from a city). Nobody queries from mid-ocean; `remotePoints` covers that apart.
 */
export function clientPoints(n: number, seed: number): LatLon[] {
  const rand = seeded(seed);
  return Array.from({ length: n }, () => {
    const city = CITIES[Math.floor(rand() * CITIES.length)]!;
    return rand() < 0.8 ? near(city, 0.5, rand) : destination(city, 50 + rand() * 250, rand() * 360);
  });
}

/** Uniform over the whole sphere: mostly ocean, far from every node (the worst case for search). */
export function remotePoints(n: number, seed: number): LatLon[] {
  const rand = seeded(seed);
  return Array.from({ length: n }, () => uniformOnSphere(rand));
}
