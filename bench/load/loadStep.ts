/**
 * One pinned node under load, the pieces `bench predict-load` and `bench predict-soak` share: a
 * child process pinned with taskset that prints its URL, its CPU time from /proc (cluster workers
 * included), its own handling-time histogram from `/metrics`, and one measured step of N
 * sessions × hz frames (round trip, node handling p50/p99, CPU per frame).
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SimulatedHeadset } from '../../client-sdk/node.js';
import { servingPid, signalNodeAndLauncher } from '../../bin/demo/NodeProcess.js';
import { spawnPinned } from '../lib/pin.js';
import { parsePrometheusText } from '../lib/prometheusText.js';
import { summarize, type Summary } from '../lib/stats.js';
import { FrameClock } from './FrameClock.js';
import { PauseLog } from './gcProbe.js';
import { WireClient } from './WireClient.js';

/**
 * A loaded node's admission caps, lifted: every load-generator session comes from one loopback
 * address (and subnet), so the per-address and per-subnet caps would refuse the sweep's larger
 * steps with 429s that read as the node saturating.
 */
export const LOAD_NODE_ENV: Readonly<Record<string, string>> = {
  EDGE_OFFLOAD_MAX_SESSIONS_PER_IP: '8192',
  EDGE_OFFLOAD_MAX_CONNECTIONS_PER_IP: '8192',
  EDGE_OFFLOAD_MAX_SESSIONS_PER_SUBNET: '8192',
  EDGE_OFFLOAD_MAX_SESSIONS: '8192',
};

export interface Proc {
  /** The process started (under taskset: the node, or the launcher that re-launched it with V8 flags). */
  child: ChildProcess;
  /**
   * The process that serves, which the measurements follow (CPU, threads, run-queue waits, GC
   * pauses): the ready line's `pid`, else (an older build) the child a launcher re-launched, else
   * `child`'s. It inherits the launcher's affinity (taskset -c), so it is pinned alike.
   */
  pid: number;
  url: string;
  /** Its GC pauses, when started with `gcProbe` (else empty). */
  pauses: PauseLog;
}

/**
 * A child process pinned to `cores` that prints a JSON line with `url` when it is ready. With
 * `gcProbe`, node runs it with load/gcProbe.js preloaded and the serving process' GC pauses land
 * in `pauses` (a launcher's own, from the probe it passed on with its flags, are left out).
 */
