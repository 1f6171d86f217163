/**
 * Great-circle geometry and the propagation-delay floor of a round trip. Light in fibre moves at
 * about 2/3 c, and real routes are longer than the great circle, hence the route factor.
 */
export const EARTH_RADIUS_KM = 6371.0088;
/** Speed of light in vacuum, km per millisecond. */
const C_KM_PER_MS = 299.792458;
/** Fibre's refractive index puts signals at ~2/3 c. */
export const FIBRE_KM_PER_MS = (C_KM_PER_MS * 2) / 3;
/** Typical ratio of routed fibre path to great-circle distance. */
export const DEFAULT_ROUTE_FACTOR = 1.5;

export interface LatLon {
  lat: number;
  lon: number;
}

const RAD = Math.PI / 180;

/** Haversine distance in km (stable for short distances, unlike the spherical law of cosines). */
export function greatCircleKm(a: LatLon, b: LatLon): number {
  return greatCircleKmOf(a.lat, a.lon, b.lat, b.lon);
}

/** greatCircleKm from plain degrees, for loops that would otherwise build a point object per call. */
export function greatCircleKmOf(latA: number, lonA: number, latB: number, lonB: number): number {
  const dLat = (latB - latA) * RAD;
  const dLon = (lonB - lonA) * RAD;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(latA * RAD) * Math.cos(latB * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Round-trip propagation delay over a route `routeFactor` times the great circle. */
export function propagationRttMs(distanceKm: number, routeFactor = DEFAULT_ROUTE_FACTOR): number {
  return ((distanceKm * routeFactor) / FIBRE_KM_PER_MS) * 2;
}

/** A point on the unit sphere; chord distance between unit vectors is monotonic in arc length. */
export function toUnitVector(p: LatLon): [number, number, number] {
  const lat = p.lat * RAD;
  const lon = p.lon * RAD;
  const c = Math.cos(lat);
  return [c * Math.cos(lon), c * Math.sin(lon), Math.sin(lat)];
}

/** Arc length in km for a chord between two unit vectors. */
export function chordToKm(chord: number): number {
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, chord / 2));
}

export function kmToChord(km: number): number {
  return 2 * Math.sin(Math.min(Math.PI / 2, km / (2 * EARTH_RADIUS_KM)));
}
