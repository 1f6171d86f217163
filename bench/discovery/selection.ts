/**
 * Selection quality: a simulated world where geography and true RTT disagree — congested nodes,
 * bad routes, nodes lying about their location — run through the real pipeline: discovery's
 * shortlist (MemoryRegistry + rank), the SDK's own placement decision (`chooseNode` from
 * client-sdk/placement/probe.ts with the session's default probe options, exactly what
 * `Placement.findEdge` runs) against simulated pings on a simulated clock, and discovery learning
 * from the reports.
 * A session is correct when it ends on the node with the truly lowest RTT among all edge nodes.
 */
import { CITIES } from '../../discovery/data/cities.js';
import { greatCircleKm, propagationRttMs, type LatLon } from '../../discovery/geo.js';
import { learnFromReports } from '../../discovery/feedback.js';
import { DEFAULT_RANK_OPTIONS, shortlist } from '../../discovery/rank.js';
import { MemoryRegistry } from '../../discovery/registry/MemoryRegistry.js';
import { chooseNode, toReports, type OpenPinger, type ProbeOptions } from '../../client-sdk/placement/probe.js';
import { probeOptions, resolveFailoverOptions } from '../../client-sdk/placement/FailoverOptions.js';
import type { NodeCandidate } from '../../client-sdk/placement/locator.js';
import { VirtualClock } from './VirtualClock.js';
import { destination, near, seeded } from './synthetic.js';

export interface SelectionConfig {
  sessions: number;
  nodesPerCity: number;
  seed: number;
  /** Fractions of edge nodes with each fault. */
  congested: number;
  badRoute: number;
  falseLocation: number;
  /** The session's probe options (defaults of `openSession`); the budget is lifted to rank every edge. */
  probe: Omit<ProbeOptions, 'signal' | 'clock'>;
}

/** What a session placed by `openSession` with default options probes with. */
const SDK_PROBE: ProbeOptions = { ...probeOptions(resolveFailoverOptions({ locator: { shortlist: async () => ({ edge: [], cloud: [] }) } })), budgetMs: Infinity };

export const DEFAULT_SELECTION: SelectionConfig = {
  sessions: 3000,
  nodesPerCity: 12,
  seed: 11,
  congested: 0.1,
  badRoute: 0.1,
  falseLocation: 0.05,
  probe: SDK_PROBE,
};

interface TrueNode {
  id: string;
  /** Where it really is. */
  at: LatLon;
  /** Where it says it is. */
  claimed: LatLon;
  accessMs: number;
  routeFactor: number;
  congestionMs: number;
  kind: 'normal' | 'congested' | 'bad-route' | 'false-location';
}

export interface SelectionResult {
  config: SelectionConfig;
  sessions: number;
  correct: number;
  correctFraction: number;
  /** Sessions after the first 20 %, once discovery has had reports to learn from. */
  correctFractionAfterWarmup: number;
  /** Sessions whose truly best node is a location liar (in a remote data centre). */
  unreachableBest: number;
  /** Sessions whose truly best node was in discovery's shortlist (probing can only pick among those). */
  bestShortlistedFraction: number;
  within1msFraction: number;
  regretMs: { p50: number; p99: number; max: number };
  decideMs: { p50: number; p99: number };
  /** Cumulative correct fraction every 10 % of sessions, for the chart. */
  curve: [number, number][];
  byKind: Record<string, { best: number; correct: number }>;
}

