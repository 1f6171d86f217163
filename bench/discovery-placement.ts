/**
 * `bench discovery-placement`: does discovery's placement pick spread a metro's sessions, and
 * what RTT does spreading cost? 10,000 clients arrive one by one in a metro of 50 edge nodes;
 * each asks the real shortlist code (MemoryRegistry + rank.ts) and takes either
 *  - "always the best": the best-scored edge candidate (what a client does that ignores load), or
 *  - "power of two choices": discovery's pick (the less loaded of two random candidates within
 *    the client's budget).
 * Every node reports its load back (registry.touch) after each placement, as its agent would.
 * Deterministic (seeded). Acceptance: no node above 90 % load while others within budget sit
 * below 50 %; the median RTT cost of spreading is quoted next to always-the-best.
 */
import { parseCommandArgs, intFlag } from '../bin/commands/args.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { DEFAULT_RANK_OPTIONS, shortlist, type RankOptions } from '../discovery/rank.js';
import { destination, seeded } from './discovery/synthetic.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { summarize, type Summary } from './lib/stats.js';
import type { NodeRecord } from '../discovery/registry/Registry.js';

const HELP = `Usage: npm run bench -- discovery-placement [options]

Options:
  --clients N    clients arriving (default 10000)
  --nodes N      edge nodes in the metro (default 50)
  --capacity N   sessions per node (default 400: the clients fill the metro to half)
  --budget MS    clients' RTT budget (default 10)
  -h, --help     show this help

Writes bench/results/discovery-placement.json and discovery-placement.svg.`;

const METRO = { lat: 52.52, lon: 13.405 };
const METRO_RADIUS_KM = 30;

interface Outcome {
  policy: string;
  /** Final load of each node, highest first. */
  loads: number[];
  maxLoad: number;
  minLoad: number;
  nodesOver90: number;
  nodesUnder50: number;
  /** Estimated RTT of each client's node. */
  rtt: Summary;
  /** Clients who got no edge node within budget. */
  unplaced: number;
  acceptance: boolean;
}

async function simulate(policy: 'best' | 'spread', clients: number, nodeCount: number, capacity: number, budgetMs: number): Promise<Outcome> {
  const rand = seeded(42);
  const registry = new MemoryRegistry({ heartbeatIntervalMs: 3600_000 });
  const now = Date.now();
  const sessions = new Map<string, number>();
  const nodes: NodeRecord[] = [];
  for (let i = 0; i < nodeCount; i++) {
    const at = destination(METRO, Math.sqrt(rand()) * METRO_RADIUS_KM, rand() * 360);
    const node: NodeRecord = { id: `m${i}`, publicKey: 'A'.repeat(43), url: `ws://m${i}.example/`, tier: 'edge', lat: at.lat, lon: at.lon, caps: ['predict', 'infer', 'render'], capacity, pricePerMinute: 0.01, operator: 'sim', load: 0, freeCapacity: capacity, lastSeen: now };
    nodes.push(node);
    await registry.put(node);
    sessions.set(node.id, 0);
    // last-mile latency as clients measured it: 1-8 ms
    await registry.learn(node.id, { baseLatencyMs: 1 + rand() * 7, answered: true }, { latencyAlpha: 1, reputationAlpha: 0 });
  }
  const options: Required<RankOptions> = { ...DEFAULT_RANK_OPTIONS, spread: policy === 'spread', random: rand };
  const rtts: number[] = [];
  let unplaced = 0;
  for (let c = 0; c < clients; c++) {
    const at = destination(METRO, Math.sqrt(rand()) * METRO_RADIUS_KM, rand() * 360);
    const { pick } = await shortlist(registry, at, { budgetMs }, options);
    if (pick === undefined) {
      unplaced++;
      continue;
    }
    const n = sessions.get(pick.node.id)! + 1;
    sessions.set(pick.node.id, n);
    rtts.push(pick.estimatedRttMs);
    await registry.touch(pick.node.id, { load: n / capacity, freeCapacity: Math.max(0, capacity - n) });
  }
  await registry.close();
  const loads = [...sessions.values()].map((n) => n / capacity).sort((a, b) => b - a);
  const maxLoad = loads[0]!;
  const minLoad = loads.at(-1)!;
  const nodesUnder50 = loads.filter((l) => l < 0.5).length;
  return {
    policy: policy === 'best' ? 'always the best' : 'power of two choices',
    loads,
    maxLoad,
    minLoad,
    nodesOver90: loads.filter((l) => l > 0.9).length,
    nodesUnder50,
    rtt: summarize(rtts),
    unplaced,
    // in this metro every node is within the budget of most clients: a node over 90 % next to one under 50 % fails
    acceptance: !(maxLoad > 0.9 && nodesUnder50 > 0),
  };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { clients: { type: 'string' }, nodes: { type: 'string' }, capacity: { type: 'string' }, budget: { type: 'string' } }, HELP);
  if (!args) return;
  const clients = intFlag(args.values.clients, 'clients', 1, 10_000_000) ?? 10_000;
  const nodeCount = intFlag(args.values.nodes, 'nodes', 2, 100_000) ?? 50;
  const capacity = intFlag(args.values.capacity, 'capacity', 1, 1_000_000) ?? 400;
  const budgetMs = intFlag(args.values.budget, 'budget', 1, 1000) ?? 10;
  const env = environment({ clients, nodes: nodeCount, capacity, budgetMs, metroRadiusKm: METRO_RADIUS_KM });
  printEnvironment(env);
  const best = await simulate('best', clients, nodeCount, capacity, budgetMs);
  const spread = await simulate('spread', clients, nodeCount, capacity, budgetMs);
  for (const o of [best, spread]) {
    console.log(
      `${o.policy.padEnd(22)} max load ${(o.maxLoad * 100).toFixed(0)} %, min ${(o.minLoad * 100).toFixed(0)} %, ${o.nodesOver90} nodes > 90 %, ${o.nodesUnder50} < 50 %; ` +
        `RTT p50 ${o.rtt.p50.toFixed(2)} ms, p90 ${o.rtt.p90.toFixed(2)} ms; unplaced ${o.unplaced}; acceptance ${o.acceptance ? 'met' : 'NOT met'}`,
    );
  }
  const medianRttCostMs = spread.rtt.p50 - best.rtt.p50;
  console.log(`median RTT cost of spreading: ${medianRttCostMs.toFixed(2)} ms (p90 ${(spread.rtt.p90 - best.rtt.p90).toFixed(2)} ms)`);
  const svg = barChart({
    title: `Load per node after ${clients} clients, ${nodeCount} nodes × ${capacity} sessions (highest first)`,
    yLabel: 'load (sessions / capacity)',
    categories: best.loads.map((_, i) => (i % 5 === 0 ? String(i + 1) : '')),
    series: [
      { name: best.policy, values: best.loads },
      { name: spread.policy, values: spread.loads },
    ],
  });
  writeResult('discovery-placement', { environment: env, best, spread, medianRttCostMs }, svg);
}
