/**
 * The shortlist: the k nearest healthy nodes that fit the query, ranked by estimated RTT —
 * propagation over the great-circle distance plus what clients measured beyond it (the node's
 * learned base latency). A node that lies about its location is found "near" but its reports
 * carry the truth, so it sinks to where its measured RTT puts it.
 */
import type { Capability, NodeTier } from '../protocol/index.js';
import { DEFAULT_ROUTE_FACTOR, propagationRttMs, type LatLon } from './geo.js';
import type { Eligibility, NearbyNode, NodeStats, Registry } from './registry/Registry.js';

export interface RankOptions {
  /** Edge nodes returned. Default 8. */
  k?: number;
  /** Cloud fallback nodes returned. Default 3. */
  kCloud?: number;
  /** Nearest candidates fetched per returned node, re-ranked by estimated RTT. Default 2. */
  candidateFactor?: number;
  /** Routed path length over great-circle length. Default 1.5. */
  routeFactor?: number;
  /** Base latency assumed for a node no client has measured yet. Default 5 ms. */
  defaultBaseLatencyMs?: number;
  /** Nodes answering fewer probes than this fraction (EWMA) are left out. Default 0.5. */
  minReputation?: number;
  /** Nodes reporting at least this load are left out. Default 0.95. */
  maxLoad?: number;
  /**
   * Edge nodes farther than this are not "edge" for this client (2000 km is ≥ 30 ms of round
   * trip before any queuing); it gets the cloud list instead. Default 2000 km.
   */
  maxEdgeDistanceKm?: number;
}

export interface ShortlistQuery {
  caps?: Capability[];
  maxPrice?: number;
  k?: number;
  kCloud?: number;
}

export interface RankedNode extends NearbyNode {
  estimatedRttMs: number;
}

export const DEFAULT_RANK_OPTIONS: Required<RankOptions> = Object.freeze({
  k: 8,
  kCloud: 3,
  candidateFactor: 2,
  routeFactor: DEFAULT_ROUTE_FACTOR,
  defaultBaseLatencyMs: 5,
  minReputation: 0.5,
  maxLoad: 0.95,
  maxEdgeDistanceKm: 2000,
});

export function estimateRttMs(distanceKm: number, stats: NodeStats, options: Required<RankOptions>): number {
  return propagationRttMs(distanceKm, options.routeFactor) + Math.max(0, stats.baseLatencyMs ?? options.defaultBaseLatencyMs);
}

export function eligibility(query: ShortlistQuery, options: Required<RankOptions>): Eligibility {
  return {
    ...(query.caps ? { caps: query.caps } : {}),
    ...(query.maxPrice !== undefined ? { maxPrice: query.maxPrice } : {}),
    maxLoad: options.maxLoad,
    minReputation: options.minReputation,
  };
}

export async function rankTier(registry: Registry, point: LatLon, tier: NodeTier, k: number, query: ShortlistQuery, options: Required<RankOptions>): Promise<RankedNode[]> {
  if (k <= 0) return [];
  const maxDistanceKm = tier === 'edge' ? options.maxEdgeDistanceKm : Infinity;
  const candidates = await registry.nearest(point, k * options.candidateFactor, tier, { eligibility: eligibility(query, options), maxDistanceKm });
  return candidates
    .map((c) => ({ ...c, estimatedRttMs: estimateRttMs(c.distanceKm, c.stats, options) }))
    .sort((a, b) => a.estimatedRttMs - b.estimatedRttMs)
    .slice(0, k);
}

export async function shortlist(
  registry: Registry,
  point: LatLon,
  query: ShortlistQuery,
  options: Required<RankOptions> = DEFAULT_RANK_OPTIONS,
): Promise<{ edge: RankedNode[]; cloud: RankedNode[] }> {
  const [edge, cloud] = await Promise.all([
    rankTier(registry, point, 'edge', query.k ?? options.k, query, options),
    rankTier(registry, point, 'cloud', query.kCloud ?? options.kCloud, query, options),
  ]);
  return { edge, cloud };
}
