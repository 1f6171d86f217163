/**
 * The shortlist: the k nearest healthy nodes that fit the query, ranked by score = estimated RTT
 * (propagation over the great-circle distance plus what clients measured beyond it, the node's
 * learned base latency) + the client's price weight × price. A node that lies about its location
 * is found "near" but its reports carry the truth, so it sinks to where its measured RTT puts it.
 *
 * Placement: always sending a client to the single best node piles a metro's sessions onto its
 * few best nodes while others within the same latency budget idle. So the answer also names a
 * placement pick: of two random edge candidates within the client's budget, the less loaded
 * (power of two choices; bench discovery-placement: the load spread and its median RTT cost).
 * The shortlist itself stays in score order.
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
  /** RTT budget assumed for a client that states none, for the placement pick. Default 20 ms. */
  defaultBudgetMs?: number;
  /** Name a power-of-two-choices pick within budget (else the best-scored candidate in budget). Default true. */
  spread?: boolean;
  /** Randomness of the placement pick (tests, simulations). Default Math.random. */
  random?: () => number;
  /**
   * Nearest edge nodes the placement pick chooses from (when within budget), beyond the k
   * returned: with only the k best in play, a metro's outer nodes never got a session. Default 32.
   */
  pickPool?: number;
}

export interface ShortlistQuery {
  caps?: Capability[];
  maxPrice?: number;
  /** ms of estimated RTT the client trades for one unit of price per minute. Default 0: RTT only. */
  priceWeight?: number;
  /** The client's RTT budget: candidates beyond it are never the placement pick. */
  budgetMs?: number;
  k?: number;
  kCloud?: number;
  /** Discovery's trust verdict (TrustService.selectable): nodes it answers false for are left out. */
  selectable?: (id: string) => boolean;
}

export interface RankedNode extends NearbyNode {
  estimatedRttMs: number;
  /** estimatedRttMs + priceWeight × price: the order of the shortlist. */
  score: number;
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
  defaultBudgetMs: 20,
  spread: true,
  random: Math.random,
  pickPool: 32,
});

export function estimateRttMs(distanceKm: number, stats: NodeStats, options: Required<RankOptions>): number {
  return propagationRttMs(distanceKm, options.routeFactor) + Math.max(0, stats.baseLatencyMs ?? options.defaultBaseLatencyMs);
}

export function eligibility(query: ShortlistQuery, options: Required<RankOptions>): Eligibility {
  // fields set one by one: spreading conditional objects made three objects per tier and query
  const e: Eligibility = { maxLoad: options.maxLoad, minReputation: options.minReputation };
  if (query.caps) e.caps = query.caps;
  if (query.maxPrice !== undefined) e.maxPrice = query.maxPrice;
  return e;
}

/**
 * One ranking's per-candidate numbers, reused by every query: scores in typed arrays and an
 * order of indices instead of a RankedNode per candidate, the arrays filtered, mapped, sorted
 * and sliced (a query's largest allocation on the memory backend, 8-12 KB of 24-31). Only the k
 * returned nodes (and the placement pick) become objects. Safe to share: a ranking fills and
 * reads it with no await in between.
 */
class RankScratch {
  score = new Float64Array(64);
  rtt = new Float64Array(64);
  /** Candidate indices in score order (ties: the registry's order, nearest first). */
  order = new Uint32Array(64);
  /** Positions in `order` within the placement budget. */
  inBudget = new Uint32Array(64);
  fit(n: number): void {
    if (n <= this.score.length) return;
    const size = Math.max(n, this.score.length * 2);
    this.score = new Float64Array(size);
    this.rtt = new Float64Array(size);
    this.order = new Uint32Array(size);
    this.inBudget = new Uint32Array(size);
  }
}
const scratch = new RankScratch();

/** Scores the selectable candidates into `scratch` and orders them by score (stable); their count. */
function scoreCandidates(candidates: readonly NearbyNode[], query: ShortlistQuery, options: Required<RankOptions>): number {
  scratch.fit(candidates.length);
  const { score, rtt, order } = scratch;
  const priceWeight = query.priceWeight ?? 0;
  const selectable = query.selectable;
  let n = 0;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (selectable !== undefined && !selectable(c.node.id)) continue;
    const estimatedRttMs = estimateRttMs(c.distanceKm, c.stats, options);
    rtt[i] = estimatedRttMs;
    const s = (score[i] = estimatedRttMs + priceWeight * c.node.pricePerMinute);
    // insertion after every equal score: the order Array.prototype.sort (stable) gave
    let at = n;
    while (at > 0 && score[order[at - 1]!]! > s) at--;
    if (at < n) order.copyWithin(at + 1, at, n);
    order[at] = i;
    n++;
  }
  return n;
}

