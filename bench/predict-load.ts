/**
 * The hot-path target: `predict` round trip with 100 concurrent sessions each streaming head poses
 * at 90 Hz and asking for a 50 ms prediction every frame, on loopback. The node runs in its own
 * process (the real `edge-offload edge` CLI, with its tfjs backend and the shipped model), the
 * sessions in this one, each frame on an absolute schedule (load/FrameClock.ts). Variants, in one
 * run, in interleaved 1 s slices so background load on the shared machine hits all of them alike:
 *  - learned, kalman, constant-velocity through the SDK (`Session.sendPose` + `predict`: one
 *    message per frame);
 *  - learned from a bare wire client (load/WireClient.ts): the same frames without the SDK, so
 *    the node's share of the round trip can be told from the client process's own;
 *  - learned as batched tfjs ops on a second node (EDGE_LEARNED_EXECUTION=tfjs), the
 *    alternative the default was chosen over.
 * CPU per frame is measured for the node (from /proc) and for this client process.
 * Target: learned p99 < 2 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, SimulatedHeadset, type Session } from '../client-sdk/node.js';
import { NodeConnection } from '../client-sdk/link/NodeConnection.js';
import { FrameClock } from './load/FrameClock.js';
import { WireClient } from './load/WireClient.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { quantile, summarize, type Summary } from './lib/stats.js';

const HELP = `Usage: npm run bench -- predict-load [options]

N sessions stream poses at 90 Hz and request a 50 ms prediction every frame from one edge node
(a child process); round-trip percentiles per predictor.

Options:
  --sessions N     concurrent sessions                      [default: 100]
  --seconds N      measured seconds per variant (1 s slices)  [default: 5]
  --hz N           pose + predict rate per session           [default: 90]
  --predictors L   comma-separated predictor names           [default: learned,kalman,constant-velocity]
  --no-tfjs-phase  skip the second node (learned as batched tfjs ops)
  --no-wire        skip the bare wire client variant
  -h, --help       show this help`;

/** The node in a child process; its tfjs backend is read from its own log (the public /healthz says only up). */
async function startNode(extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; backend: () => string }> {
  const cli = fileURLToPath(new URL('../bin/edge-offload.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'edge', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', EDGE_OFFLOAD_MAX_SESSIONS_PER_IP: '4096', EDGE_OFFLOAD_MAX_CONNECTIONS_PER_IP: '8192', ...extraEnv } /* every load-generator session comes from one loopback address */ });
  const lines = createInterface({ input: child.stdout! });
  let backend = 'none';
  lines.on('line', (line) => {
    const found = /tfjs backend: (\w+)/.exec(line);
    if (found) backend = found[1]!;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('edge node did not start within 30 s')), 30_000);
    child.once('exit', (code) => reject(new Error(`edge node exited with ${code}`)));
    lines.on('line', (line) => {
      console.log(`# node: ${line}`);
      const event = JSON.parse(line) as { event: string; url?: string };
      if (event.event === 'listening' && event.url) {
        clearTimeout(timer);
        resolve(event.url);
      }
    });
  });
  return { child, url, backend: () => backend };
}

/** CPU time (user + system, ms) a process has used so far, from /proc; undefined off Linux. */
function cpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/**
 * One session, no load: the node's own compute time per predict (`computeMs` in each answer) and
 * the bare round trip, so the loaded numbers can be read as compute + queueing.
 */
async function unloaded(url: string, predictor: string, count = 800): Promise<{ computeP50: number; computeP99: number; rttP50: number; rttP99: number }> {
  const conn = await NodeConnection.open(url, {});
  const headset = new SimulatedHeadset(7);
  const compute: number[] = [];
  const rtt: number[] = [];
  for (let i = 0; i < count; i++) {
    conn.sendPose(headset.poseAt(i * 11.1)); // rides on the predict below, as the SDK sends a frame
    const t0 = performance.now();
    const answer = await conn.request<'predict'>({ t: 'predict', horizonMs: 50, device: 'head', predictor }, 2000);
    if (i >= 100) {
      rtt.push(performance.now() - t0);
      compute.push(answer.computeMs);
    }
    await new Promise((resolve) => setTimeout(resolve, 1)); // stay under the session's rate cap
  }
  conn.close();
  const c = summarize(compute);
  const r = summarize(rtt);
  return { computeP50: c.p50, computeP99: c.p99, rttP50: r.p50, rttP99: r.p99 };
}

