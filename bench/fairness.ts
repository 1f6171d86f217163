/**
 * `bench fairness` (issue #15, attack 4): does one session's heavy work (back-to-back `infer`
 * batches, back-to-back renders) push a bystander's predict p99 past 2× its unloaded value?
 *
 * Two nodes in one run, each a child process pinned with `taskset` (`--node-cores`, default core
 * 0; the clients here on `--client-cores`, default 1):
 *  - `event loop`, the baseline: render and infer on the node's event loop, one heavy job at a
 *    time with a yield between jobs (the fair scheduler alone; main before the heavy workers);
 *  - `heavy workers`: render and infer in worker threads (edge-server/offload), the fair
 *    scheduler running one job per worker; predict stays on the event loop.
 * Phases per node, each with a 90 Hz bystander: unloaded, two infer hogs, two render hogs. The
 * phases of the two nodes alternate, so background load on a shared machine hits both alike.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { EdgeServer } from '../edge-server/index.js';
import { loadInference } from '../edge-server/inference/index.js';
import { featureCount, DEFAULT_WINDOW_SPEC } from '../edge-server/inference/motionWindow.js';
import { HeavyPool } from '../edge-server/offload/index.js';
import { PROTOCOL_VERSION, decode, encode, toWireTensor } from '../protocol/index.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { pinSelf, spawnPinned } from './lib/pin.js';
import { writeResult } from './lib/results.js';
import { summarize, type Summary } from './lib/stats.js';
import { LAX_LIMITS } from './lib/laxLimits.js';

const LAX = LAX_LIMITS;
type Mode = 'event-loop' | 'workers';
const LABEL: Record<Mode, string> = { 'event-loop': 'event loop', workers: 'heavy workers' };

/** The node side: `--serve MODE WORKERS`. */
async function serve(mode: Mode, workers: number): Promise<void> {
  const loaded = await loadInference({ log: () => {}, maxElements: 1 << 20 });
  let inference = loaded.engine;
  let renderer;
  let concurrency = 1;
  if (mode === 'workers') {
    const pool = await HeavyPool.create({ size: workers, inference: { maxElements: 1 << 20 }, render: {} });
    [inference, renderer, concurrency] = [pool.inference as never, pool.renderer, pool.size];
  } else {
    const { WebGpuRenderEngine } = await import('../edge-server/render/index.js');
    renderer = await WebGpuRenderEngine.create();
  }
  const server = new EdgeServer({
    inference,
    predictors: loaded.predictors,
    renderer,
    limits: { maxMessagesPerSecond: 100_000, rateBurst: 10_000, maxTensorElements: 1 << 20 },
    guards: { heavy: { concurrency, maxQueuedPerSession: 64 } },
  });
  const { url } = await server.listen();
  console.log(JSON.stringify({ url }));
}

interface Conn {
  ws: WebSocket;
  on(fn: (m: { t: string; id?: number }) => void): void;
}

async function open(url: string): Promise<Conn> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const listeners: ((m: { t: string; id?: number }) => void)[] = [];
  ws.on('message', (d: Buffer) => {
    const m = decode(d, LAX) as { t: string; id?: number };
    for (const l of listeners) l(m);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const welcomed = new Promise<void>((resolve) => listeners.push((m) => m.t === 'welcome' && resolve()));
  ws.send(encode({ t: 'hello', v: PROTOCOL_VERSION }));
  await welcomed;
  return { ws, on: (fn) => listeners.push(fn) };
}

/** A hog: keeps `depth` heavy requests in flight, back to back, until stopped. */
async function hog(url: string, request: (id: number) => Uint8Array, depth: number): Promise<{ stop(): number }> {
  const c = await open(url);
  let id = 0;
  let done = 0;
  let stopped = false;
  c.on((m) => {
    if (m.id === undefined || stopped) return;
    done++;
    c.ws.send(request(++id));
  });
  for (let i = 0; i < depth; i++) c.ws.send(request(++id));
  return {
    stop: () => {
      stopped = true;
      c.ws.terminate();
      return done;
    },
  };
}

async function bystander(url: string, seconds: number): Promise<Summary & { failures: number }> {
  const c = await open(url);
  const sent = new Map<number, number>();
  const rtt: number[] = [];
  let failures = 0;
  c.on((m) => {
    const t = m.id !== undefined ? sent.get(m.id) : undefined;
    if (t === undefined) return;
    sent.delete(m.id!);
    if (m.t === 'prediction') rtt.push(performance.now() - t);
    else failures++;
  });
  let id = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const pose = { device: 'head', time: Math.round(now * 1000), position: [0, 1.6, 0], orientation: [0, Math.sin(now / 2000), 0, Math.cos(now / 2000)] };
    sent.set(++id, now);
    c.ws.send(encode({ t: 'predict', id, horizonMs: 20, poses: [pose] } as never));
  }, 1000 / 90);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(timer);
  // a prediction still unanswered a second after it was sent failed; younger ones are just in flight
  const end = performance.now();
  const lost = [...sent.values()].filter((t) => end - t > 1000).length;
  c.ws.terminate();
  return { ...summarize(rtt), failures: failures + lost };
}

async function startNode(mode: Mode, workers: number, cores: string): Promise<{ child: ChildProcess; url: string }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawnPinned(cores, [self, '--serve', mode, String(workers)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`node exited with ${code}; is taskset installed (util-linux), and can this machine render (scripts/install-render-deps.sh)?`)));
    createInterface({ input: child.stdout! }).once('line', resolve);
  });
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

