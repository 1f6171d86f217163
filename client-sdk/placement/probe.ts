/**
 * The one probing algorithm: every candidate in parallel, several pings each over the session
 * protocol, the first discarded (it pays for connection set-up and cold caches), each with a
 * timeout; stragglers cut off once the first node has finished; near-ties re-probed. The median
 * is what the node is judged by; the lowest median within the latency budget wins, and every
 * measurement goes back to discovery. `chooseNode` is the whole decision: the session's
 * placement calls it, and so do the discovery tests and `bench discovery` (on a simulated clock),
 * so the selection-quality figure is about this code.
 */
import type { Capability } from '../../protocol/index.js';
import type { NodeCandidate, NodeLocator, ProbeReport, Shortlist } from './locator.js';
import { quantile } from '../link/RttStats.js';

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
  /**
   * Discovery's placement pick (a candidate id): the less loaded of two random candidates within
   * the budget. It wins over the lowest median when its own measured median is within the budget
   * and at most `spreadSlackMs` above the best, so sessions spread over a metro's nodes instead of
   * piling onto the single nearest one; a pick that measures worse than discovery estimated loses.
   */
  prefer?: string;
  /** How much RTT (ms) the SDK gives up to follow discovery's pick. Default 5; 0 ignores the pick. */
  spreadSlackMs?: number;
  /**
   * Once the first node has finished, the others get this many times its probe time more, then
   * are cut off: a probe is ~(3 + pings) round trips, so a node still going at twice the winner's
   * time has about twice its RTT and cannot win. Default 1; 0 waits for every node.
   */
  straggleFactor?: number;
  signal?: AbortSignal;
  /** Time source for the straggler cut-off; a simulated one lets benches run without sleeping. */
  clock?: ProbeClock;
}

export interface ProbeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_CLOCK: ProbeClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface ProbeResult {
  candidate: NodeCandidate;
  /** Median of the kept pings; undefined when the node did not answer enough of them. */
  rttMs?: number;
  samples: number[];
  error?: Error;
  /** Cut off as a straggler; `rttMs` is then a lower bound, never picked, only reported. */
  cutOff?: boolean;
}