interface Variant {
  label: string;
  /** The node process serving it, for CPU accounting. */
  pid: number | undefined;
  /** Sends stream i's frame (pose + predict) for time `nowMs`; answers go to `sink`. */
  frame(stream: number, nowMs: number): void;
}

/** Where answers of the running slice go; answers to frames sent before `from` are not measured. */
const sink = { rtt: [] as number[], errors: 0, from: Infinity };
function record(rttMs: number): void {
  if (performance.now() - rttMs >= sink.from) sink.rtt.push(rttMs);
}

function sdkVariant(label: string, sessions: Session[], predictor: string, pid: number | undefined): Variant {
  const headsets = sessions.map((_, i) => new SimulatedHeadset(i + 1));
  return {
    label,
    pid,
    frame(i, nowMs) {
      const session = sessions[i]!;
      session.sendPose(headsets[i]!.poseAt(nowMs));
      session.predict(50, { predictor }).then(
        (p) => record(p.roundTripMs),
        () => sink.errors++,
      );
    },
  };
}

function wireVariant(label: string, clients: WireClient[], predictor: string, pid: number | undefined): Variant {
  const headsets = clients.map((_, i) => new SimulatedHeadset(i + 1));
  return { label, pid, frame: (i, nowMs) => clients[i]!.predict(headsets[i]!.poseAt(nowMs), 50, predictor) };
}

