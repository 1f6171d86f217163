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
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedHeadset } from '../client-sdk/node.js';
import type { WireClient } from './load/WireClient.js';
import { LOAD_NODE_ENV, openClients, print, sleep, startPinned, step, type Proc, type StepResult } from './load/loadStep.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { lineChart } from './lib/chart.js';
import { pinSelf } from './lib/pin.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';

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
  --compare-cores L taskset core list of the compared node  [default: --node-cores]
  --rounds N        with a compared node: each step measured N times per node, the order
                    alternating (this first, then it first…); the round with the median CPU
                    per frame is reported, every round kept in the JSON   [default: 1]
  --label S         name of this run in the results        [default: predict-load]
  --node-prof DIR   this checkout's node writes a V8 CPU profile (--cpu-prof) into DIR; it is
                    stopped with SIGTERM at the end instead of killed, so the profile is written
  -h, --help        show this help`;


export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    {
      steps: { type: 'string' }, seconds: { type: 'string' }, hz: { type: 'string' }, predictor: { type: 'string' },
      'node-cores': { type: 'string' }, 'client-cores': { type: 'string' }, 'node-args': { type: 'string' }, 'compare-root': { type: 'string' }, 'compare-args': { type: 'string' }, 'compare-cores': { type: 'string' }, rounds: { type: 'string' }, label: { type: 'string' }, 'node-prof': { type: 'string' },
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
  const compareCores = stringFlag(args.values['compare-cores']) ?? nodeCores;
  const rounds = intFlag(args.values.rounds, 'rounds', 1, 9) ?? 1;
  const label = stringFlag(args.values.label) ?? 'predict-load';
  const nodeProf = stringFlag(args.values['node-prof']);
  const here = fileURLToPath(new URL('..', import.meta.url)); // dist/
  pinSelf(clientCores, 'bench predict-load');
  const env = environment({ steps, seconds, hz, predictor, nodeCores, clientCores, nodeArgs, compareRoot: compareRoot ?? null, compareArgs: compareRoot ? compareArgs : null, compareCores: compareRoot ? compareCores : null, rounds, client: 'WireClient (ws, zero mask), one process', loadAverageAtStart: loadavg().map((l) => +l.toFixed(2)) });
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

  const nodes: { name: string; cores: string; proc: Proc; clients: WireClient[]; results: StepResult[]; rounds: StepResult[][]; metricsUrl: string }[] = [];
  const startNode = async (name: string, dist: string, extra: string[], cores: string, prof?: string) => {
    const proc = await startPinned(cores, [...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), path.join(dist, 'bin', 'edge-offload.js'), 'edge', '--port', '0', ...extra], {
      TF_CPP_MIN_LOG_LEVEL: '2',
      ...LOAD_NODE_ENV,
    });
    nodes.push({ name, cores, proc, clients: [], results: [], rounds: [], metricsUrl: proc.url.replace(/^ws/, 'http').replace(/\/v1\/session$/, '/metrics') });
  };
  try {
    await startNode(`this checkout${nodeArgs.length ? ` ${nodeArgs.join(' ')}` : ''}`, here, nodeArgs, nodeCores, nodeProf);
    if (compareRoot) await startNode(`${path.basename(path.resolve(compareRoot))}${compareArgs.length ? ` ${compareArgs.join(' ')}` : ''}`, path.join(path.resolve(compareRoot), 'dist'), compareArgs, compareCores);
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
      const measured = new Map<string, StepResult[]>();
      for (let round = 0; round < (nodes.length > 1 ? rounds : 1); round++) {
        // alternating order: whoever runs first in a step does not always get the quieter moment
        for (const node of round % 2 === 0 ? nodes : [...nodes].reverse()) {
          if (saturated.has(node.name)) continue;
          try {
            if (node.clients.length < n) node.clients.push(...(await openClients(node.proc.url, n - node.clients.length, samples, false)));
          } catch (err) {
            // an overloaded node resets or times out new handshakes: that is its limit, not the run's end
            console.log(`${node.name}: could not open ${n} sessions (${(err as Error).message}): no larger steps for it`);
            saturated.add(node.name);
            continue;
          }
          const r = await step(node.proc, node.clients.slice(0, n), headsets, samples, { hz, seconds, predictor, metricsUrl: node.metricsUrl });
          measured.set(node.name, [...(measured.get(node.name) ?? []), r]);
          print(node.name, r);
          // the node, not the load generator, is behind: it answers under half of what was sent
          if (r.answeredFps < 0.5 * r.sentFps) {
            console.log(`${node.name}: saturated (answered < 50% of the frames sent): no larger steps for it`);
            saturated.add(node.name);
          }
        }
      }
      for (const node of nodes) {
        const all = measured.get(node.name);
        if (!all) continue;
        node.rounds.push(all);
        node.results.push([...all].sort((a, b) => a.nodeCpuUsPerFrame - b.nodeCpuUsPerFrame)[Math.floor((all.length - 1) / 2)]!);
      }
      // this step's sessions are closed before the next opens more: idle sockets cost nothing, but keep memory flat
    }
  } finally {
    for (const node of nodes) {
      for (const c of node.clients) c.close();
      if (nodeProf && node === nodes[0]) {
        // a profile is written on a clean exit only: SIGTERM drains and stops the node
        const exited = new Promise((resolve) => node.proc.child.once('exit', resolve));
        node.proc.child.kill('SIGTERM');
        await Promise.race([exited, sleep(30_000)]);
      }
      node.proc.child.kill('SIGKILL');
    }
  }
  const results = nodes[0]!.results;
  const compared = nodes[1]?.results;
  // what a node serves: the largest step it answered (≥ 99 % of the frames offered) with its own handling p99 ≤ 1 ms
  const capacity = (rs: StepResult[]) => {
    const ok = rs.filter((r) => r.answeredFps >= 0.99 * r.offeredFps && (r.handlingP99Ms ?? Infinity) <= 1);
    const best = ok[ok.length - 1];
    return best ? { sessions: best.sessions, answeredFps: Math.round(best.answeredFps), handlingP99Ms: best.handlingP99Ms, nodeCpuCores: best.nodeCpuCores } : null;
  };
  const knee = results.find((r) => (r.handlingP99Ms ?? 0) > 1);
  const at100 = results.find((r) => r.sessions === 100);
  const floorP99 = floor['1']!.rtt.p99;
  const verdict = {
    knee: knee ? `node handling p99 first over 1 ms at ${knee.sessions} sessions × ${hz} Hz` : `node handling p99 ≤ 1 ms up to ${results[results.length - 1]?.sessions} sessions`,
    kneeSessions: knee?.sessions ?? null,
    served: nodes.map((node) => ({ node: node.name, cores: node.cores, ...capacity(node.results) })),
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
    { bench: 'predict-load', label, environment: { ...env, loadAverageAtEnd: loadavg().map((l) => +l.toFixed(2)) }, floor, results, ...(compared ? { compareRoot, compared, rounds: { this: nodes[0]!.rounds, compared: nodes[1]!.rounds }, cpuPerFrameRatio: results.map((r) => {
      const c = compared.find((x) => x.sessions === r.sessions);
      return { sessions: r.sessions, thisUs: r.nodeCpuUsPerFrame, comparedUs: c?.nodeCpuUsPerFrame, ratio: c ? r.nodeCpuUsPerFrame / c.nodeCpuUsPerFrame : null, thisHandlingP99Ms: r.handlingP99Ms, comparedHandlingP99Ms: c?.handlingP99Ms };
    }) } : {}), verdict },
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