const HELP = `Usage: edge-offload bench fairness [options]

Bystander predict p50/p99 at 90 Hz while two sessions hog the node with back-to-back infer
batches and renders: render/infer on the event loop (baseline) vs in heavy worker threads.

Options:
  --seconds N        length of each phase                     [default: 10]
  --rows N           rows per infer batch                      [default: 512]
  --size N           render width and height, px                [default: 1024]
  --node-cores L     taskset core list of the nodes            [default: 0]
  --client-cores L   taskset core list of this process         [default: 1]
  --heavy-workers N  worker threads of the workers node        [default: node cores - 1, at least 1]
  -h, --help         show this help`;

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    { seconds: { type: 'string' }, rows: { type: 'string' }, size: { type: 'string' }, 'node-cores': { type: 'string' }, 'client-cores': { type: 'string' }, 'heavy-workers': { type: 'string' } },
    HELP,
  );
  if (!args) return;
  const seconds = intFlag(args.values.seconds, 'seconds', 1, 600) ?? 10;
  const rows = intFlag(args.values.rows, 'rows', 1, 4096) ?? 512;
  const size = intFlag(args.values.size, 'size', 8, 4096) ?? 1024;
  const nodeCores = stringFlag(args.values['node-cores']) ?? '0';
  const clientCores = stringFlag(args.values['client-cores']) ?? '1';
  const nodeCoreCount = coreCount(nodeCores);
  const workers = intFlag(args.values['heavy-workers'], 'heavy-workers', 1, 256) ?? Math.max(1, nodeCoreCount - 1);
  // this process (the clients) on its own cores: the node's numbers are not the load generator's
  pinSelf(clientCores, 'bench fairness');
  const env = environment({ seconds, rows, size, nodeCores, clientCores, heavyWorkers: workers, niceness: 10 });
  printEnvironment(env);
  const width = featureCount(DEFAULT_WINDOW_SPEC);
  const input = toWireTensor(new Float32Array(rows * width).fill(0.1), [rows, width]);
  const infer = (id: number) => encode({ t: 'infer', id, model: 'head-predictor', input });
  const pose = { device: 'head' as const, time: 1, position: [0, 1.6, 0] as [number, number, number], orientation: [0, 0, 0, 1] as [number, number, number, number] };
  const render = (id: number) => encode({ t: 'render', id, pose, eye: 'both', camera: { fovY: 90, ipd: 0.064, width: size, height: size }, codec: 'jpeg' });
  const modes: Mode[] = ['event-loop', 'workers'];
  const nodes = new Map<Mode, { child: ChildProcess; url: string }>();
  const phases: { mode: Mode; load: string; name: string; bystander: Summary & { failures: number }; hogRequests: number }[] = [];
  try {
    // one node at a time starts (each opens a GPU device and loads tfjs), then both stay up
    for (const mode of modes) nodes.set(mode, await startNode(mode, workers, nodeCores));
    for (const [mode, node] of nodes) {
      // correctness before timing: an infer batch is answered with a result, a render with a frame
      const check = await open(node.url);
      const answers = new Map<number, string>();
      const both = new Promise<void>((resolve) => check.on((m) => m.id !== undefined && answers.set(m.id, m.t).size === 2 && resolve()));
      check.ws.send(infer(1));
      check.ws.send(render(2));
      await both;
      check.ws.terminate();
      if (answers.get(1) !== 'result' || answers.get(2) !== 'frame') throw new Error(`${mode}: infer/render check failed: ${JSON.stringify([...answers])}`);
    }
    const loads: [string, ((id: number) => Uint8Array) | undefined, number][] = [
      ['unloaded', undefined, 0],
      ['infer hogs', infer, 8],
      ['render hogs', render, 2],
    ];
    for (const [load, request, depth] of loads) {
      for (const mode of modes) {
        const url = nodes.get(mode)!.url;
        const hogs = request ? await Promise.all([hog(url, request, depth), hog(url, request, depth)]) : [];
        const b = await bystander(url, seconds);
        const hogRequests = hogs.reduce((n, h) => n + h.stop(), 0);
        const name = `${load}, ${LABEL[mode]}`;
        phases.push({ mode, load, name, bystander: b, hogRequests });
        console.log(`${name.padEnd(28)} bystander p50 ${b.p50.toFixed(2)} ms p99 ${b.p99.toFixed(2)} ms (${b.failures} failed), hogs served ${hogRequests}`);
        await new Promise((resolve) => setTimeout(resolve, 1000)); // the hogs' last jobs drain
      }
    }
  } finally {
    for (const node of nodes.values()) node.child.kill('SIGKILL');
  }
  const unloadedP99 = (mode: Mode) => phases.find((p) => p.mode === mode && p.load === 'unloaded')!.bystander.p99;
  const ratios = Object.fromEntries(phases.map((p) => [p.name, p.bystander.p99 / unloadedP99(p.mode)]));
  for (const p of phases) if (p.load !== 'unloaded') console.log(`${p.name.padEnd(28)} p99 ${ratios[p.name]!.toFixed(2)}× its unloaded p99 (target ≤ 2×)`);
  const svg = barChart({
    title: 'Bystander predict round trip while two sessions hog the node: event loop vs heavy workers',
    yLabel: 'ms',
    categories: phases.map((p) => p.name),
    series: [
      { name: 'p50', values: phases.map((p) => p.bystander.p50) },
      { name: 'p99', values: phases.map((p) => p.bystander.p99) },
    ],
  });
  writeResult('fairness', { environment: env, phases, p99RatioToUnloaded: ratios }, svg);
}

function coreCount(list: string): number {
  return list.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a! + 1);
  }, 0);
}

if (process.argv[2] === '--serve') void serve(process.argv[3] as Mode, Number(process.argv[4]));
