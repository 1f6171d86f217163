/**
 * `bench predict-load`: what one node core serves. The node (the real `edge-offload edge` CLI)
 * runs pinned to `--node-cores` (default core 0) and this load generator to `--client-cores`
 * (default core 1), so the load generator's own CPU is not the node's. N sessions each send one
 * pose+predict frame at 90 Hz (load/WireClient.ts, on absolute per-session schedules:
 * load/FrameClock.ts); N sweeps 10 → 500.
 *
 * Per step: the client round trip (p50/p99), the node's own handling time receive → send from its
 * `/metrics` histogram (`edge_request_handling_seconds{kind="predict"}`, the delta of two scrapes),
 * and the node's CPU per frame (from /proc). The floor, in the same run: a raw ws echo server
 * (load/echoServer.ts, same framing, no protocol), pinned like the node, unloaded (1 session) and at
 * 100 sessions. The knee is the first step whose node handling p99 exceeds 1 ms.
 *
 * `--compare-root DIR` runs a second node from another checkout's build (main, say), pinned the
 * same way, and measures it at every step right after this checkout's node: a before/after of the
 * node's CPU per frame and latency in one run, under the same background load. The machine's load
 * average is recorded before and after: on a shared machine other tenants' processes still run
 * on the pinned cores, and their preemptions land in every number here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SimulatedHeadset } from '../client-sdk/node.js';
import { FrameClock } from './load/FrameClock.js';
import { WireClient } from './load/WireClient.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { lineChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { parsePrometheusText } from './lib/prometheusText.js';
import { writeResult } from './lib/results.js';
import { summarize, type Summary } from './lib/stats.js';

const HELP = `Usage: npm run bench -- predict-load [options]

Sessions × 90 Hz pose+predict frames against one pinned edge node, swept 10 → 500 sessions:
client round trip, the node's own handling time (from /metrics) and CPU per frame, beside a raw
ws echo server (same framing) as the floor. Node and load generator on different cores (taskset).

Options:
  --steps L         session counts, comma-separated     [default: 10,50,100,200,300,400,500]
  --seconds N       measured seconds per step            [default: 5]
  --hz N            frames per second per session        [default: 90]
  --predictor P     predictor every frame asks for       [default: learned]
  --node-cores L    taskset core list of the node         [default: 0]
  --client-cores L  taskset core list of this process     [default: 1]
  --node-args A     extra arguments for \`edge-offload edge\`, space-separated (e.g. "--workers 2")
  --compare-root DIR  also run a node from that checkout's dist/, measured right after this one
                    at every step (before/after in one run)
  --compare-args A  extra arguments of the compared node (with --compare-root . : the same
                    build with other flags, e.g. --node-args "--workers 2" --compare-args "--workers 1")
  --label S         name of this run in the results        [default: predict-load]
  -h, --help        show this help`;

interface Proc {
  child: ChildProcess;
  url: string;
}

/** A child process pinned to `cores` that prints a JSON line with `url` when it is ready. */
async function startPinned(cores: string, args: string[], env: Record<string, string> = {}): Promise<Proc> {
  const child = spawn('taskset', ['-c', cores, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start within 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}; is taskset installed (util-linux)?`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let event: { url?: string; event?: string };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        return;
      }
      if (event.url && (event.event === undefined || event.event === 'listening')) {
        clearTimeout(timer);
        resolve(event.url);
      }
    });
  });
  return { child, url };
}

/** CPU time (user + system, ms) of a process and all its threads, from /proc. */
function cpuMs(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

/** CPU ms of a process and its children (cluster workers), from /proc/<pid>/task/<tid>/children. */
function treeCpuMs(pid: number | undefined): number {
  let total = cpuMs(pid);
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const child of children) total += treeCpuMs(Number(child));
  } catch {
    // no children file: no children counted
  }
  return total;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
    })
      .on('error', reject)
      .end();
  });
}

type Histogram = Map<number, number>; // upper bound (s) → cumulative count
async function scrapeHandling(metricsUrl: string): Promise<Histogram> {
  const families = parsePrometheusText(await get(metricsUrl));
  const family = families.get('edge_request_handling_seconds');
  const buckets: Histogram = new Map();
  for (const s of family?.samples ?? []) {
    if (s.name.endsWith('_bucket') && s.labels.kind === 'predict') buckets.set(s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value);
  }
  return buckets;
}

/** Quantile of the observations between two scrapes, interpolated inside its bucket (Prometheus' histogram_quantile). */
function histogramQuantile(before: Histogram, after: Histogram, q: number): { value: number; count: number; fractionUnder: (le: number) => number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  const fractionUnder = (le: number) => (total ? (counts[bounds.indexOf(le)] ?? NaN) / total : NaN);
  if (!total) return { value: NaN, count: 0, fractionUnder };
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      if (upper === Infinity) return { value: lower * 1000, count: total, fractionUnder };
      const below = i === 0 ? 0 : counts[i - 1]!;
      return { value: (lower + ((upper - lower) * (rank - below)) / (counts[i]! - below)) * 1000, count: total, fractionUnder };
    }
  }
  return { value: NaN, count: total, fractionUnder };
}

interface StepResult {
  sessions: number;
  offeredFps: number;
  sentFps: number;
  answeredFps: number;
  rtt: Summary;
  lost: number;
  skippedFrames: number;
  handlingP50Ms?: number;
  handlingP99Ms?: number;
  handlingUnder0_5ms?: number;
  handlingUnder1ms?: number;
  nodeCpuUsPerFrame: number;
  nodeCpuCores: number;
  clientCpuUsPerFrame: number;
}

/** Drives `clients` at `hz` for a warm-up and `seconds`, measuring the second part. */
async function step(target: Proc, clients: WireClient[], headsets: SimulatedHeadset[], samples: { rtt: number[]; from: number }, opts: { hz: number; seconds: number; predictor: string; metricsUrl?: string }): Promise<StepResult> {
  const n = clients.length;
  let frames = 0;
  const clock = new FrameClock(n, opts.hz, (i, due) => {
    if (due >= samples.from) frames++;
    clients[i]!.predict(headsets[i]!.poseAt(due), 50, opts.predictor);
  });
  samples.rtt = [];
  samples.from = Infinity;
  clock.start();
  await sleep(1000); // warm-up: sockets, JIT, predictor state
  for (const c of clients) c.lost(0);
  const before = opts.metricsUrl ? await scrapeHandling(opts.metricsUrl) : undefined;
  const nodeBefore = treeCpuMs(target.child.pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  samples.from = started;
  const skippedBefore = clock.skipped;
  await sleep(opts.seconds * 1000);
  const elapsed = performance.now() - started;
  const nodeCpu = treeCpuMs(target.child.pid) - nodeBefore;
  const client = process.cpuUsage(clientBefore);
  // counted now: a scrape of a saturated node takes long, and the clock runs on meanwhile
  const answered = samples.rtt.length;
  const sent = frames;
  const rtt = summarize(samples.rtt);
  samples.from = Infinity;
  const after = opts.metricsUrl ? await scrapeHandling(opts.metricsUrl) : undefined;
  clock.stop();
  await sleep(300); // the last answers arrive
  const lost = clients.reduce((s, c) => s + c.lost(1000), 0);
  const result: StepResult = {
    sessions: n,
    offeredFps: n * opts.hz,
    sentFps: (sent * 1000) / elapsed,
    answeredFps: (answered * 1000) / elapsed,
    rtt,
    lost,
    skippedFrames: clock.skipped - skippedBefore,
    nodeCpuUsPerFrame: (nodeCpu * 1000) / Math.max(1, answered),
    nodeCpuCores: nodeCpu / elapsed,
    clientCpuUsPerFrame: (client.user + client.system) / Math.max(1, sent),
  };
  if (before && after) {
    const p50 = histogramQuantile(before, after, 0.5);
    const p99 = histogramQuantile(before, after, 0.99);
    Object.assign(result, { handlingP50Ms: p50.value, handlingP99Ms: p99.value, handlingUnder0_5ms: p99.fractionUnder(0.0005), handlingUnder1ms: p99.fractionUnder(0.001) });
  }
  return result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function openClients(url: string, count: number, samples: { rtt: number[]; from: number }, echo: boolean): Promise<WireClient[]> {
  const onAnswer = (rtt: number) => {
    if (performance.now() - rtt >= samples.from) samples.rtt.push(rtt);
  };
  const opened: WireClient[] = [];
  // in batches: a few hundred handshakes at once would only measure the accept queue
  for (let i = 0; i < count; i += 50) {
    opened.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => WireClient.open(url, onAnswer, () => {}, { echo })))));
  }
  return opened;
}

function print(label: string, r: StepResult): void {
  label = label.length > 30 ? `${label.slice(0, 29)}…` : label;
  const h = r.handlingP99Ms !== undefined ? `node handling p50 ${r.handlingP50Ms!.toFixed(3)} p99 ${r.handlingP99Ms.toFixed(3)} ms (≤0.5 ms: ${(100 * r.handlingUnder0_5ms!).toFixed(1)}%)  ` : '';
  console.log(
    `${label.padEnd(30)} ${String(r.sessions).padStart(4)} sessions  rtt p50 ${r.rtt.p50.toFixed(3)} p99 ${r.rtt.p99.toFixed(3)} ms  ${h}` +
      `${Math.round(r.answeredFps)}/${Math.round(r.sentFps)} fps answered/sent (${r.offeredFps} offered), lost ${r.lost}, skipped ${r.skippedFrames}  node ${r.nodeCpuUsPerFrame.toFixed(1)} µs/frame (${(100 * r.nodeCpuCores).toFixed(0)}% core), client ${r.clientCpuUsPerFrame.toFixed(1)} µs/frame`,
  );
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    {
      steps: { type: 'string' }, seconds: { type: 'string' }, hz: { type: 'string' }, predictor: { type: 'string' },
      'node-cores': { type: 'string' }, 'client-cores': { type: 'string' }, 'node-args': { type: 'string' }, 'compare-root': { type: 'string' }, 'compare-args': { type: 'string' }, label: { type: 'string' },
    },
    HELP,
  );
  if (!args) return;
  const steps = (stringFlag(args.values.steps) ?? '10,50,100,200,300,400,500').split(',').map((s) => intFlag(s, 'steps', 1, 5000)!);
  const seconds = intFlag(args.values.seconds, 'seconds', 1, 600) ?? 5;
  const hz = intFlag(args.values.hz, 'hz', 1, 240) ?? 90;
  const predictor = stringFlag(args.values.predictor) ?? 'learned';
  const nodeCores = stringFlag(args.values['node-cores']) ?? '0';
  const clientCores = stringFlag(args.values['client-cores']) ?? '1';
  const nodeArgs = (stringFlag(args.values['node-args']) ?? '').split(' ').filter(Boolean);
  const compareRoot = stringFlag(args.values['compare-root']);
  const compareArgs = stringFlag(args.values['compare-args'])?.split(' ').filter(Boolean) ?? nodeArgs;
  const label = stringFlag(args.values.label) ?? 'predict-load';
  const here = fileURLToPath(new URL('..', import.meta.url)); // dist/
  await new Promise<void>((resolve, reject) =>
    spawn('taskset', ['-pc', clientCores, String(process.pid)], { stdio: 'ignore' }).once('exit', (c) => (c === 0 ? resolve() : reject(new Error(`taskset -pc ${clientCores} failed; is util-linux installed?`)))),
  );
  const env = environment({ steps, seconds, hz, predictor, nodeCores, clientCores, nodeArgs, compareRoot: compareRoot ?? null, compareArgs: compareRoot ? compareArgs : null, client: 'WireClient (ws, zero mask), one process', loadAverageAtStart: loadavg().map((l) => +l.toFixed(2)) });
  printEnvironment(env);

  const samples = { rtt: [] as number[], from: Infinity };
  const maxSessions = Math.max(...steps, 100);
  const headsets = Array.from({ length: maxSessions }, (_, i) => new SimulatedHeadset(i + 1));

  // the floor: a raw ws echo server pinned like the node, unloaded and at 100 sessions
  const echo = await startPinned(nodeCores, [path.join(here, 'bench', 'load', 'echoServer.js')]);
  const floor: Record<string, StepResult> = {};
  try {
    const echoClients = await openClients(echo.url, 100, samples, true);
    for (const n of [1, 100]) {
      floor[`${n}`] = await step(echo, echoClients.slice(0, n), headsets, samples, { hz, seconds, predictor });
      print('raw ws echo (floor)', floor[`${n}`]!);
    }
    for (const c of echoClients) c.close();
  } finally {
    echo.child.kill('SIGKILL');
  }

  const nodes: { name: string; proc: Proc; clients: WireClient[]; results: StepResult[]; metricsUrl: string }[] = [];
  const startNode = async (name: string, dist: string, extra: string[]) => {
    const proc = await startPinned(nodeCores, [path.join(dist, 'bin', 'edge-offload.js'), 'edge', '--port', '0', ...extra], {
      TF_CPP_MIN_LOG_LEVEL: '2',
      // every load-generator session comes from one loopback address
      EDGE_OFFLOAD_MAX_SESSIONS_PER_IP: '8192',
      EDGE_OFFLOAD_MAX_CONNECTIONS_PER_IP: '8192',
      EDGE_OFFLOAD_MAX_SESSIONS: '8192',
    });
    nodes.push({ name, proc, clients: [], results: [], metricsUrl: proc.url.replace(/^ws/, 'http').replace(/\/v1\/session$/, '/metrics') });
  };
  try {
    await startNode(`this checkout${nodeArgs.length ? ` ${nodeArgs.join(' ')}` : ''}`, here, nodeArgs);
    if (compareRoot) await startNode(`${path.basename(path.resolve(compareRoot))}${compareArgs.length ? ` ${compareArgs.join(' ')}` : ''}`, path.join(path.resolve(compareRoot), 'dist'), compareArgs);
    for (const node of nodes) {
      // correctness before timing: a frame gets a prediction from the named predictor
      const check = await openClients(node.proc.url, 1, samples, false);
      samples.rtt = [];
      samples.from = 0;
      check[0]!.predict(headsets[0]!.poseAt(0), 50, predictor);
      for (let t = 0; t < 100 && samples.rtt.length === 0; t++) await sleep(20);
      if (samples.rtt.length === 0) throw new Error(`no prediction from the node (${node.name}) for predictor '${predictor}'`);
      check[0]!.close();
    }
    const saturated = new Set<string>();
    for (const n of steps) {
      for (const node of nodes) {
        if (saturated.has(node.name)) continue;
        if (node.clients.length < n) node.clients.push(...(await openClients(node.proc.url, n - node.clients.length, samples, false)));
        const r = await step(node.proc, node.clients.slice(0, n), headsets, samples, { hz, seconds, predictor, metricsUrl: node.metricsUrl });
        node.results.push(r);
        print(node.name, r);
        // the node, not the load generator, is behind: it answers under half of what was sent
        if (r.answeredFps < 0.5 * r.sentFps) {
          console.log(`${node.name}: saturated (answered < 50% of the frames sent): no larger steps for it`);
          saturated.add(node.name);
        }
      }
      // this step's sessions are closed before the next opens more: idle sockets cost nothing, but keep memory flat
    }
  } finally {
    for (const node of nodes) {
      for (const c of node.clients) c.close();
      node.proc.child.kill('SIGKILL');
    }
  }
  const results = nodes[0]!.results;
  const compared = nodes[1]?.results;
  const knee = results.find((r) => (r.handlingP99Ms ?? 0) > 1);
  const at100 = results.find((r) => r.sessions === 100);
  const floorP99 = floor['1']!.rtt.p99;
  const verdict = {
    knee: knee ? `node handling p99 first over 1 ms at ${knee.sessions} sessions × ${hz} Hz` : `node handling p99 ≤ 1 ms up to ${results[results.length - 1]?.sessions} sessions`,
    kneeSessions: knee?.sessions ?? null,
    at100: at100
      ? {
          handlingP99Ms: at100.handlingP99Ms,
          handlingP99Target: 0.5,
          handlingPass: (at100.handlingUnder0_5ms ?? 0) >= 0.99,
          rttP99Ms: at100.rtt.p99,
          floorP99Ms: floorP99,
          rttWithin1msOfFloor: at100.rtt.p99 <= floorP99 + 1,
          nodeCpuUsPerFrame: at100.nodeCpuUsPerFrame,
        }
      : null,
  };
  console.log(JSON.stringify(verdict, null, 2));
  writeResult(
    label,
    { bench: 'predict-load', label, environment: { ...env, loadAverageAtEnd: loadavg().map((l) => +l.toFixed(2)) }, floor, results, ...(compared ? { compareRoot, compared, cpuPerFrameRatio: results.map((r, i) => ({ sessions: r.sessions, thisUs: r.nodeCpuUsPerFrame, comparedUs: compared[i]?.nodeCpuUsPerFrame, ratio: compared[i] ? r.nodeCpuUsPerFrame / compared[i]!.nodeCpuUsPerFrame : null })) } : {}), verdict },
    lineChart({
      title: `predict, ${hz} Hz per session, node on core ${nodeCores}: p99 vs sessions`,
      xLabel: 'sessions',
      yLabel: 'ms',
      series: [
        { name: 'round trip p99', points: results.map((r) => [r.sessions, r.rtt.p99]) },
        { name: 'node handling p99 (/metrics)', points: results.map((r) => [r.sessions, r.handlingP99Ms ?? NaN]) },
        ...(compared ? [{ name: `round trip p99, ${nodes[1]!.name}`, points: compared.map((r): [number, number] => [r.sessions, r.rtt.p99]) }] : []),
        { name: 'raw ws echo p99, unloaded (floor)', points: results.map((r) => [r.sessions, floorP99]) },
      ],
    }),
  );
}