/** Why a straggler's probe was aborted. */
export class StragglerCutOff extends Error {
  override readonly name = 'StragglerCutOff';
  /** Probe time scales with RTT, so a node cut at (1 + factor) × the winner's time has at least that × its RTT. */
  readonly impliedMinRttMs: number;
  constructor(message: string, impliedMinRttMs: number) {
    super(message);
    this.impliedMinRttMs = impliedMinRttMs;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal, onLate: (value: T) => void): Promise<T> {
  if (signal.aborted) {
    promise.then(onLate, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.then(onLate, () => {});
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) onLate(v);
        else resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

export async function probeNode(candidate: NodeCandidate, open: OpenPinger, options: ProbeOptions = {}): Promise<ProbeResult> {
  const pings = Math.max(2, options.pings ?? 5);
  const pingTimeoutMs = options.pingTimeoutMs ?? 300;
  const signal = options.signal ?? new AbortController().signal;
  const clock = options.clock ?? REAL_CLOCK;
  const samples: number[] = [];
  let phase: 'connect' | 'ping' = 'connect';
  let phaseStarted = clock.now();
  let pinger: Pinger | undefined;
  try {
    pinger = await abortable(open(candidate, { timeoutMs: options.connectTimeoutMs ?? 1000, signal }), signal, (late) => late.close());
    phase = 'ping';
    for (let i = 0; i < pings; i++) {
      phaseStarted = clock.now();
      const rtt = await abortable(pinger.ping(pingTimeoutMs), signal, () => {});
      if (i > 0) samples.push(rtt);
    }
    return { candidate, rttMs: median(samples), samples };
  } catch (err) {
    // a node that answers some pings then stalls is judged on what it answered, if at least half
    const enough = samples.length >= Math.ceil((pings - 1) / 2);
    if (err instanceof StragglerCutOff) {
      // an unanswered ping outstanding t ms means RTT ≥ t; a handshake (TCP, upgrade, hello) is ~3 RTT
      const outstanding = clock.now() - phaseStarted;
      const lowerBound = Math.max(phase === 'ping' ? outstanding : outstanding / 3, err.impliedMinRttMs);
      return { candidate, rttMs: enough ? Math.max(median(samples), lowerBound) : lowerBound, samples, cutOff: true };
    }
    return { candidate, ...(enough ? { rttMs: median(samples) } : {}), samples, error: err as Error };
  } finally {
    pinger?.close();
  }
}

export async function probeAll(candidates: readonly NodeCandidate[], open: OpenPinger, options: ProbeOptions = {}): Promise<ProbeResult[]> {
  const factor = options.straggleFactor ?? 1;
  const clock = options.clock ?? REAL_CLOCK;
  const started = clock.now();
  const cut = new AbortController();
  let timer: unknown;
  const signal = options.signal ? AbortSignal.any([options.signal, cut.signal]) : cut.signal;
  try {
    return await Promise.all(
      candidates.map(async (c) => {
        const result = await probeNode(c, open, { ...options, signal });
        if (factor > 0 && timer === undefined && result.rttMs !== undefined && !result.cutOff) {
          const implied = result.rttMs * (1 + factor);
          timer = clock.setTimeout(() => cut.abort(new StragglerCutOff(`slower than ${1 + factor}× the first node to answer`, implied)), (clock.now() - started) * factor);
        }
        return result;
      }),
    );
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
  }
}

/** The lowest median RTT within the budget, or undefined when none qualifies. */
export function pickLowest(results: readonly ProbeResult[], budgetMs = Infinity): ProbeResult | undefined {
  let best: ProbeResult | undefined;
  for (const r of results) {
    if (r.rttMs === undefined || r.cutOff || r.rttMs > budgetMs) continue;
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
  const ranked = results.filter((r) => r.rttMs !== undefined && !r.cutOff && r.rttMs <= (options.budgetMs ?? Infinity)).sort((a, b) => a.rttMs! - b.rttMs!);
  const best = ranked[0]?.rttMs;
  if (best === undefined) return;
  const tied = ranked.filter((r) => r.rttMs! - best <= Math.max(tieMs, best * 0.05)).slice(0, 3);
  if (tied.length < 2) return;
  await Promise.all(
    tied.map(async (r) => {
      const extra = await probeNode(r.candidate, open, { ...options, pings: (options.tiePings ?? 8) + 1 });
      if (extra.cutOff) return;
      if (extra.samples.length > 0) {
        r.samples.push(...extra.samples);
        r.rttMs = median(r.samples);
      }
    }),
  );
}

/** The preferred candidate's result when it measured within the budget and the slack; else the lowest. */
export function pickPreferred(results: readonly ProbeResult[], options: ProbeOptions = {}): ProbeResult | undefined {
  const lowest = pickLowest(results, options.budgetMs);
  const slackMs = options.spreadSlackMs ?? 5;
  if (lowest === undefined || options.prefer === undefined || !(slackMs > 0)) return lowest;
  const preferred = results.find((r) => r.candidate.id === options.prefer);
  const ok = preferred?.rttMs !== undefined && !preferred.cutOff && preferred.rttMs <= (options.budgetMs ?? Infinity) && preferred.rttMs <= lowest.rttMs! + slackMs;
  return ok ? preferred : lowest;
}

/** Probe every candidate, re-probe near-ties, pick discovery's choice or the lowest median within the budget. */
export async function chooseNode(candidates: readonly NodeCandidate[], open: OpenPinger, options: ProbeOptions = {}): Promise<{ chosen?: ProbeResult; results: ProbeResult[] }> {
  const results = await probeAll(candidates, open, options);
  await refineTies(results, open, options);
  const chosen = pickPreferred(results, options);
  return chosen ? { chosen, results } : { results };
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
  const [{ chosen: bestEdge, results: edge }, cloud] = await Promise.all([chooseNode(list.edge, open, { ...(list.pick !== undefined ? { prefer: list.pick } : {}), ...options }), probeAll(list.cloud, open, options)]);
  locator.report?.(toReports([...edge, ...cloud]));
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
