/**
 * Probing a shortlist: every candidate in parallel, several pings each over the session protocol,
 * the first discarded (it pays for connection set-up and cold caches), each with a timeout. The
 * median is what the node is judged by; the lowest median within the latency budget wins, and
 * every measurement goes back to discovery.
 */
import type { Capability } from '../protocol/index.js';
import type { NodeCandidate, NodeLocator, ProbeReport, Shortlist } from './locator.js';

/** One open connection able to measure RTT. `connectionPinger()` opens one over a NodeConnection. */
export interface Pinger {
  /** One round trip, in ms. */
  ping(timeoutMs: number): Promise<number>;
  close(): void;
}

export type OpenPinger = (candidate: NodeCandidate, options: { timeoutMs: number; signal: AbortSignal }) => Promise<Pinger>;

export interface ProbeOptions {
  /** Pings per node, the first discarded. Default 5. */
  pings?: number;
  /** Timeout for one ping. Default 300 ms. */
  pingTimeoutMs?: number;
  /** Timeout for opening the connection. Default 1000 ms. */
  connectTimeoutMs?: number;
  /** Highest acceptable median RTT; nodes over it are never picked. Default Infinity. */
  budgetMs?: number;
  /**
   * Medians closer than this to the best (ms, or 5 % of the best if larger) are a tie worth
   * re-probing: jitter can flip which is lower. Default 0.3 ms; 0 turns tie-breaking off.
   */
  tieMs?: number;
  /** Extra pings per tied node. Default 8. */
  tiePings?: number;
  signal?: AbortSignal;
}

export interface ProbeResult {
  candidate: NodeCandidate;
  /** Median of the kept pings; undefined when the node did not answer enough of them. */
  rttMs?: number;
  samples: number[];
  error?: Error;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function probeNode(candidate: NodeCandidate, open: OpenPinger, options: ProbeOptions = {}): Promise<ProbeResult> {
  const pings = Math.max(2, options.pings ?? 5);
  const pingTimeoutMs = options.pingTimeoutMs ?? 300;
  const signal = options.signal ?? new AbortController().signal;
  const samples: number[] = [];
  let pinger: Pinger | undefined;
  try {
    pinger = await open(candidate, { timeoutMs: options.connectTimeoutMs ?? 1000, signal });
    for (let i = 0; i < pings; i++) {
      if (signal.aborted) break;
      const rtt = await pinger.ping(pingTimeoutMs);
      if (i > 0) samples.push(rtt);
    }
    return { candidate, rttMs: median(samples), samples };
  } catch (err) {
    // a node that answers some pings then stalls is judged on what it answered, if at least half
    const enough = samples.length >= Math.ceil((pings - 1) / 2);
    return { candidate, ...(enough ? { rttMs: median(samples) } : {}), samples, error: err as Error };
  } finally {
    pinger?.close();
  }
}

export async function probeAll(candidates: readonly NodeCandidate[], open: OpenPinger, options: ProbeOptions = {}): Promise<ProbeResult[]> {
  return Promise.all(candidates.map((c) => probeNode(c, open, options)));
}

/** The lowest median RTT within the budget, or undefined when none qualifies. */
export function pickLowest(results: readonly ProbeResult[], budgetMs = Infinity): ProbeResult | undefined {
  let best: ProbeResult | undefined;
  for (const r of results) {
    if (r.rttMs === undefined || r.rttMs > budgetMs) continue;
    if (best === undefined || r.rttMs < best.rttMs!) best = r;
  }
  return best;
}

/**
 * When the best medians are within jitter of each other, pings the tied nodes again (up to 3 of
 * them, in parallel) and folds the new samples in, so the pick rests on more than a coin flip.
 */
export async function refineTies(results: ProbeResult[], open: OpenPinger, options: ProbeOptions = {}): Promise<void> {
  const tieMs = options.tieMs ?? 0.3;
  if (tieMs <= 0) return;
  const ranked = results.filter((r) => r.rttMs !== undefined && r.rttMs <= (options.budgetMs ?? Infinity)).sort((a, b) => a.rttMs! - b.rttMs!);
  const best = ranked[0]?.rttMs;
  if (best === undefined) return;
  const tied = ranked.filter((r) => r.rttMs! - best <= Math.max(tieMs, best * 0.05)).slice(0, 3);
  if (tied.length < 2) return;
  await Promise.all(
    tied.map(async (r) => {
      const extra = await probeNode(r.candidate, open, { ...options, pings: (options.tiePings ?? 8) + 1 });
      if (extra.samples.length > 0) {
        r.samples.push(...extra.samples);
        r.rttMs = median(r.samples);
      }
    }),
  );
}

export function toReports(results: readonly ProbeResult[]): ProbeReport[] {
  return results.map((r) => (r.rttMs === undefined ? { id: r.candidate.id } : { id: r.candidate.id, rttMs: r.rttMs }));
}

export interface Selection {
  /** The node to use: the best edge within budget, else the best cloud node, else undefined. */
  chosen?: ProbeResult;
  tier?: 'edge' | 'cloud';
  shortlist: Shortlist;
  edge: ProbeResult[];
  cloud: ProbeResult[];
  /** Wall time from query to decision. */
  decideMs: number;
}

/**
 * Query, probe edge and cloud candidates side by side, pick, and report. The cloud list is
 * probed in the same round so falling back costs no extra time.
 */
export async function selectNode(
  locator: NodeLocator,
  open: OpenPinger,
  options: ProbeOptions & { caps?: Capability[] } = {},
): Promise<Selection> {
  const start = performance.now();
  const list = await locator.shortlist({ ...(options.signal ? { signal: options.signal } : {}), ...(options.caps ? { caps: options.caps } : {}) });
  const [edge, cloud] = await Promise.all([probeAll(list.edge, open, options), probeAll(list.cloud, open, options)]);
  await refineTies(edge, open, options);
  locator.report?.(toReports([...edge, ...cloud]));
  const bestEdge = pickLowest(edge, options.budgetMs);
  const bestCloud = bestEdge ? undefined : pickLowest(cloud);
  const chosen = bestEdge ?? bestCloud;
  return {
    ...(chosen ? { chosen, tier: chosen.candidate.tier } : {}),
    shortlist: list,
    edge,
    cloud,
    decideMs: performance.now() - start,
  };
}
