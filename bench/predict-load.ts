/**
 * The hot-path target: `predict` round trip with 100 concurrent sessions each streaming head poses
 * at 90 Hz and asking for a 50 ms prediction every frame, on loopback. The node runs in its own
 * process (the real `edge-offload edge` CLI, with its tfjs backend and the shipped model), the
 * sessions in this one. Each predictor gets the same load in turn, in one run: learned, kalman,
 * constant-velocity; then a second node runs the learned model as batched tfjs ops
 * (EDGE_LEARNED_EXECUTION=tfjs) under the same load, the alternative the default was chosen over.
 * Target: learned p99 < 2 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, SimulatedHeadset, type Session } from '../client-sdk/node.js';
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
  --seconds N      measured seconds per predictor            [default: 5]
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

async function phase(sessions: Session[], predictor: string, seconds: number, hz: number): Promise<{ rtt: number[]; errors: number; sent: number }> {
  const rtt: number[] = [];
  let errors = 0;
  let sent = 0;
  const headsets = sessions.map((_, i) => new SimulatedHeadset(i + 1));
  const started = performance.now();
  const warmupMs = 500;
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

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { sessions: { type: 'string' }, seconds: { type: 'string' }, hz: { type: 'string' }, predictors: { type: 'string' }, 'no-tfjs-phase': { type: 'boolean' } }, HELP);
  if (!args) return;
  const count = intFlag(args.values.sessions, 'sessions', 1, 1000) ?? 100;
  const seconds = intFlag(args.values.seconds, 'seconds', 1, 30) ?? 5;
  const hz = intFlag(args.values.hz, 'hz', 1, 240) ?? 90;
  const predictors = (stringFlag(args.values.predictors) ?? 'learned,kalman,constant-velocity').split(',');

  const node = await startNode();
  try {
    const healthBefore = (await (await fetch(node.health)).json()) as { inference?: { backend?: string } };
    const env = environment({ sessions: count, seconds, hz, predictors, backend: healthBefore.inference?.backend ?? 'none', note: 'node and clients share this machine' });
    printEnvironment(env);
    const sessions = await Promise.all(Array.from({ length: count }, () => connect(node.url, { pingIntervalMs: 0, requestTimeoutMs: 2000 })));
    const results: Record<string, Summary & { errors: number; sent: number }> = {};
    // unmeasured: JIT, socket buffers and the node's predictor instances warm up first
    process.stdout.write('warm-up (1 s, every predictor) … ');
    for (const predictor of predictors) await phase(sessions, predictor, 1 / predictors.length, hz);
    console.log('done');
    for (const predictor of predictors) {
      process.stdout.write(`${predictor}: ${count} sessions × ${hz} Hz for ${seconds} s … `);
      const { rtt, errors, sent } = await phase(sessions, predictor, seconds, hz);
      results[predictor] = { ...summarize(rtt), errors, sent };
      const s = results[predictor]!;
      console.log(`p50 ${s.p50.toFixed(3)} ms  p90 ${s.p90.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  max ${s.max.toFixed(2)} ms  (${s.n} measured, ${errors} errors)`);
    }
    const health = (await (await fetch(node.health)).json()) as { inference?: unknown };
    for (const s of sessions) s.close();
    if (!args.values['no-tfjs-phase'] && predictors.includes('learned')) {
      node.child.kill('SIGKILL');
      const tfjsNode = await startNode({ EDGE_LEARNED_EXECUTION: 'tfjs' });
      node.child = tfjsNode.child;
      const tfjsSessions = await Promise.all(Array.from({ length: count }, () => connect(tfjsNode.url, { pingIntervalMs: 0, requestTimeoutMs: 2000 })));
      const name = 'learned (tfjs batched)';
      process.stdout.write(`${name}: ${count} sessions × ${hz} Hz for ${seconds} s … `);
      await phase(tfjsSessions, 'learned', 1, hz);
      const { rtt, errors, sent } = await phase(tfjsSessions, 'learned', seconds, hz);
      results[name] = { ...summarize(rtt), errors, sent };
      const s = results[name]!;
      console.log(`p50 ${s.p50.toFixed(3)} ms  p90 ${s.p90.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  max ${s.max.toFixed(2)} ms  (${s.n} measured, ${errors} errors)`);
      for (const t of tfjsSessions) t.close();
    }
    const learned = results.learned;
    const verdict = learned ? `learned predict p99 ${learned.p99.toFixed(3)} ms ${learned.p99 < 2 ? '<' : '≥'} 2 ms target` : 'learned not measured';
    console.log(verdict);
    writeResult(
      'predict-load',
      { bench: 'predict-load', environment: env, results, verdict, nodeInference: health.inference ?? null },
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
    node.child.kill('SIGKILL');
  }
}