export async function simulateSelection(config: SelectionConfig = DEFAULT_SELECTION, progress: (line: string) => void = () => {}): Promise<SelectionResult> {
  const rand = seeded(config.seed);
  const registry = new MemoryRegistry({ heartbeatIntervalMs: 3_600_000 });
  const nodes = new Map<string, TrueNode>();
  const now = Date.now();
  let i = 0;
  for (const city of CITIES) {
    for (let j = 0; j < config.nodesPerCity; j++) {
      const at = near(city, 0.15, rand);
      const r = rand();
      let kind: TrueNode['kind'] = 'normal';
      if (r < config.congested) kind = 'congested';
      else if (r < config.congested + config.badRoute) kind = 'bad-route';
      else if (r < config.congested + config.badRoute + config.falseLocation) kind = 'false-location';
      // a liar really sits in a city at least 1500 km away and claims a spot in this one
      // a liar is a VM in a remote data centre (500-2000 km from the city it claims, and at least
      // 200 km from every city clients live in) that claims a spot in this metro
      let realAt = at;
      if (kind === 'false-location') {
        do {
          realAt = destination(city, 500 + rand() * 1500, rand() * 360);
        } while (CITIES.some((c) => greatCircleKm(c, realAt) < 200));
      }
      const node: TrueNode = {
        id: `s${i++}`,
        at: realAt,
        claimed: at,
        accessMs: 0.5 + rand() * 5.5,
        routeFactor: kind === 'bad-route' ? 2.5 + rand() * 1.5 : 1.2 + rand() * 0.6,
        congestionMs: kind === 'congested' ? 5 + rand() * 25 : 0,
        kind,
      };
      nodes.set(node.id, node);
      registry.putSync({
        id: node.id, publicKey: 'A'.repeat(43), url: `ws://${node.id}.invalid/`, tier: 'edge', lat: at.lat, lon: at.lon,
        caps: ['predict', 'infer', 'render'], capacity: 8, pricePerMinute: 0, operator: 'sim', load: 0.2, freeCapacity: 4, lastSeen: now,
      });
    }
  }
  const all = [...nodes.values()];

  /** True RTT between a client and a node, ms; a per-pair ±3 % spread models route diversity. */
  const trueRtt = (client: LatLon, clientAccessMs: number, node: TrueNode, pairSeed: number): number => {
    const spread = 1 + ((Math.sin(pairSeed * 12.9898) * 43758.5453) % 1) * 0.03;
    return clientAccessMs + node.accessMs + node.congestionMs + propagationRttMs(greatCircleKm(client, node.at), node.routeFactor * spread);
  };

  const decide: number[] = [];
  const regret: number[] = [];
  const curve: [number, number][] = [];
  const byKind: Record<string, { best: number; correct: number }> = {};
  let correct = 0;
  let correctAfterWarmup = 0;
  let within1ms = 0;
  let unreachableBest = 0;
  let bestShortlisted = 0;
  const warmup = Math.floor(config.sessions * 0.2);
  for (let s = 0; s < config.sessions; s++) {
    const client = near(CITIES[Math.floor(rand() * CITIES.length)]!, 0.15, rand);
    const clientAccessMs = 1 + rand() * 4;
    const rttOf = new Map<string, number>();
    const rtt = (node: TrueNode) => {
      let v = rttOf.get(node.id);
      if (v === undefined) rttOf.set(node.id, (v = trueRtt(client, clientAccessMs, node, s * 100_003 + Number(node.id.slice(1)))));
      return v;
    };
    let best = all[0]!;
    for (const n of all) if (rtt(n) < rtt(best)) best = n;

    const queryStart = performance.now();
    const list = await shortlist(registry, client, {}, DEFAULT_RANK_OPTIONS);
    const queryMs = performance.now() - queryStart;
    const candidates: NodeCandidate[] = list.edge.map((r) => ({ id: r.node.id, url: r.node.url, tier: 'edge' }));

    // simulated probe: pings return the true RTT plus jitter (and rare spikes), on a simulated
    // clock, so the SDK's straggler cut-off and tie re-probe run as they would in real time
    const clock = new VirtualClock();
    const open: OpenPinger = async (candidate) => {
      const base = rtt(nodes.get(candidate.id)!);
      await clock.delay(3 * base); // TCP + WebSocket upgrade + hello/welcome
      return {
        async ping() {
          const sample = base + -Math.log(1 - rand()) * 0.1 + (rand() < 0.03 ? 2 + rand() * 8 : 0);
          await clock.delay(sample);
          return sample;
        },
        close() {},
      };
    };
    const { chosen, results } = await clock.run(chooseNode(candidates, open, { ...config.probe, clock }));
    if (candidates.some((c) => c.id === best.id)) bestShortlisted++;
    decide.push(queryMs + clock.now());
    await learnFromReports(registry, client, toReports(results));

    const kind = (byKind[best.kind] ??= { best: 0, correct: 0 });
    kind.best++;
    if (best.kind === 'false-location') unreachableBest++;
    const chosenNode = chosen ? nodes.get(chosen.candidate.id)! : undefined;
    const r = chosenNode ? rtt(chosenNode) - rtt(best) : Infinity;
    regret.push(r);
    if (r <= 1) within1ms++;
    if (chosenNode?.id === best.id) {
      correct++;
      kind.correct++;
      if (s >= warmup) correctAfterWarmup++;
    }
    if ((s + 1) % Math.max(1, Math.floor(config.sessions / 10)) === 0) {
      curve.push([s + 1, correct / (s + 1)]);
      progress(`  selection: ${s + 1}/${config.sessions} sessions, ${((100 * correct) / (s + 1)).toFixed(1)} % on the truly fastest node`);
    }
  }
  await registry.close();
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  return {
    config,
    sessions: config.sessions,
    correct,
    correctFraction: correct / config.sessions,
    correctFractionAfterWarmup: correctAfterWarmup / (config.sessions - warmup),
    unreachableBest,
    bestShortlistedFraction: bestShortlisted / config.sessions,
    within1msFraction: within1ms / config.sessions,
    regretMs: { p50: q(regret, 0.5), p99: q(regret, 0.99), max: Math.max(...regret) },
    decideMs: { p50: q(decide, 0.5), p99: q(decide, 0.99) },
    curve,
    byKind,
  };
}
