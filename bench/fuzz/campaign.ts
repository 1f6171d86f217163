/**
 * `edge-offload bench fuzz`: mutated frames against a running edge node and discovery service
 * (a child process, see target.ts), one entry point after another, with a bystander session
 * predicting at 90 Hz throughout. Reports crashes (the child died), unhandled rejections,
 * prototype changes, stalls, bystander failures and p99 (unloaded baseline first, same run), and
 * RSS before/after; JSON to bench/results/<name>.json and a p99 chart.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { authorizeNode, generateKeyPair, signHeartbeat, signRegistration } from '../../discovery/identity.js';
import { intFlag, parseCommandArgs, stringFlag } from '../../bin/commands/args.js';
import { barChart } from '../lib/chart.js';
import { environment, printEnvironment } from '../lib/environment.js';
import { writeResult } from '../lib/results.js';
import { summarize, type Summary } from '../lib/stats.js';
import { BystanderProcess } from './bystanderProcess.js';
import { fuzzDiscoveryHttp, fuzzDiscoveryWs, fuzzEdge, type EntryCounts, type FuzzBudget } from './entries.js';
import { fuzzDiscoveryNode, nodeChannelCorpus } from './nodeChannelEntry.js';
import { fuzzRtcSignalling } from './rtcEntry.js';
import { rng } from './mutate.js';
import type { TargetReady, TargetStats } from './target.js';

export const ENTRY_POINTS = ['edge', 'discovery-http', 'discovery-ws', 'discovery-node', 'rtc'] as const;
export type EntryPoint = (typeof ENTRY_POINTS)[number];

export interface FuzzOptions {
  /** Frames per entry point. */
  frames: number;
  entries: readonly EntryPoint[];
  seed: number;
  concurrency: number;
  /** Longest time per entry point, s: the campaign stops that entry point there and says so. */
  timeLimitS: number;
  /** Unloaded bystander window before fuzzing, s. */
  baselineS: number;
  /** Share of edge frames that are byte/structure mutations; the rest are generated schema-shaped messages. */
  destructiveShare: number;
  /** Reuse HTTP connections to discovery. @default false */
  httpKeepAlive?: boolean;
  log?: (line: string) => void;
}

export interface EntryReport extends EntryCounts {
  entry: EntryPoint;
  durationS: number;
  framesPerS: number;
  reachedTarget: boolean;
  bystander: { predictions: number; failures: number; rtt: Summary };
  /** Why this entry point was not fuzzed (the rtc entry without a mediasoup worker); absent when it was. */
  skipped?: string;
}

export interface FuzzReport {
  seed: number;
  crashes: number;
  crashDetail: string | null;
  unhandledRejections: number;
  unhandledSamples: string[];
  prototypeChanges: string[];
  rssBeforeMiB: number;
  rssAfterMiB: number;
  bystanderBaseline: { predictions: number; failures: number; rtt: Summary };
  bystanderClosed: boolean;
  /** mediasoup workers that died during the run (a crash of the media worker, not of the node). */
  rtcWorkerDeaths: number;
  entries: EntryReport[];
}

const FUZZ_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9'];