export async function startPinned(cores: string, args: string[], env: Record<string, string> = {}, options: { gcProbe?: boolean } = {}): Promise<Proc> {
  const probe = options.gcProbe ? ['--import', fileURLToPath(new URL('./gcProbe.js', import.meta.url))] : [];
  const child = spawnPinned(cores, [...probe, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env, ...(options.gcProbe ? { EDGE_OFFLOAD_GC_PROBE: 'stdout' } : {}) } });
  const pauses = new PauseLog();
  // pauses seen before the ready line says which pid serves
  const early: { at: number; ms: number; kind: string; pid?: number }[] = [];
  let serving: number | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start within 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}; is taskset installed (util-linux)?`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let event: { url?: string; event?: string; probe?: string; at?: number; ms?: number; kind?: string; pid?: number };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        return;
      }
      if (event.probe === 'gc') {
        if (serving === undefined) early.push(event as (typeof early)[number]);
        else if (event.pid === undefined || event.pid === serving) pauses.add(event.at!, event.ms!, event.kind!);
        return;
      }
      if (event.url && serving === undefined && (event.event === undefined || event.event === 'listening')) {
        serving = servingPid(event, child.pid!);
        for (const p of early) if (p.pid === undefined || p.pid === serving) pauses.add(p.at, p.ms, p.kind);
        clearTimeout(timer);
        resolve(event.url);
      }
    });
  });
  return { child, pid: serving!, url, pauses };
}

/** Signals a step's node and its launcher (signalNodeAndLauncher: the next step's node must not start beside it). */
export function killProc(proc: Proc, signal: NodeJS.Signals): void {
  signalNodeAndLauncher(proc.child, proc.pid, signal);
}

/** CPU time (user + system, ms) of a process and all its threads, from /proc. */
export function cpuMs(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

/**
 * How long a process's main thread has waited, runnable, for a core (ms, from /proc/<pid>/schedstat):
 * on a shared machine the time other tenants held the pinned core while a frame was ready. NaN
 * where the kernel keeps no schedstats.
 */
export function runDelayMs(pid: number | undefined): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return NaN;
  }
}

/**
 * CPU ms of each of a process' threads, summed by thread name (/proc/<pid>/task/<tid>/stat:
 * `main` is the main thread; Node's other threads (V8's platform workers: GC helpers, concurrent
 * compilation; the libuv pool…) mostly carry the name `node`). Threads pinned to the node's core take it from the
 * main thread while they run.
 */
export function threadCpuMs(pid: number | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // the main thread by itself: Node names most of its threads `node` too
      const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] ?? 0) + ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** CPU ms of a process and its children (cluster workers), from /proc/<pid>/task/<tid>/children. */
export function treeCpuMs(pid: number | undefined): number {
  let total = cpuMs(pid);
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const child of children) total += treeCpuMs(Number(child));
  } catch {
    // no children file: no children counted
  }
  return total;
}

export function get(url: string): Promise<string> {
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

export type Histogram = Map<number, number>; // upper bound (s) → cumulative count
export async function scrapeHandling(metricsUrl: string): Promise<Histogram> {
  return (await scrapeNode(metricsUrl)).handling;
}

/** Garbage collections so far by prom-client's `kind` (minor = scavenge, major = mark-compact, …): count and seconds. */
export type GcTotals = Record<string, { count: number; seconds: number }>;

/** The node's predict handling histogram and its GC totals, from one scrape of `/metrics`. */
export async function scrapeNode(metricsUrl: string): Promise<{ handling: Histogram; gc: GcTotals }> {
  const families = parsePrometheusText(await get(metricsUrl));
  const buckets: Histogram = new Map();
  for (const s of families.get('edge_request_handling_seconds')?.samples ?? []) {
    if (s.name.endsWith('_bucket') && s.labels.kind === 'predict') buckets.set(s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value);
  }
  const gc: GcTotals = {};
  for (const s of families.get('edge_nodejs_gc_duration_seconds')?.samples ?? []) {
    const kind = s.labels.kind ?? '?';
    gc[kind] ??= { count: 0, seconds: 0 };
    if (s.name.endsWith('_count')) gc[kind].count += s.value;
    else if (s.name.endsWith('_sum')) gc[kind].seconds += s.value;
  }
  return { handling: buckets, gc };
}

/** Quantile of the observations between two scrapes, interpolated inside its bucket (Prometheus' histogram_quantile). */
export function histogramQuantile(before: Histogram, after: Histogram, q: number): { value: number; count: number; fractionUnder: (le: number) => number } {
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

/** The node's collections between two scrapes `seconds` apart, per kind: per second and mean pause. */
export function gcBetween(before: GcTotals, after: GcTotals, seconds: number): NonNullable<StepResult['gc']> {
  const gc: NonNullable<StepResult['gc']> = {};
  for (const [kind, a] of Object.entries(after)) {
    const count = a.count - (before[kind]?.count ?? 0);
    const ms = (a.seconds - (before[kind]?.seconds ?? 0)) * 1000;
    if (count > 0) gc[kind] = { perSecond: count / seconds, meanPauseMs: ms / count, pauseMsPerSecond: ms / seconds };
  }
  return gc;
}

/** A step's rates: `n` sessions at `hz` offered, `sent` and `answered` frames over `elapsedMs`. */
export function stepRates(n: number, hz: number, sent: number, answered: number, elapsedMs: number): Pick<StepResult, 'sessions' | 'offeredFps' | 'sentFps' | 'answeredFps'> {
  return { sessions: n, offeredFps: n * hz, sentFps: (sent * 1000) / elapsedMs, answeredFps: (answered * 1000) / elapsedMs };
}

/** The node's handling time over a step, from two scrapes of its histogram: p50/p99 and the shares under 0.5 and 1 ms. */
export function handlingBetween(before: Histogram, after: Histogram): Pick<StepResult, 'handlingP50Ms' | 'handlingP99Ms' | 'handlingUnder0_5ms' | 'handlingUnder1ms' | 'handlingCount'> {
  const p50 = histogramQuantile(before, after, 0.5);
  const p99 = histogramQuantile(before, after, 0.99);
  return { handlingP50Ms: p50.value, handlingP99Ms: p99.value, handlingUnder0_5ms: p99.fractionUnder(0.0005), handlingUnder1ms: p99.fractionUnder(0.001), handlingCount: p99.count };
}

export interface StepResult {
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
  /** Handling-histogram observations over the step (all workers, if /metrics aggregates them). */
  handlingCount?: number;
  /**
   * The node's garbage collections during the step, per kind (`minor`: scavenges of the young
   * generation, `major`, `incremental`): per second and mean pause. Frames that arrive during a
   * pause wait in the kernel, so pauses are in the round trip but not in the handling time.
   */
  gc?: Record<string, { perSecond: number; meanPauseMs: number; pauseMsPerSecond: number }>;
  nodeCpuUsPerFrame: number;
  nodeCpuCores: number;
  clientCpuUsPerFrame: number;
}

/** Drives `clients` at `hz` for a warm-up and `seconds`, measuring the second part. */
export async function step(target: Proc, clients: WireClient[], headsets: SimulatedHeadset[], samples: { rtt: number[]; from: number }, opts: { hz: number; seconds: number; predictor: string; metricsUrl?: string }): Promise<StepResult> {
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
  const before = opts.metricsUrl ? await scrapeNode(opts.metricsUrl) : undefined;
  const nodeBefore = treeCpuMs(target.pid);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  samples.from = started;
  const skippedBefore = clock.skipped;
  await sleep(opts.seconds * 1000);
  const elapsed = performance.now() - started;
  const nodeCpu = treeCpuMs(target.pid) - nodeBefore;
  const client = process.cpuUsage(clientBefore);
  // counted now: a scrape of a saturated node takes long, and the clock runs on meanwhile
  const answered = samples.rtt.length;
  const sent = frames;
  const rtt = summarize(samples.rtt);
  samples.from = Infinity;
  const after = opts.metricsUrl ? await scrapeNode(opts.metricsUrl) : undefined;
  clock.stop();
  await sleep(300); // the last answers arrive
  const lost = clients.reduce((s, c) => s + c.lost(1000), 0);
  const result: StepResult = {
    ...stepRates(n, opts.hz, sent, answered, elapsed),
    rtt,
    lost,
    skippedFrames: clock.skipped - skippedBefore,
    nodeCpuUsPerFrame: (nodeCpu * 1000) / Math.max(1, answered),
    nodeCpuCores: nodeCpu / elapsed,
    clientCpuUsPerFrame: (client.user + client.system) / Math.max(1, sent),
  };
  if (before && after) {
    Object.assign(result, handlingBetween(before.handling, after.handling));
    // between the two scrapes (a little longer than the measured seconds: the second scrape comes after)
    result.gc = gcBetween(before.gc, after.gc, (performance.now() - started) / 1000);
  }
  return result;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function openClients(url: string, count: number, samples: { rtt: number[]; from: number }, echo: boolean): Promise<WireClient[]> {
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

export function print(label: string, r: StepResult): void {
  label = label.length > 30 ? `${label.slice(0, 29)}…` : label;
  const h = r.handlingP99Ms !== undefined ? `node handling p50 ${r.handlingP50Ms!.toFixed(3)} p99 ${r.handlingP99Ms.toFixed(3)} ms (≤0.5 ms: ${(100 * r.handlingUnder0_5ms!).toFixed(1)}%)  ` : '';
  const minor = r.gc?.minor;
  const g = minor ? `scavenges ${minor.perSecond.toFixed(1)}/s × ${minor.meanPauseMs.toFixed(2)} ms  ` : '';
  console.log(
    `${label.padEnd(30)} ${String(r.sessions).padStart(4)} sessions  rtt p50 ${r.rtt.p50.toFixed(3)} p99 ${r.rtt.p99.toFixed(3)} ms  ${h}${g}` +
      `${Math.round(r.answeredFps)}/${Math.round(r.sentFps)} fps answered/sent (${r.offeredFps} offered), lost ${r.lost}, skipped ${r.skippedFrames}  node ${r.nodeCpuUsPerFrame.toFixed(1)} µs/frame (${(100 * r.nodeCpuCores).toFixed(0)}% core), client ${r.clientCpuUsPerFrame.toFixed(1)} µs/frame`,
  );
}
