/**
 * The hot-path target: `predict` round trip with 100 concurrent sessions each streaming head poses
 * at 90 Hz and asking for a 50 ms prediction every frame, on loopback. The node runs in its own
 * process (the real `edge-offload edge` CLI, with its tfjs backend and the shipped model), the
 * sessions in this one. Each predictor gets the same load in turn, in one run: learned, kalman,
 * constant-velocity, and the learned model as batched tfjs ops on a second node
 * (EDGE_LEARNED_EXECUTION=tfjs), the alternative the default was chosen over; 1 s slices of each
 * variant are interleaved so background load on the shared machine hits all of them alike.
 * Target: learned p99 < 2 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, NodeConnection, SimulatedHeadset, type Session } from '../client-sdk/node.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { summarize, type Summary } from './lib/stats.js';

const HELP = `Usage: edge-offload bench predict-load [options]

N sessions stream poses at 90 Hz and request a 50 ms prediction every frame from one edge node
(a child process); round-trip percentiles per predictor.

Options:
  --sessions N     concurrent sessions                      [default: 100]
  --seconds N      measured seconds per variant (1 s slices)  [default: 5]
  --hz N           pose + predict rate per session           [default: 90]
  --predictors L   comma-separated predictor names           [default: learned,kalman,constant-velocity]
  --no-tfjs-phase  skip the second node (learned as batched tfjs ops)
  -h, --help       show this help`;

async function startNode(extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; health: string }> {
  const cli = fileURLToPath(new URL('../bin/edge-offload.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'edge', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', ...extraEnv } });
  const lines = createInterface({ input: child.stdout! });
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
  return { child, url, health: url.replace('ws://', 'http://').replace('/v1/session', '/healthz') };
}

async function phase(sessions: Session[], predictor: string, seconds: number, hz: number, warmupMs = 500): Promise<{ rtt: number[]; errors: number; sent: number }> {
  const rtt: number[] = [];
  let errors = 0;
  let sent = 0;
  const headsets = sessions.map((_, i) => new SimulatedHeadset(i + 1));
  const started = performance.now();
  const timers: NodeJS.Timeout[] = [];
  await new Promise<void>((resolve) => {
    sessions.forEach((session, i) => {
      // spread the sessions' frame clocks over one frame period, as independent headsets would be
      const start = setTimeout(() => {
        const tick = () => {
          const now = performance.now() - started;
          session.sendPose(headsets[i]!.poseAt(now));
          sent++;
          session.predict(50, { predictor }).then(
            (p) => {
              if (now > warmupMs) rtt.push(p.roundTripMs);
            },
            () => errors++,
          );
        };
        tick();
        timers.push(setInterval(tick, 1000 / hz));
      }, (i * 1000) / hz / sessions.length);
      timers.push(start);
    });
    setTimeout(resolve, seconds * 1000 + warmupMs);
  });
  for (const t of timers) clearInterval(t);
  await new Promise((r) => setTimeout(r, 200)); // let the last answers arrive
  return { rtt, errors, sent };
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
    conn.send({ t: 'pose', poses: [headset.poseAt(i * 11.1)] });
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

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { sessions: { type: 'string' }, seconds: { type: 'string' }, hz: { type: 'string' }, predictors: { type: 'string' }, 'no-tfjs-phase': { type: 'boolean' } }, HELP);
  if (!args) return;
  const count = intFlag(args.values.sessions, 'sessions', 1, 1000) ?? 100;
  const seconds = intFlag(args.values.seconds, 'seconds', 1, 30) ?? 5;
  const hz = intFlag(args.values.hz, 'hz', 1, 240) ?? 90;
  const predictors = (stringFlag(args.values.predictors) ?? 'learned,kalman,constant-velocity').split(',');

  // Both nodes run side by side; slices of 1 s per variant are interleaved round-robin so the
  // shared machine's background load falls on every variant alike.
  const node = await startNode();
  const withTfjs = !args.values['no-tfjs-phase'] && predictors.includes('learned');
  const tfjsNode = withTfjs ? await startNode({ EDGE_LEARNED_EXECUTION: 'tfjs' }) : undefined;
  const all: Session[] = [];
  try {
    const healthBefore = (await (await fetch(node.health)).json()) as { inference?: { backend?: string } };
    const env = environment({ sessions: count, seconds, hz, predictors, backend: healthBefore.inference?.backend ?? 'none', slices: '1 s per variant, round-robin', note: 'node and clients share this machine' });
    printEnvironment(env);
    const open = async (url: string) => {
      const sessions = await Promise.all(Array.from({ length: count }, () => connect(url, { pingIntervalMs: 0, requestTimeoutMs: 2000 })));
      all.push(...sessions);
      return sessions;
    };
    const single: Record<string, Awaited<ReturnType<typeof unloaded>>> = {};
    for (const predictor of predictors) {
      single[predictor] = await unloaded(node.url, predictor);
      const u = single[predictor]!;
      console.log(`unloaded ${predictor.padEnd(18)} node compute p50 ${(u.computeP50 * 1000).toFixed(1)} µs  p99 ${(u.computeP99 * 1000).toFixed(1)} µs; round trip p50 ${u.rttP50.toFixed(3)} ms  p99 ${u.rttP99.toFixed(3)} ms`);
    }
    const main = await open(node.url);
    const variants: { label: string; sessions: Session[]; predictor: string; pid: number | undefined }[] = predictors.map((p) => ({ label: p, sessions: main, predictor: p, pid: node.child.pid }));
    if (tfjsNode) variants.push({ label: 'learned (tfjs batched)', sessions: await open(tfjsNode.url), predictor: 'learned', pid: tfjsNode.child.pid });
    // unmeasured: JIT, socket buffers and the nodes' predictor instances warm up first
    process.stdout.write('warm-up … ');
    for (const v of variants) await phase(v.sessions, v.predictor, 0.5, hz, 0);
    console.log('done');
    // node CPU per request: immune to how busy the rest of the machine is
    const collected = new Map(variants.map((v) => [v.label, { rtt: [] as number[], errors: 0, sent: 0, cpuMs: 0 }]));
    for (let round = 0; round < seconds; round++) {
      for (const v of variants) {
        const before = cpuMs(v.pid);
        const r = await phase(v.sessions, v.predictor, 1, hz, 150);
        const after = cpuMs(v.pid);
        const c = collected.get(v.label)!;
        c.cpuMs += after !== undefined && before !== undefined ? after - before : NaN;
        c.rtt.push(...r.rtt);
        c.errors += r.errors;
        c.sent += r.sent;
      }
      console.log(`round ${round + 1}/${seconds} done`);
    }
    const results: Record<string, Summary & { errors: number; sent: number; nodeCpuUsPerPredict: number }> = {};
    for (const [label, c] of collected) {
      const s = (results[label] = { ...summarize(c.rtt), errors: c.errors, sent: c.sent, nodeCpuUsPerPredict: (c.cpuMs * 1000) / c.sent });
      console.log(`${label.padEnd(24)} ${count} sessions × ${hz} Hz: p50 ${s.p50.toFixed(3)} ms  p90 ${s.p90.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  max ${s.max.toFixed(2)} ms  (${s.n} measured, ${c.errors} errors); node CPU ${s.nodeCpuUsPerPredict.toFixed(0)} µs per pose+predict`);
    }
    const health = (await (await fetch(node.health)).json()) as { inference?: unknown };
    const learned = results.learned;
    const verdict = learned ? `learned predict p99 ${learned.p99.toFixed(3)} ms ${learned.p99 < 2 ? '<' : '≥'} 2 ms target` : 'learned not measured';
    console.log(verdict);
    writeResult(
      'predict-load',
      { bench: 'predict-load', environment: env, unloaded: single, results, verdict, nodeInference: health.inference ?? null },
      barChart({
        title: `predict round trip, ${count} sessions × ${hz} Hz on loopback`,
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
    for (const session of all) session.close();
    node.child.kill('SIGKILL');
    tfjsNode?.child.kill('SIGKILL');
  }
}
