/**
 * bench trust-overhead: what EntrapNet costs a live session, verification on vs off in one run.
 *
 * A real edge node process (Kalman, pinned to core 0 with taskset) and an `openSession` client
 * here (core 1) streaming a pose + predict every 11.1 ms (90 Hz), each answer awaited. Variants,
 * interleaved round by round on fresh node processes:
 *   - off: the node does not sign (no key), the session sends no traps (`trust: false`);
 *   - on:  the node signs (seal every 128 answers / 250 ms), the session traps at q = 2 % with
 *          local Kalman replay as the reference — the defaults;
 *   - on-q20: the same at q = 20 %, so the cost of the traps themselves shows within a short run.
 * Measured per variant: live predict round trip p50/p99 (the app's view), the node's CPU per
 * live frame (its process.cpuUsage over the round, trap sessions included: that is what traps
 * cost the node), the client's CPU per live frame (trap building, replay, seal checks), and the
 * traps run and their outcomes. Correctness first: every live call answered, every trap passed.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import '../client-sdk/node.js';
import { openSession } from '../client-sdk/openSession.js';
import { StaticLocator } from '../client-sdk/placement/locator.js';
import { generateKeyPair } from '../discovery/identity.js';
import type { PoseSample } from '../protocol/index.js';
import { fromRotationVector } from '../protocol/motion/quaternion.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { pinSelf, spawnPinned } from './lib/pin.js';
import { takeOutFlag, writeResult, OUT_HELP } from './lib/results.js';

const FRAMES = 900; // 10 s of live frames per round
const ROUNDS = 3;
const FRAME_MS = 1000 / 90;
/** q = 20 % as well: at 2 % a 10 s round sees about one trap, too few to show what traps cost. */
const VARIANTS = ['off', 'on', 'on-q20'] as const;
type Variant = (typeof VARIANTS)[number];
const TRAP_SHARE: Record<Variant, number> = { off: 0, on: 0.02, 'on-q20': 0.2 };

const NODE_SCRIPT = `
import { EdgeServer } from ${JSON.stringify(new URL('../edge-server/index.js', import.meta.url).href)};
import { kalmanPredictor } from ${JSON.stringify(new URL('../edge-server/inference/index.js', import.meta.url).href)};
import { createInterface } from 'node:readline';
const key = process.env.BENCH_NODE_KEY || undefined;
const server = new EdgeServer({ nodeId: 'bench-node', predictors: [kalmanPredictor()], ...(key ? { nodeKey: key } : {}) });
const { url } = await server.listen();
console.log(JSON.stringify({ url }));
createInterface({ input: process.stdin }).on('line', (l) => {
  if (l === 'cpu') { const u = process.cpuUsage(); console.log(JSON.stringify({ cpuUs: u.user + u.system })); }
  else server.close().then(() => process.exit(0));
});
`;

/** A head walking and turning, with a wobble Kalman and constant velocity disagree on. */
function poseAt(i: number): PoseSample {
  const t = i / 90;
  return { device: 'head', time: 0, position: [0.3 * t + 0.01 * Math.sin(i / 5), 1.6 + 0.01 * Math.sin(t * 9), -0.1 * t], orientation: fromRotationVector([0.05 * Math.sin(t), 1.4 * t, 0.02 * t]) };
}

class NodeChild {
  readonly #child: ChildProcess;
  readonly #lines: AsyncIterator<string>;
  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }
  static async start(privateKeyPem: string | undefined): Promise<{ node: NodeChild; url: string }> {
    // the key through the environment: a PEM in argv starts with '-' and node takes it for an option
    const child = spawnPinned(0, ['--input-type=module', '-e', NODE_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_NODE_KEY: privateKeyPem ?? '' } });
    const node = new NodeChild(child);
    return { node, url: (await node.#next()).url as string };
  }
  async #next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error('the node process exited; is taskset installed (util-linux)?');
    return JSON.parse(value as string) as Record<string, unknown>;
  }
  async cpuUs(): Promise<number> {
    this.#child.stdin!.write('cpu\n');
    return (await this.#next()).cpuUs as number;
  }
  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin!.write('stop\n');
    await exited;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function round(variant: Variant) {
  const keys = variant === 'off' ? undefined : generateKeyPair();
  const { node, url } = await NodeChild.start(keys?.privateKeyPem);
  const locator = new StaticLocator({ edge: [{ id: 'bench-node', url, tier: 'edge', ...(keys ? { publicKey: keys.publicKey } : {}) }] });
  const session = await openSession({ locator, budgetMs: 1000, standby: false, trust: variant === 'off' ? false : { trapShare: TRAP_SHARE[variant], standingCheckMs: 0 } });
  const outcomes: Record<string, number> = {};
  session.failover!.trust?.on('trap', (_id, o) => (outcomes[o.kind] = (outcomes[o.kind] ?? 0) + 1));
  let distrusted = 0;
  session.failover!.trust?.on('distrust', () => distrusted++);
  try {
    const rtts: number[] = [];
    let local = 0;
    // warm-up: JIT, history, the first trap's recorded motion
    for (let i = 0; i < 90; i++) {
      session.sendPose({ ...poseAt(i), time: Math.round(performance.now() * 1000) });
      await session.predict(30);
    }
    const nodeBefore = await node.cpuUs();
    const clientBefore = process.cpuUsage();
    let next = performance.now();
    for (let i = 90; i < 90 + FRAMES; i++) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait)); // pacing at 90 Hz, not synchronisation
      next += FRAME_MS;
      session.sendPose({ ...poseAt(i), time: Math.round(performance.now() * 1000) });
      const p = await session.predict(30);
      // the SDK answers locally after localFallbackMs (150) without the node's answer: counted, kept in the RTTs
      if (p.tier !== 'edge') local++;
      rtts.push(p.roundTripMs);
    }
    await session.failover!.trust?.settled();
    const client = process.cpuUsage(clientBefore);
    const nodeUs = (await node.cpuUs()) - nodeBefore;
    if (distrusted > 0 || (outcomes.caught ?? 0) + (outcomes.unsigned ?? 0) > 0) throw new Error(`${variant}: an honest node was distrusted: ${JSON.stringify(outcomes)}`);
    rtts.sort((a, b) => a - b);
    return { p50Ms: percentile(rtts, 0.5), p99Ms: percentile(rtts, 0.99), nodeCpuUsPerFrame: nodeUs / FRAMES, clientCpuUsPerFrame: (client.user + client.system) / FRAMES, answeredLocally: local, traps: outcomes };
  } finally {
    session.close();
    await node.stop();
  }
}

