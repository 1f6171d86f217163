/**
 * `bench fairness` (issue #15, attack 4): does one session's heavy work (back-to-back `infer`
 * batches, back-to-back renders) push a bystander's predict p99 past 2× its unloaded value?
 *
 * The node runs in a child process pinned to core 0 (`taskset`), the clients here on core 1.
 * Phases, each with a 90 Hz bystander: unloaded; two infer hogs with the fair scheduler (one heavy
 * job at a time, a yield between jobs) and, as the baseline in the same run, with it effectively
 * off (64 at once); the same for render hogs when the node can render.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { EdgeServer } from '../edge-server/index.js';
import { loadInference } from '../edge-server/inference/index.js';
import { featureCount, DEFAULT_WINDOW_SPEC } from '../edge-server/inference/motionWindow.js';
import { PROTOCOL_VERSION, decode, encode, toWireTensor } from '../protocol/index.js';
import { intFlag, parseCommandArgs } from '../bin/commands/args.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { summarize, type Summary } from './lib/stats.js';
import { LAX_LIMITS } from './lib/laxLimits.js';

const LAX = LAX_LIMITS;

/** The node side: `--serve CONCURRENCY [render]`. */
async function serve(concurrency: number, render: boolean): Promise<void> {
  const loaded = await loadInference({ log: () => {}, maxElements: 1 << 20 });
  let renderer;
  if (render) {
    try {
      const { WebGpuRenderEngine } = await import('../edge-server/render/index.js');
      renderer = await WebGpuRenderEngine.create();
    } catch {
      renderer = undefined;
    }
  }
  const server = new EdgeServer({
    inference: loaded.engine,
    predictors: loaded.predictors,
    ...(renderer ? { renderer } : {}),
    limits: { maxMessagesPerSecond: 100_000, rateBurst: 10_000, maxTensorElements: 1 << 20 },
    guards: { heavy: { concurrency, maxQueuedPerSession: 64 } },
  });
  const { url } = await server.listen();
  console.log(JSON.stringify({ url, render: renderer !== undefined }));
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

async function startNode(concurrency: number, render: boolean): Promise<{ child: ChildProcess; url: string; render: boolean }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn('taskset', ['-c', '0', process.execPath, self, '--serve', String(concurrency), render ? 'render' : 'no-render'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`node exited with ${code}; is taskset installed (util-linux)?`)));
    createInterface({ input: child.stdout! }).once('line', resolve);
  });
  const { url, render: rendering } = JSON.parse(line) as { url: string; render: boolean };
  return { child, url, render: rendering };
}

const HELP = `Usage: edge-offload bench fairness [options]

Bystander predict p50/p99 at 90 Hz while two sessions hog the node with back-to-back infer
batches (and renders, when the node can render), with the fair scheduler and without it.
Node on core 0, clients on core 1 (taskset).

Options:
  --seconds N    length of each phase                    [default: 10]
  --rows N       rows per infer batch                     [default: 512]
  --size N       render width and height, px               [default: 1024]
  -h, --help     show this help`;

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { seconds: { type: 'string' }, rows: { type: 'string' }, size: { type: 'string' } }, HELP);
  if (!args) return;
  const seconds = intFlag(args.values.seconds, 'seconds', 1, 600) ?? 10;
  const rows = intFlag(args.values.rows, 'rows', 1, 4096) ?? 512;
  const size = intFlag(args.values.size, 'size', 8, 4096) ?? 1024;
  const env = environment({ seconds, rows, size, nodeCore: 0, clientCore: 1 });
  printEnvironment(env);
  const width = featureCount(DEFAULT_WINDOW_SPEC);
  const input = toWireTensor(new Float32Array(rows * width).fill(0.1), [rows, width]);
  const infer = (id: number) => encode({ t: 'infer', id, model: 'head-predictor', input });
  const pose = { device: 'head' as const, time: 1, position: [0, 1.6, 0] as [number, number, number], orientation: [0, 0, 0, 1] as [number, number, number, number] };
  const render = (id: number) => encode({ t: 'render', id, pose, eye: 'both', camera: { fovY: 90, ipd: 0.064, width: size, height: size }, codec: 'jpeg' });
  const phases: { name: string; bystander: Summary & { failures: number }; hogRequests: number }[] = [];
  for (const [label, concurrency] of [['fair', 1], ['unfair', 64]] as const) {
    const node = await startNode(concurrency, true);
    try {
      if (label === 'fair') phases.push({ name: 'unloaded', bystander: await bystander(node.url, seconds), hogRequests: 0 });
      // correctness before timing: an infer batch is answered with a result of the right length
      const check = await open(node.url);
      const answer = await new Promise<{ t: string }>((resolve) => (check.on((m) => m.id === 1 && resolve(m)), check.ws.send(infer(1))));
      check.ws.terminate();
      if (answer.t !== 'result') throw new Error(`infer check failed: ${JSON.stringify(answer)}`);
      const kinds: [string, (id: number) => Uint8Array][] = [['infer', infer]];
      if (node.render) kinds.push(['render', render]);
      for (const [kind, request] of kinds) {
        const hogs = await Promise.all([hog(node.url, request, kind === 'infer' ? 8 : 2), hog(node.url, request, kind === 'infer' ? 8 : 2)]);
        const b = await bystander(node.url, seconds);
        const hogRequests = hogs.reduce((n, h) => n + h.stop(), 0);
        phases.push({ name: `${kind} hogs, ${label}`, bystander: b, hogRequests });
        console.log(`${kind} hogs, ${label}: bystander p50 ${b.p50.toFixed(2)} ms p99 ${b.p99.toFixed(2)} ms (${b.failures} failed), hogs served ${hogRequests}`);
      }
    } finally {
      node.child.kill('SIGTERM');
    }
  }
  const unloaded = phases[0]!.bystander;
  console.log(`unloaded: p50 ${unloaded.p50.toFixed(2)} ms p99 ${unloaded.p99.toFixed(2)} ms`);
  const svg = barChart({
    title: 'Bystander predict round trip while two sessions hog the node',
    yLabel: 'ms',
    categories: phases.map((p) => p.name),
    series: [
      { name: 'p50', values: phases.map((p) => p.bystander.p50) },
      { name: 'p99', values: phases.map((p) => p.bystander.p99) },
    ],
  });
  writeResult('fairness', { environment: env, phases, p99RatioToUnloaded: Object.fromEntries(phases.map((p) => [p.name, p.bystander.p99 / unloaded.p99])) }, svg);
}

if (process.argv[2] === '--serve') void serve(Number(process.argv[3]), process.argv[4] === 'render');
