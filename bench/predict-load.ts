/**
 * `bench predict-load`: what one node core serves. The node (the real `edge-offload edge` CLI)
 * runs pinned to `--node-cores` (default core 0) and this load generator to `--client-cores`
 * (default core 1), so the load generator's own CPU is not the node's. N sessions each send one
 * pose+predict frame at 90 Hz (load/RawWireClient.ts, on absolute per-session schedules:
 * load/FrameClock.ts); N sweeps 10 → 500. The echo floor and the node are driven by the same
 * client: RawWireClient (prebuilt frames, answers scanned for their id), several times cheaper per
 * frame than WireClient, whose own decode and GC pauses were in the round trips it measured; the
 * answers' content is checked in full once per node before timing (load/checkNode.ts).
 *
 * The node and the echo run with load/gcProbe.js preloaded: each GC pause with its wall-clock
 * time, lined up with the slowest 1 % of round trips (`tail` in each step: node pause, generator
 * pause, the backlog after a node pause, or none of these).
 *
 * Per step: the client round trip (p50/p99), the node's own handling time receive → send from its
 * `/metrics` histogram (`edge_request_handling_seconds{kind="predict"}`, the delta of two scrapes),
 * and the node's CPU per frame (from /proc). The floor, in the same run: a raw ws echo server
 * (load/echoServer.ts, same framing, no protocol), pinned like the node, unloaded (1 session) once,
 * then at every step in the same rounds as the node (`--rounds`, order alternating), so each node
 * round trip p99 has an echo p99 measured next to it (`vsFloor`: both, their difference per round,
 * the echo's spread). The knee is the first step whose node handling p99 exceeds 1 ms.
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
import { checkNode } from './load/checkNode.js';
import { observePauses, PauseLog } from './load/gcProbe.js';
import { LOAD_NODE_ENV, killProc, print, sleep, startPinned, type Proc } from './load/loadStep.js';
import { openRawClients, rawStep, RttSamples, type RawStepResult } from './load/rawStep.js';
import type { RawWireClient } from './load/RawWireClient.js';
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
  --node-flags A    node/V8 flags of this checkout's node process, space-separated (e.g.
                    "--single-threaded-gc": the same pid, no relaunch as with --node-args "--gc single";
                    a --max-semi-space-size flag here also spares the default --young-gen-mib's
                    relaunch). Either way the measurements follow the serving pid (the node's
                    listening line; an older build's: its re-launched child, else the pid started)
  --compare-flags A node/V8 flags of the compared node   [default: none]
  --rounds N        each step measured N times per target (the echo floor, this node, the
                    compared node), the order alternating (forwards, then backwards…); the
                    round with the median CPU per frame (the echo: median p99) is reported,
                    every round kept in the JSON, and each node's p99 is compared with the
                    echo's round by round (vsFloor)   [default: 1]
  --label S         name of this run in the results        [default: predict-load]
  --node-prof DIR   this checkout's node writes a V8 CPU profile (--cpu-prof) into DIR; it is
                    stopped with SIGTERM at the end instead of killed, so the profile is written
                    (a node re-launched for V8 flags: the file named with its pid, printed)
  -h, --help        show this help`;


export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    {
      steps: { type: 'string' }, seconds: { type: 'string' }, hz: { type: 'string' }, predictor: { type: 'string' },
      'node-cores': { type: 'string' }, 'client-cores': { type: 'string' }, 'node-args': { type: 'string' }, 'compare-root': { type: 'string' }, 'compare-args': { type: 'string' }, 'compare-cores': { type: 'string' }, 'node-flags': { type: 'string' }, 'compare-flags': { type: 'string' }, rounds: { type: 'string' }, label: { type: 'string' }, 'node-prof': { type: 'string' },
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
  const nodeFlags = (stringFlag(args.values['node-flags']) ?? '').split(' ').filter(Boolean);
  const compareFlags = (stringFlag(args.values['compare-flags']) ?? '').split(' ').filter(Boolean);
  const rounds = intFlag(args.values.rounds, 'rounds', 1, 9) ?? 1;
  const label = stringFlag(args.values.label) ?? 'predict-load';
  const nodeProf = stringFlag(args.values['node-prof']);
  const here = fileURLToPath(new URL('..', import.meta.url)); // dist/
  pinSelf(clientCores, 'bench predict-load');
  const env = environment({ steps, seconds, hz, predictor, nodeCores, clientCores, nodeArgs, compareRoot: compareRoot ?? null, compareArgs: compareRoot ? compareArgs : null, compareCores: compareRoot ? compareCores : null, nodeFlags, compareFlags: compareRoot ? compareFlags : null, rounds, client: 'RawWireClient (hand-made ws, prebuilt frames) for the echo and the node, one process', gcProbe: true, loadAverageAtStart: loadavg().map((l) => +l.toFixed(2)) });
  printEnvironment(env);

  const samples = new RttSamples();
  const generatorPauses = new PauseLog();
  const stopObserving = observePauses(generatorPauses);
  const maxSessions = Math.max(...steps, 100);
  const headsets = Array.from({ length: maxSessions }, (_, i) => new SimulatedHeadset(i + 1));

  // the floor: a raw ws echo server pinned like the node, measured unloaded (1 session) first, then
  // at every step in the same rounds as the node(s), order alternating: a floor measured minutes
  // apart from the node on a shared machine was noisier than the node itself (5.0-5.4 ms vs 3.8)
  const echo = await startPinned(nodeCores, [path.join(here, 'bench', 'load', 'echoServer.js')], {}, { gcProbe: true });
  type Target = { name: string; cores: string; proc: Proc; clients: RawWireClient[]; results: RawStepResult[]; rounds: RawStepResult[][]; metricsUrl?: string; echo?: true };
  const floorTarget: Target = { name: 'raw ws echo (floor)', cores: nodeCores, proc: echo, clients: [], results: [], rounds: [], echo: true };
  const floor: Record<string, RawStepResult> = {};
  const nodes: (Target & { metricsUrl: string })[] = [];
  const startNode = async (name: string, dist: string, extra: string[], cores: string, flags: string[], prof?: string) => {
    const proc = await startPinned(cores, [...flags, ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), path.join(dist, 'bin', 'edge-offload.js'), 'edge', '--port', '0', ...extra], {
      TF_CPP_MIN_LOG_LEVEL: '2',
      ...LOAD_NODE_ENV,
    }, { gcProbe: true });
    nodes.push({ name, cores, proc, clients: [], results: [], rounds: [], metricsUrl: proc.url.replace(/^ws/, 'http').replace(/\/v1\/session$/, '/metrics') });
  };
  try {
    floorTarget.clients.push(...(await openRawClients(echo.url, headsets.slice(0, 1), samples, { echo: true, hz, predictor })));
    floor['1'] = await rawStep(echo, floorTarget.clients, samples, { hz, seconds, generatorPauses });
    printRaw(`${floorTarget.name}, unloaded`, floor['1']);
    await startNode(`this checkout${[...nodeFlags, ...nodeArgs].map((a) => ` ${a}`).join('')}`, here, nodeArgs, nodeCores, nodeFlags, nodeProf);
    if (compareRoot) await startNode(`${path.basename(path.resolve(compareRoot))}${[...compareFlags, ...compareArgs].map((a) => ` ${a}`).join('')}`, path.join(path.resolve(compareRoot), 'dist'), compareArgs, compareCores, compareFlags);
    for (const node of nodes) {
      // correctness before timing: every answer a prediction from the named predictor, every frame counted in /metrics
      console.log(`${node.name}: correct (${JSON.stringify(await checkNode(node.proc, node.metricsUrl, headsets.slice(0, 10), predictor, hz))})`);
    }
    const targets: Target[] = [floorTarget, ...nodes];
    const saturated = new Set<string>();
    for (const n of steps) {
      const measured = new Map<string, RawStepResult[]>();
      for (let round = 0; round < rounds; round++) {
        // alternating order: whoever runs first in a step does not always get the quieter moment
        for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
          if (saturated.has(target.name)) continue;
          try {
            if (target.clients.length < n) target.clients.push(...(await openRawClients(target.proc.url, headsets.slice(target.clients.length, n), samples, { echo: target.echo === true, hz, predictor })));
          } catch (err) {
            // an overloaded node resets or times out new handshakes: that is its limit, not the run's end
            console.log(`${target.name}: could not open ${n} sessions (${(err as Error).message}): no larger steps for it`);
            saturated.add(target.name);
            continue;
          }
          const r = await rawStep(target.proc, target.clients.slice(0, n), samples, { hz, seconds, ...(target.metricsUrl ? { metricsUrl: target.metricsUrl } : {}), generatorPauses });
          if (target.echo && r.unexpected > 0) throw new Error(`the raw echo answered ${r.unexpected} frames with something else`);
          measured.set(target.name, [...(measured.get(target.name) ?? []), r]);
          printRaw(target.name, r);
          // the node, not the load generator, is behind: it answers under half of what was sent
          if (r.answeredFps < 0.5 * r.sentFps) {
            console.log(`${target.name}: saturated (answered < 50% of the frames sent): no larger steps for it`);
            saturated.add(target.name);
          }
        }
      }
      for (const target of targets) {
        const all = measured.get(target.name);
        if (!all) continue;
        target.rounds.push(all);
        // the floor's representative round is its median round trip p99, a node's its median CPU per frame
        const key = (r: RawStepResult) => (target.echo ? r.rtt.p99 : r.nodeCpuUsPerFrame);
        target.results.push([...all].sort((a, b) => key(a) - key(b))[Math.floor((all.length - 1) / 2)]!);
      }
      const f = floorTarget.results[floorTarget.results.length - 1];
      if (f?.sessions === n) floor[`${n}`] = f;
      // this step's sessions are closed before the next opens more: idle sockets cost nothing, but keep memory flat
    }
  } finally {
    for (const c of floorTarget.clients) c.close();
    echo.child.kill('SIGKILL');
    for (const node of nodes) {
      for (const c of node.clients) c.close();
      if (nodeProf && node === nodes[0]) {
        // a profile is written on a clean exit only: SIGTERM drains and stops the node
        const exited = new Promise((resolve) => node.proc.child.once('exit', resolve));
        node.proc.child.kill('SIGTERM');
        await Promise.race([exited, sleep(30_000)]);
        // a re-launched node's launcher writes a profile of its own waiting: the node's has its pid in the name
        console.log(`${node.name}: CPU profile in ${nodeProf}, the file named with pid ${node.proc.pid}${node.proc.pid !== node.proc.child.pid ? ` (${node.proc.child.pid}'s is its launcher's)` : ''}`);
      }
      killProc(node.proc, 'SIGKILL');
    }
    stopObserving();
  }
  const results = nodes[0]!.results;
  const compared = nodes[1]?.results;
  // what a node serves: the largest step it answered (≥ 99 % of the frames offered) with its own handling p99 ≤ 1 ms
  const capacity = (rs: RawStepResult[]) => {
    const ok = rs.filter((r) => r.answeredFps >= 0.99 * r.offeredFps && (r.handlingP99Ms ?? Infinity) <= 1);
    const best = ok[ok.length - 1];
    return best ? { sessions: best.sessions, answeredFps: Math.round(best.answeredFps), handlingP99Ms: best.handlingP99Ms, nodeCpuCores: best.nodeCpuCores } : null;
  };
  const knee = results.find((r) => (r.handlingP99Ms ?? 0) > 1);
  const at100 = results.find((r) => r.sessions === 100);
  const floorP99 = floor['1']!.rtt.p99;
  // each node's round trip p99 against the echo's at the same step, round by round (measured back to back)
  const p99sAt = (t: Target, n: number) => t.rounds.find((rs) => rs[0]?.sessions === n)?.map((r) => r.rtt.p99) ?? [];
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;
  const vsFloor = (node: Target) =>
    steps.flatMap((n) => {
      const [mine, echoed] = [p99sAt(node, n), p99sAt(floorTarget, n)];
      if (!mine.length || !echoed.length) return [];
      const pairedDiffMs = mine.flatMap((v, i) => (echoed[i] === undefined ? [] : [+(v - echoed[i]!).toFixed(3)]));
      return [{ sessions: n, nodeP99Ms: mine, floorP99Ms: echoed, nodeMedianP99Ms: median(mine), floorMedianP99Ms: median(echoed), floorSpreadMs: { min: Math.min(...echoed), max: Math.max(...echoed) }, pairedDiffMs, medianDiffMs: median(pairedDiffMs), within1ms: median(pairedDiffMs) <= 1 }];
    });
  const nodesVsFloor = nodes.map((node) => ({ node: node.name, steps: vsFloor(node) }));
  for (const { node, steps: rows } of nodesVsFloor) for (const r of rows) console.log(`${node} vs the echo, ${r.sessions} sessions: round trip p99 ${r.nodeP99Ms.map((v) => v.toFixed(2)).join('/')} ms vs echo ${r.floorP99Ms.map((v) => v.toFixed(2)).join('/')} ms (echo spread ${r.floorSpreadMs.min.toFixed(2)}-${r.floorSpreadMs.max.toFixed(2)}); node − echo per round ${r.pairedDiffMs.join(', ')} ms, median ${r.medianDiffMs.toFixed(2)}: ${r.within1ms ? 'within' : 'NOT within'} 1 ms`);
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
          echoAt100P99Ms: floor['100']?.rtt.p99 ?? null,
          // the verdict of issue #15 (b): the node's p99 minus the echo's, round by round in the same minutes
          vsEchoAt100: nodesVsFloor.map(({ node, steps: rows }) => ({ node, ...rows.find((r) => r.sessions === 100) })),
          rttWithin1msOfEchoAt100: nodesVsFloor[0]?.steps.find((r) => r.sessions === 100)?.within1ms ?? null,
          tail: at100.tail,
          nodeCpuUsPerFrame: at100.nodeCpuUsPerFrame,
        }
      : null,
  };
  console.log(JSON.stringify(verdict, null, 2));
  writeResult(
    label,
    { bench: 'predict-load', label, environment: { ...env, loadAverageAtEnd: loadavg().map((l) => +l.toFixed(2)) }, floor, floorRounds: floorTarget.rounds, vsFloor: nodesVsFloor, results, ...(compared ? { compareRoot, compared, rounds: { this: nodes[0]!.rounds, compared: nodes[1]!.rounds }, cpuPerFrameRatio: results.map((r) => {
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
        { name: 'raw ws echo p99, same step and rounds', points: floorTarget.results.map((r): [number, number] => [r.sessions, r.rtt.p99]) },
      ],
    }),
  );
}

/** loadStep's line, then where the step's slowest 1 % went (when the GC probe saw pauses). */
function printRaw(label: string, r: RawStepResult): void {
  print(label, r);
  const t = r.tail;
  if (!t) return;
  console.log(
    `${''.padEnd(30)} slowest 1 % (≥ ${t.thresholdMs.toFixed(2)} ms, ${t.tailFrames} frames): node waited for its core ${(100 * t.nodeRunWait).toFixed(0)}%, generator waited ${(100 * t.generatorRunWait).toFixed(0)}%, node GC pause ${(100 * t.nodePause).toFixed(0)}%, generator GC pause ${(100 * t.generatorPause).toFixed(0)}%, ` +
      `backlog after a node pause ${(100 * t.nodeBacklog).toFixed(0)}%, other ${(100 * t.other).toFixed(0)}%; all frames in a node pause ${(100 * t.allNodePause).toFixed(2)}%; ` +
      `p99 of untouched frames ${t.p99WithoutPausesMs.toFixed(3)} ms; node pauses ${t.nodePauses.msPerSecond.toFixed(1)} ms/s (max ${t.nodePauses.maxMs.toFixed(2)}), generator ${t.generatorPauses.msPerSecond.toFixed(1)} ms/s (max ${t.generatorPauses.maxMs.toFixed(2)}); generator ${(100 * r.clientCpuCores).toFixed(0)}% of its core; waited for a core: node ${r.runDelayMsPerSecond?.node.toFixed(1)} ms/s, generator ${r.runDelayMsPerSecond?.generator.toFixed(1)} ms/s, other tenants ${(100 * r.othersCpuCores).toFixed(0)}% of a core; node threads ms/s ${JSON.stringify(r.nodeThreadsMsPerSecond)}`,
  );
}