class Target {
  readonly child: ChildProcess;
  exit: string | null = null;
  #stderr = '';
  private constructor(child: ChildProcess) {
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-4000)));
    child.once('exit', (code, signal) => (this.exit = `exit ${code ?? ''}${signal ?? ''}; last stderr: ${this.#stderr.slice(-1500)}`));
  }

  static async start(env: Record<string, string>): Promise<{ target: Target; ready: TargetReady }> {
    const child = fork(fileURLToPath(new URL('./target.js', import.meta.url)), [], { env: { ...process.env, ...env }, execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const target = new Target(child);
    const ready = await new Promise<TargetReady>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fuzz target did not start within 30 s')), 30_000);
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve(m as TargetReady);
      });
      child.once('exit', () => reject(new Error(`fuzz target exited at start: ${target.exit}`)));
    });
    return { target, ready };
  }

  ask<T>(type: string, answer: string): Promise<T | undefined> {
    if (this.exit || !this.child.connected) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 10_000);
      const on = (m: { type: string }) => {
        if (m.type !== answer) return;
        clearTimeout(timer);
        this.child.off('message', on);
        resolve(m as T);
      };
      this.child.on('message', on);
      this.child.send({ type });
    });
  }

  async stop(): Promise<void> {
    if (this.exit) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Valid discovery bodies signed by an operator the target trusts: the mutator's seeds. */
function discoveryCorpus(operator: { name: string; publicKey: string; privateKeyPem: string }): unknown[] {
  const node = generateKeyPair();
  const descriptor = { id: 'fuzz-node', publicKey: node.publicKey, url: 'ws://127.0.0.1:1/x', tier: 'edge' as const, lat: 52.5, lon: 13.4, caps: ['predict' as const], capacity: 10, pricePerMinute: 0, operator: operator.name };
  const registration = signRegistration(descriptor, node.privateKeyPem, authorizeNode(operator, descriptor.id, node.publicKey));
  return [
    registration,
    signHeartbeat(descriptor.id, { load: 0.1, freeCapacity: 9 }, node.privateKeyPem),
    { lat: 52.5, lon: 13.4, k: 3, kCloud: 1, caps: ['predict'], maxPrice: 1 },
    { lat: 52.5, lon: 13.4, reports: [{ id: 'fuzz-node', rttMs: 4.2 }] },
  ];
}

export async function runFuzzCampaign(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {});
  const operator = { name: 'fuzz-op', ...generateKeyPair() };
  const { target, ready } = await Target.start({ FUZZ_OPERATORS: JSON.stringify({ operators: [{ name: operator.name, publicKey: operator.publicKey }] }) });
  const corpus = discoveryCorpus(operator);
  const channelCorpus = nodeChannelCorpus(operator);
  let bystander: BystanderProcess | undefined;
  try {
    const before = await target.ask<TargetStats>('stats', 'stats');
    // a process of its own: in the fuzzer's process the fuzzer's own work delayed its timers and reads
    bystander = await BystanderProcess.start(ready.edgeUrl);
    await waitMs(options.baselineS * 1000);
    const base = await bystander.take();
    const bystanderBaseline = { predictions: base.rttMs.length, failures: base.failures, rtt: summarize(base.rttMs) };
    log(`bystander unloaded: p50 ${bystanderBaseline.rtt.p50.toFixed(2)} ms p99 ${bystanderBaseline.rtt.p99.toFixed(2)} ms over ${base.rttMs.length} predictions`);
    const random = rng(options.seed);
    const entries: EntryReport[] = [];
    for (const entry of options.entries) {
      if (target.exit) break;
      if (entry === 'rtc' && ready.rtcUnavailable) {
        log(`rtc: skipped, the edge has no WebRTC: ${ready.rtcUnavailable}`);
        entries.push({ entry, frames: 0, closes: 0, stalls: 0, answers: {}, durationS: 0, framesPerS: 0, reachedTarget: false, bystander: { predictions: 0, failures: 0, rtt: summarize([]) }, skipped: ready.rtcUnavailable });
        continue;
      }
      const started = performance.now();
      const budget: FuzzBudget = { frames: options.frames, deadline: started + options.timeLimitS * 1000, concurrency: options.concurrency, random, addresses: FUZZ_ADDRESSES, destructiveShare: options.destructiveShare, httpKeepAlive: options.httpKeepAlive ?? false };
      const progress = setInterval(() => log(`  ${entry}: ${Math.round((performance.now() - started) / 1000)} s…`), 30_000);
      const counts = await (entry === 'edge'
        ? fuzzEdge(ready.edgeUrl, budget)
        : entry === 'discovery-http'
          ? fuzzDiscoveryHttp(ready.discoveryUrl, corpus, budget)
          : entry === 'discovery-ws'
            ? fuzzDiscoveryWs(ready.discoveryUrl, corpus, budget)
            : entry === 'discovery-node'
              ? fuzzDiscoveryNode(ready.discoveryUrl, channelCorpus, budget)
              : fuzzRtcSignalling(ready.edgeUrl, budget));
      clearInterval(progress);
      const durationS = (performance.now() - started) / 1000;
      const b = await bystander.take();
      const report: EntryReport = {
        entry,
        ...counts,
        durationS,
        framesPerS: counts.frames / durationS,
        reachedTarget: counts.frames >= options.frames,
        bystander: { predictions: b.rttMs.length, failures: b.failures, rtt: summarize(b.rttMs) },
      };
      entries.push(report);
      log(`${entry}: ${counts.frames} frames in ${durationS.toFixed(1)} s (${report.framesPerS.toFixed(0)}/s), ${counts.closes} closes, ${counts.stalls} stalls; bystander p99 ${report.bystander.rtt.p99.toFixed(2)} ms, ${b.failures} failures`);
    }
    const bystanderClosed = (await bystander.take()).closed;
    await bystander.stop();
    bystander = undefined;
    await target.ask('gc', 'gc-done');
    const after = await target.ask<TargetStats>('stats', 'stats');
    return {
      seed: options.seed,
      crashes: target.exit ? 1 : 0,
      crashDetail: target.exit,
      unhandledRejections: after?.unhandledRejections ?? -1,
      unhandledSamples: after?.uncaughtSamples ?? [],
      prototypeChanges: after?.prototypeChanges ?? ['target gone: could not check'],
      rssBeforeMiB: (before?.rssBytes ?? NaN) / 2 ** 20,
      rssAfterMiB: (after?.rssBytes ?? NaN) / 2 ** 20,
      bystanderBaseline,
      bystanderClosed,
      rtcWorkerDeaths: after?.rtcWorkerDeaths ?? -1,
      entries,
    };
  } finally {
    await bystander?.stop();
    await target.stop();
  }
}

const waitMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const HELP = `Usage: edge-offload bench fuzz [options]

Fuzzes a running edge node (with a mediasoup worker when one is installed) and discovery
service (a child process) entry point by entry point: the edge session, discovery's HTTP API,
its /v1/ws and /v1/node channels, and WebRTC signalling (rtc*) in live edge sessions;
with a bystander session predicting at 90 Hz, and reports crashes, unhandled rejections,
prototype changes, stalls, bystander failures and p99 (unloaded first), RSS before/after.
Fuzz connections come from 127.0.0.2–9, the bystander from 127.0.0.1.

Options:
  --frames N         processed frames per entry point              [default: 50000]
  --entries LIST     comma-separated: ${ENTRY_POINTS.join(',')}  [default: all]
  --seed N           mutation seed (a finding replays with it)     [default: 1]
  --concurrency N    fuzz connections per entry point               [default: 16]
  --time-limit-s N   stop an entry point after this many seconds   [default: 900]
  --baseline-s N     unloaded bystander window first               [default: 3]
  --destructive P    share of edge frames that are mutations; the rest are generated
                     schema-shaped messages that reach the handlers  [default: 0.5]
  --keep-alive       reuse HTTP connections to discovery              [default: off]
  --name NAME        results file NAME.json (+ .svg)                [default: fuzz]
  -h, --help         show this help

Exits 1 when anything was found (crash, media worker death, unhandled rejection, prototype
change, bystander failure). Without a mediasoup worker the rtc entry is skipped and says why.`;

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    { frames: { type: 'string' }, entries: { type: 'string' }, seed: { type: 'string' }, concurrency: { type: 'string' }, 'time-limit-s': { type: 'string' }, 'baseline-s': { type: 'string' }, destructive: { type: 'string' }, 'keep-alive': { type: 'boolean' }, name: { type: 'string' } },
    HELP,
  );
  if (!args) return;
  const entries = (stringFlag(args.values.entries) ?? ENTRY_POINTS.join(',')).split(',') as EntryPoint[];
  for (const e of entries) if (!ENTRY_POINTS.includes(e)) throw new Error(`--entries: unknown entry point '${e}'; choose from ${ENTRY_POINTS.join(', ')}`);
  const options: FuzzOptions = {
    frames: intFlag(args.values.frames, 'frames', 1, 100_000_000) ?? 50_000,
    entries,
    seed: intFlag(args.values.seed, 'seed', 0, 2 ** 31) ?? 1,
    concurrency: intFlag(args.values.concurrency, 'concurrency', 1, 256) ?? 16,
    timeLimitS: intFlag(args.values['time-limit-s'], 'time-limit-s', 1, 86_400) ?? 900,
    baselineS: intFlag(args.values['baseline-s'], 'baseline-s', 1, 600) ?? 3,
    destructiveShare: shareFlag(args.values.destructive),
    httpKeepAlive: args.values['keep-alive'] === true,
    log: (line) => console.log(line),
  };
  const env = environment({ ...options, log: undefined });
  printEnvironment(env);
  const report = await runFuzzCampaign(options);
  const fuzzed = report.entries.filter((e) => !e.skipped);
  const categories = ['unloaded', ...fuzzed.map((e) => e.entry)];
  const svg = barChart({
    title: 'Bystander predict round trip while fuzzing',
    yLabel: 'ms',
    categories,
    series: [
      { name: 'p50', values: [report.bystanderBaseline.rtt.p50, ...fuzzed.map((e) => e.bystander.rtt.p50)] },
      { name: 'p99', values: [report.bystanderBaseline.rtt.p99, ...fuzzed.map((e) => e.bystander.rtt.p99)] },
    ],
  });
  writeResult(stringFlag(args.values.name) ?? 'fuzz', { environment: env, ...report }, svg);
  const found = report.crashes + Math.max(0, report.rtcWorkerDeaths) + report.unhandledRejections + report.prototypeChanges.length + report.entries.reduce((n, e) => n + e.bystander.failures, 0) + (report.bystanderClosed ? 1 : 0);
  console.log(`crashes ${report.crashes}, unhandled rejections ${report.unhandledRejections}, prototype changes ${report.prototypeChanges.length}, media worker deaths ${report.rtcWorkerDeaths}, RSS ${report.rssBeforeMiB.toFixed(0)} → ${report.rssAfterMiB.toFixed(0)} MiB`);
  if (found > 0) process.exitCode = 1;
}

function shareFlag(value: string | boolean | undefined): number {
  if (value === undefined) return 0.5;
  const n = Number(value);
  if (typeof value !== 'string' || !(n >= 0 && n <= 1)) throw new Error(`--destructive must be a number in [0, 1], got '${value}'`);
  return n;
}