/** One slice of `seconds`: every stream sends at `hz`; the first `warmupMs` are not measured. */
async function slice(variant: Variant, streams: number, hz: number, seconds: number, warmupMs: number) {
  sink.rtt = [];
  sink.errors = 0;
  sink.from = performance.now() + warmupMs;
  const nodeBefore = cpuMs(variant.pid);
  const clientBefore = process.cpuUsage();
  let frames = 0;
  const clock = new FrameClock(streams, hz, (i, due) => {
    if (due >= sink.from) frames++;
    variant.frame(i, due);
  });
  clock.start();
  await new Promise((resolve) => setTimeout(resolve, warmupMs + seconds * 1000));
  clock.stop();
  const client = process.cpuUsage(clientBefore);
  const nodeAfter = cpuMs(variant.pid);
  // let the last answers arrive, and the node's worker threads go idle: tfjs's thread pools spin
  // for a while after a batch, and that CPU would otherwise land on the next variant's slice
  await new Promise((resolve) => setTimeout(resolve, 500));
  const measuredMs = seconds * 1000;
  return {
    rtt: sink.rtt,
    errors: sink.errors,
    frames,
    skipped: clock.skipped,
    latenessP99: quantile(clock.lateness, 0.99),
    // whole-slice CPU over whole-slice frames (warm-up included in both)
    nodeCpuMs: nodeAfter !== undefined && nodeBefore !== undefined ? nodeAfter - nodeBefore : NaN,
    clientCpuMs: (client.user + client.system) / 1000,
    allFrames: (streams * hz * (warmupMs + measuredMs)) / 1000,
  };
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    { sessions: { type: 'string' }, seconds: { type: 'string' }, hz: { type: 'string' }, predictors: { type: 'string' }, 'no-tfjs-phase': { type: 'boolean' }, 'no-wire': { type: 'boolean' } },
    HELP,
  );
  if (!args) return;
  const count = intFlag(args.values.sessions, 'sessions', 1, 1000) ?? 100;
  const seconds = intFlag(args.values.seconds, 'seconds', 1, 30) ?? 5;
  const hz = intFlag(args.values.hz, 'hz', 1, 240) ?? 90;
  const predictors = (stringFlag(args.values.predictors) ?? 'learned,kalman,constant-velocity').split(',');

  // Both nodes run side by side; slices of 1 s per variant are interleaved round-robin so the
  // shared machine's background load falls on every variant alike.
  const node = await startNode();
  const withLearned = predictors.includes('learned');
  const tfjsNode = withLearned && !args.values['no-tfjs-phase'] ? await startNode({ EDGE_LEARNED_EXECUTION: 'tfjs' }) : undefined;
  const sessions: Session[] = [];
  const wires: WireClient[] = [];
  try {
    const env = environment({
      sessions: count,
      seconds,
      hz,
      predictors,
      backend: node.backend(),
      slices: '1 s per variant, round-robin',
      schedule: 'absolute per-session frame times, 1 ms timer',
      note: 'node and clients share this machine',
    });
    printEnvironment(env);
    const open = async (url: string) => {
      const opened = await Promise.all(Array.from({ length: count }, () => connect(url, { pingIntervalMs: 0, requestTimeoutMs: 2000 })));
      sessions.push(...opened);
      return opened;
    };
    const single: Record<string, Awaited<ReturnType<typeof unloaded>>> = {};
    for (const predictor of predictors) {
      single[predictor] = await unloaded(node.url, predictor);
      const u = single[predictor]!;
      console.log(`unloaded ${predictor.padEnd(18)} node compute p50 ${(u.computeP50 * 1000).toFixed(1)} µs  p99 ${(u.computeP99 * 1000).toFixed(1)} µs; round trip p50 ${u.rttP50.toFixed(3)} ms  p99 ${u.rttP99.toFixed(3)} ms`);
    }
    const main = await open(node.url);
    const variants: Variant[] = predictors.map((p) => sdkVariant(p, main, p, node.child.pid));
    if (withLearned && !args.values['no-wire']) {
      const opened = await Promise.all(Array.from({ length: count }, () => WireClient.open(node.url, record, () => sink.errors++)));
      wires.push(...opened);
      variants.push(wireVariant('learned, bare wire client', opened, 'learned', node.child.pid));
    }
    if (tfjsNode) variants.push(sdkVariant('learned (tfjs batched)', await open(tfjsNode.url), 'learned', tfjsNode.child.pid));
    // unmeasured: JIT, socket buffers and the nodes' predictor instances warm up first
    process.stdout.write('warm-up … ');
    for (const v of variants) await slice(v, count, hz, 0, 500);
    console.log('done');
    const collected = new Map(variants.map((v) => [v.label, { rtt: [] as number[], errors: 0, frames: 0, skipped: 0, lateness: [] as number[], nodeCpuMs: 0, clientCpuMs: 0, allFrames: 0 }]));
    for (let round = 0; round < seconds; round++) {
      for (const v of variants) {
        const r = await slice(v, count, hz, 1, 150);
        const c = collected.get(v.label)!;
        c.rtt.push(...r.rtt);
        c.errors += r.errors;
        c.frames += r.frames;
        c.skipped += r.skipped;
        c.lateness.push(r.latenessP99);
        c.nodeCpuMs += r.nodeCpuMs;
        c.clientCpuMs += r.clientCpuMs;
        c.allFrames += r.allFrames;
      }
      console.log(`round ${round + 1}/${seconds} done`);
    }
    type Result = Summary & { errors: number; frames: number; skippedFrames: number; sendLatenessP99Ms: number; nodeCpuUsPerFrame: number; clientCpuUsPerFrame: number };
    const results: Record<string, Result> = {};
    for (const [label, c] of collected) {
      const s: Result = (results[label] = {
        ...summarize(c.rtt),
        errors: c.errors,
        frames: c.frames,
        skippedFrames: c.skipped,
        sendLatenessP99Ms: Math.max(...c.lateness),
        nodeCpuUsPerFrame: (c.nodeCpuMs * 1000) / c.allFrames,
        clientCpuUsPerFrame: (c.clientCpuMs * 1000) / c.allFrames,
      });
      console.log(
        `${label.padEnd(26)} p50 ${s.p50.toFixed(3)} ms  p90 ${s.p90.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  max ${s.max.toFixed(2)} ms  ` +
          `(${s.n} measured, ${c.errors} errors, ${c.skipped} frames skipped); CPU per frame: node ${s.nodeCpuUsPerFrame.toFixed(0)} µs, client ${s.clientCpuUsPerFrame.toFixed(0)} µs`,
      );
    }
    const learned = results.learned;
    const verdict = learned ? `learned predict p99 ${learned.p99.toFixed(3)} ms ${learned.p99 < 2 ? '<' : '≥'} 2 ms target (${count} sessions × ${hz} Hz through the SDK)` : 'learned not measured';
    console.log(verdict);
    writeResult(
      'predict-load',
      { bench: 'predict-load', environment: env, unloaded: single, results, verdict, nodeInference: { backend: node.backend() } },
      barChart({
        title: `predict round trip, ${count} sessions × ${hz} Hz on loopback (one message per frame)`,
        yLabel: 'ms',
        categories: Object.keys(results),
        series: [
          { name: 'p50', values: Object.values(results).map((r) => r.p50) },
          { name: 'p90', values: Object.values(results).map((r) => r.p90) },
          { name: 'p99', values: Object.values(results).map((r) => r.p99) },
        ],
      }),
    );
  } finally {
    for (const session of sessions) session.close();
    for (const wire of wires) wire.close();
    node.child.kill('SIGKILL');
    tfjsNode?.child.kill('SIGKILL');
  }
}