function ranked(c: NearbyNode, i: number): RankedNode {
  // fields named, not spread: one object shape, no property-by-property copy per candidate
  return { node: c.node, stats: c.stats, distanceKm: c.distanceKm, estimatedRttMs: scratch.rtt[i]!, score: scratch.score[i]! };
}

/**
 * choosePlacement over the scored candidates in `scratch` (the same rule, choiceOfTwo): the
 * position in score order of the pick, -1 when none is within budget.
 */
function placementAt(candidates: readonly NearbyNode[], n: number, budgetMs: number, options: Pick<Required<RankOptions>, 'spread' | 'random'>): number {
  const { order, rtt, score, inBudget } = scratch;
  let m = 0;
  for (let p = 0; p < n; p++) if (rtt[order[p]!]! <= budgetMs) inBudget[m++] = p;
  const j = choiceOfTwo(
    m,
    (j) => candidates[order[inBudget[j]!]!]!.node.load,
    (j) => score[order[inBudget[j]!]!]!,
    options,
  );
  return j < 0 ? -1 : inBudget[j]!;
}

/**
 * The k best-scored nodes of `tier` (score = estimated RTT + priceWeight × price) and, given a
 * budget, the placement pick among the `pool` nearest candidates (choosePlacement's rule), placed
 * last in the list when it scored below the k best.
 */
export async function rankTier(
  registry: Registry,
  point: LatLon,
  tier: NodeTier,
  k: number,
  query: ShortlistQuery,
  options: Required<RankOptions>,
  pool = 0,
  budgetMs?: number,
): Promise<{ ranked: RankedNode[]; pick: RankedNode | undefined }> {
  if (k <= 0) return { ranked: [], pick: undefined };
  const maxDistanceKm = tier === 'edge' ? options.maxEdgeDistanceKm : Infinity;
  const candidates = await registry.nearest(point, Math.max(k * options.candidateFactor, pool), tier, { eligibility: eligibility(query, options), maxDistanceKm });
  const n = scoreCandidates(candidates, query, options);
  const order = scratch.order;
  const top = Math.min(k, n);
  const list: RankedNode[] = new Array(top);
  for (let p = 0; p < top; p++) list[p] = ranked(candidates[order[p]!]!, order[p]!);
  if (budgetMs === undefined) return { ranked: list, pick: undefined };
  const at = placementAt(candidates, n, budgetMs, options);
  if (at < 0) return { ranked: list, pick: undefined };
  if (at < top) return { ranked: list, pick: list[at] };
  // the pick is always in the shortlist: in the last place when it scored below the k best
  const pick = ranked(candidates[order[at]!]!, order[at]!);
  list[top - 1] = pick;
  return { ranked: list, pick };
}

/**
 * The placement pick among score-ordered candidates: of two distinct random candidates within the
 * budget, the less loaded (then the better score). One within budget: that one; none: undefined.
 * With `spread` off: the best-scored candidate within budget.
 */
export function choosePlacement(ranked: readonly RankedNode[], budgetMs: number, options: Pick<Required<RankOptions>, 'spread' | 'random'>): RankedNode | undefined {
  const inBudget = ranked.filter((r) => r.estimatedRttMs <= budgetMs);
  const j = choiceOfTwo(inBudget.length, (j) => inBudget[j]!.node.load, (j) => inBudget[j]!.score, options);
  return j < 0 ? undefined : inBudget[j];
}

/**
 * The placement rule over `m` candidates within budget, in score order (choosePlacement, and
 * rankTier on its typed arrays): which of them, -1 when m is 0. Draws `random` twice, a then b.
 */
function choiceOfTwo(m: number, load: (j: number) => number, score: (j: number) => number, options: Pick<Required<RankOptions>, 'spread' | 'random'>): number {
  if (m === 0) return -1;
  if (m < 2 || !options.spread) return 0;
  const random = options.random;
  const a = Math.floor(random() * m);
  let b = Math.floor(random() * (m - 1));
  if (b >= a) b++;
  return load(a) < load(b) || (load(a) === load(b) && score(a) <= score(b)) ? a : b;
}

export async function shortlist(
  registry: Registry,
  point: LatLon,
  query: ShortlistQuery,
  options: Required<RankOptions> = DEFAULT_RANK_OPTIONS,
): Promise<{ edge: RankedNode[]; cloud: RankedNode[]; pick: RankedNode | undefined }> {
  const [edge, cloud] = await Promise.all([
    rankTier(registry, point, 'edge', query.k ?? options.k, query, options, options.spread ? options.pickPool : 0, query.budgetMs ?? options.defaultBudgetMs),
    rankTier(registry, point, 'cloud', query.kCloud ?? options.kCloud, query, options),
  ]);
  return { edge: edge.ranked, cloud: cloud.ranked, pick: edge.pick };
}
