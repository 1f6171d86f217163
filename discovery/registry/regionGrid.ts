/**
 * The regions RedisClusterRegistry shards nodes by: cells of `degrees` × `degrees` in latitude and
 * longitude. A region's keys share one hash slot, so each region's search runs as one script on
 * one shard; a query searches the region it falls in first and then only regions whose nearest
 * possible point is closer than what it already found (lowerBoundKm).
 */
import { greatCircleKmOf, type LatLon } from '../geo.js';

interface Cell {
  latMin: number;
  latMax: number;
  lonMin: number;
  lonMax: number;
}

const RAD = Math.PI / 180;

export class RegionGrid {
  readonly degrees: number;
  readonly #nLon: number;
  readonly #nLat: number;
  readonly #cells = new Map<string, Cell>();

  constructor(degrees: number) {
    if (!(degrees > 0) || 360 % degrees !== 0 || 180 % degrees !== 0) throw new TypeError('regionDegrees must divide 180');
    this.degrees = degrees;
    this.#nLon = 360 / degrees;
    this.#nLat = 180 / degrees;
    for (let x = 0; x < this.#nLon; x++) {
      for (let y = 0; y < this.#nLat; y++) {
        const [lonMin, latMin] = [x * degrees - 180, y * degrees - 90];
        this.#cells.set(`${x}:${y}`, { latMin, latMax: latMin + degrees, lonMin, lonMax: lonMin + degrees });
      }
    }
  }

  /** The region a point lies in. */
  regionOf(p: LatLon): string {
    const x = ((Math.floor((p.lon + 180) / this.degrees) % this.#nLon) + this.#nLon) % this.#nLon;
    const y = Math.min(this.#nLat - 1, Math.max(0, Math.floor((p.lat + 90) / this.degrees)));
    return `${x}:${y}`;
  }

  /** Every region's name. */
  get all(): string[] {
    return [...this.#cells.keys()];
  }

  /**
   * The great-circle distance from `p` to the nearest point of `region` (0 inside it), less a
   * kilometre of margin: no node of the region can be nearer.
   */
  lowerBoundKm(p: LatLon, region: string, home = this.regionOf(p)): number {
    const c = this.#cells.get(region);
    if (c === undefined) return Infinity;
    if (home === region) return 0;
    // plain numbers, no point objects or arrays: a cluster query bounds every occupied region
    // (dozens) per tier, and those were most of its garbage
    let best: number;
    if (wrap(p.lon - c.lonMin) >= 0 && wrap(p.lon - c.lonMax) <= 0) {
      // within the cell's meridians: the nearest point is straight north or south, on an edge
      best = greatCircleKmOf(p.lat, p.lon, Math.min(c.latMax, Math.max(c.latMin, p.lat)), p.lon);
    } else {
      // outside them: on one of the two meridian edges (any parallel point is farther than the
      // edge point at its latitude). Along a meridian the distance is unimodal, so its minimum
      // over the edge is the unconstrained closest point clamped to the edge, or an end.
      best = Math.min(this.#meridianEdgeKm(p, c, c.lonMin), this.#meridianEdgeKm(p, c, c.lonMax));
    }
    return Math.max(0, best - 1);
  }

  #meridianEdgeKm(p: LatLon, c: Cell, lon: number): number {
    const dLon = wrap(p.lon - lon) * RAD;
    let best = Math.min(greatCircleKmOf(p.lat, p.lon, c.latMin, lon), greatCircleKmOf(p.lat, p.lon, c.latMax, lon));
    if (Math.cos(dLon) > 0) best = Math.min(best, greatCircleKmOf(p.lat, p.lon, Math.min(c.latMax, Math.max(c.latMin, Math.atan(Math.tan(p.lat * RAD) / Math.cos(dLon)) / RAD)), lon));
    return best;
  }
}

/** Degrees into [-180, 180). */
function wrap(deg: number): number {
  return ((((deg + 180) % 360) + 360) % 360) - 180;
}