export async function main(argv: string[]): Promise<void> {
  argv = takeOutFlag(argv);
  if (argv.includes('--help')) {
    console.log(`Usage: edge-offload bench trust-overhead [--out DIR]\n\nLive predict p50/p99, node and client CPU per frame with EntrapNet on (signed results + traps at 2 %) vs off, interleaved.\nWrites trust-overhead.json + .svg.\n${OUT_HELP}`);
    return;
  }
  pinSelf(1, 'bench trust-overhead'); // the client: core 1
  const env = environment({ frames: FRAMES, rounds: ROUNDS, hz: 90, predictor: 'kalman', trapShares: TRAP_SHARE, sealEvery: 128, note: 'node process on core 0, client on core 1, variants interleaved on fresh nodes' });
  printEnvironment(env);
  const runs: Record<Variant, Awaited<ReturnType<typeof round>>[]> = { off: [], on: [], 'on-q20': [] };
  for (let r = 0; r < ROUNDS; r++) for (const v of VARIANTS) runs[v].push(await round(v));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary = Object.fromEntries(
    VARIANTS.map((v) => {
      const rs = runs[v];
      const traps: Record<string, number> = {};
      for (const r of rs) for (const [k, n] of Object.entries(r.traps)) traps[k] = (traps[k] ?? 0) + n;
      return [v, { answeredLocally: rs.reduce((n, r) => n + r.answeredLocally, 0), p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)), nodeCpuUsPerFrame: median(rs.map((r) => r.nodeCpuUsPerFrame)), clientCpuUsPerFrame: median(rs.map((r) => r.clientCpuUsPerFrame)), traps }];
    }),
  ) as Record<Variant, { answeredLocally: number; p50Ms: number; p99Ms: number; nodeCpuUsPerFrame: number; clientCpuUsPerFrame: number; traps: Record<string, number> }>;
  const off = summary.off;
  const ratioOf = (v: Variant) => ({ p50: summary[v].p50Ms / off.p50Ms, p99: summary[v].p99Ms / off.p99Ms, nodeCpu: summary[v].nodeCpuUsPerFrame / off.nodeCpuUsPerFrame, clientCpu: summary[v].clientCpuUsPerFrame / off.clientCpuUsPerFrame });
  const ratios = { on: ratioOf('on'), 'on-q20': ratioOf('on-q20') };
  for (const v of VARIANTS) {
    const s = summary[v];
    console.log(`${v.padEnd(4)} p50 ${s.p50Ms.toFixed(3)} ms  p99 ${s.p99Ms.toFixed(3)} ms  node ${s.nodeCpuUsPerFrame.toFixed(1)} µs/frame  client ${s.clientCpuUsPerFrame.toFixed(1)} µs/frame  traps ${JSON.stringify(s.traps)}  answered locally ${s.answeredLocally}`);
  }
  for (const [v, r] of Object.entries(ratios)) console.log(`${v}/off: p50 ×${r.p50.toFixed(3)}, p99 ×${r.p99.toFixed(3)}, node CPU ×${r.nodeCpu.toFixed(3)}, client CPU ×${r.clientCpu.toFixed(3)}`);
  const svg = barChart({
    title: 'EntrapNet off vs on (signed + traps at 2 % and 20 %), per live predict',
    yLabel: 'ms (RTT) / 100 µs (CPU)',
    categories: ['p50 RTT ms', 'p99 RTT ms', 'node CPU /100 µs', 'client CPU /100 µs'],
    series: VARIANTS.map((v) => ({ name: v, values: [summary[v].p50Ms, summary[v].p99Ms, summary[v].nodeCpuUsPerFrame / 100, summary[v].clientCpuUsPerFrame / 100] })),
  });
  writeResult('trust-overhead', { bench: 'trust-overhead', environment: env, summary, ratios, rounds: runs }, svg);
}
