/**
 * `bench worker-scaling`: does `edge-offload edge --workers N` (node:cluster workers behind one
 * port) serve more sessions than one process? On a 2-core machine the load generator has to live
 * on one of the node's cores, so it must cost far less per frame than the node: it is
 * load/RawWireClient.ts (hand-made WebSocket handshake, prebuilt frames patched in place, answers
 * scanned for their id), and its cost is measured first beside WireClient's against the raw ws echo
 * (same run, same sessions) so the reader sees what it takes.
 *
 * Then, per worker count: the node pinned to its cores (1 worker: core 0; 2 workers: cores 0,1),
 * this process to the last core (shared with worker 2: the generator's measured share of that core
 * is what the second worker loses, reported beside every step). A correctness check first (every
 * answer a `prediction` from the named predictor, every id matched, none an error, and the node's
 * `/metrics` handling histogram counting every frame, whichever worker served it), then sessions
 * swept up until the knee: the first step where node handling p99 (from `/metrics`) exceeds 1 ms,
 * or frames go unanswered (answered < 99 % of sent, or any still unanswered 300 ms after the step).
 * Capacity is the last step before the knee; the scaling ratio is capacity(N) / capacity(1).
 */
import { loadavg, cpus } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedHeadset } from '../client-sdk/node.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { lineChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { pinSelf } from './lib/pin.js';
import { writeResult } from './lib/results.js';
import { checkNode } from './load/checkNode.js';
import { LOAD_NODE_ENV, killProc, openClients, print, startPinned, step, type StepResult } from './load/loadStep.js';
import { openRawClients, rawStep, RttSamples, type RawStepResult } from './load/rawStep.js';
import { RawWireClient } from './load/RawWireClient.js';

const HELP = `Usage: npm run bench -- worker-scaling [options]

Sessions × 90 Hz pose+predict frames against \`edge-offload edge --workers N\` for each N, swept
until the knee (node handling p99 from /metrics over 1 ms, or frames unanswered): capacity per
worker count and the scaling ratio. The load generator (RawWireClient: prebuilt frames, hand-made
WebSocket) runs on the last core, beside the last worker; its CPU per frame is measured against a
raw ws echo beside WireClient's, and its share of the core is reported at every step.

Options:
  --steps L         session counts, comma-separated  [default: 150,175,200,225,250,275,300,325,350,400,450,500]
  --seconds N       measured seconds per step (after 1 s of warm-up)  [default: 2]
  --hz N            frames per second per session     [default: 90]
  --predictor P     predictor every frame asks for    [default: learned]
  --workers L       worker counts, comma-separated; N workers run on cores 0…N-1  [default: 1,2]
  --rounds N        sweeps per worker count, the order alternating (1, 2, then 2, 1…); a
                    worker count's capacity is its best round (other tenants of a shared machine
                    only ever take capacity away), every round kept in the JSON  [default: 2]
  --client-core N   core of this process (the load generator)  [default: the last core]
  --label S         name of this run in the results   [default: worker-scaling]
  -h, --help        show this help`;

/** Why a step is past the knee, or undefined when the node served it. */
function kneeReason(r: RawStepResult, seconds: number): string | undefined {
  if (r.unexpected > 0) return `${r.unexpected} answers not a prediction for a frame in flight`;
  if ((r.handlingP99Ms ?? Infinity) > 1) return `node handling p99 ${r.handlingP99Ms?.toFixed(3)} ms > 1 ms`;
  if (r.answeredFps < 0.99 * r.sentFps) return `answered ${Math.round(r.answeredFps)} of ${Math.round(r.sentFps)} frames/s`;
  if (r.lost > 0.001 * r.offeredFps * (seconds + 1)) return `${r.lost} frames unanswered 300 ms after the step`;
  return undefined;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    { steps: { type: 'string' }, seconds: { type: 'string' }, hz: { type: 'string' }, predictor: { type: 'string' }, workers: { type: 'string' }, rounds: { type: 'string' }, 'client-core': { type: 'string' }, label: { type: 'string' } },
    HELP,
  );
  if (!args) return;
  const steps = (stringFlag(args.values.steps) ?? '150,175,200,225,250,275,300,325,350,400,450,500').split(',').map((s) => intFlag(s, 'steps', 1, 5000)!);
  const seconds = intFlag(args.values.seconds, 'seconds', 1, 60) ?? 2;
  const hz = intFlag(args.values.hz, 'hz', 1, 240) ?? 90;
  const predictor = stringFlag(args.values.predictor) ?? 'learned';
  const cores = cpus().length;
  const workerCounts = (stringFlag(args.values.workers) ?? '1,2').split(',').map((s) => intFlag(s, 'workers', 1, cores)!);
  const rounds = intFlag(args.values.rounds, 'rounds', 1, 9) ?? 2;
  const clientCore = intFlag(args.values['client-core'], 'client-core', 0, cores - 1) ?? cores - 1;
  const label = stringFlag(args.values.label) ?? 'worker-scaling';
  if (cores < 2) throw new Error('bench worker-scaling needs 2 cores: the node on core 0, the load generator on another');
  const here = fileURLToPath(new URL('..', import.meta.url)); // dist/
  pinSelf(String(clientCore), 'bench worker-scaling');
  const nodeCoresOf = (w: number) => (w === 1 ? '0' : `0-${w - 1}`);
  const env = environment({ steps, seconds, hz, predictor, workerCounts, rounds, nodeCores: Object.fromEntries(workerCounts.map((w) => [w, nodeCoresOf(w)])), clientCore, client: 'RawWireClient (hand-made ws, prebuilt frames), one process', loadAverageAtStart: loadavg().map((l) => +l.toFixed(2)) });
  printEnvironment(env);
  const maxSessions = Math.max(...steps, 100);
  const headsets = Array.from({ length: maxSessions }, (_, i) => new SimulatedHeadset(i + 1));

  // 1. the generators' own cost, against the raw echo on core 0: WireClient vs RawWireClient, 100 sessions each
  const generators: Record<string, StepResult | RawStepResult> = {};
  const echo = await startPinned('0', [path.join(here, 'bench', 'load', 'echoServer.js')]);
  try {
    const wireSamples = { rtt: [] as number[], from: Infinity };
    const wire = await openClients(echo.url, 100, wireSamples, true);
    generators.WireClient = await step(echo, wire, headsets, wireSamples, { hz, seconds, predictor });
    print('WireClient → raw echo', generators.WireClient);
    for (const c of wire) c.close();
    const rawSamples = new RttSamples();
    const raw = await openRawClients(echo.url, headsets.slice(0, 100), rawSamples, { echo: true, hz, predictor });
    const r = await rawStep(echo, raw, rawSamples, { hz, seconds });
    if (r.unexpected > 0 || r.lost > 0) throw new Error(`RawWireClient against the echo: ${r.unexpected} unexpected answers, ${r.lost} lost`);
    generators.RawWireClient = r;
    print('RawWireClient → raw echo', r);
    for (const c of raw) c.close();
  } finally {
    echo.child.kill('SIGKILL');
  }
  const generatorRatio = generators.RawWireClient!.clientCpuUsPerFrame / generators.WireClient!.clientCpuUsPerFrame;
  console.log(`load generator CPU per frame: RawWireClient ${generators.RawWireClient!.clientCpuUsPerFrame.toFixed(1)} µs vs WireClient ${generators.WireClient!.clientCpuUsPerFrame.toFixed(1)} µs (×${generatorRatio.toFixed(2)})`);

  // 2. per worker count: correctness, then sessions swept to the knee
  const runs: { workers: number; round: number; nodeCores: string; check: Record<string, unknown>; results: RawStepResult[]; retried: RawStepResult[]; knee: { sessions: number; reason: string } | null }[] = [];
  for (let round = 0; round < rounds; round++) for (const workers of round % 2 === 0 ? workerCounts : [...workerCounts].reverse()) {
    const nodeCores = nodeCoresOf(workers);
    const node = await startPinned(nodeCores, [path.join(here, 'bin', 'edge-offload.js'), 'edge', '--port', '0', '--workers', String(workers)], {
      TF_CPP_MIN_LOG_LEVEL: '2',
      ...LOAD_NODE_ENV,
    });
    const metricsUrl = node.url.replace(/^ws/, 'http').replace(/\/v1\/session$/, '/metrics');
    const samples = new RttSamples();
    let clients: RawWireClient[] = [];
    try {
      const check = await checkNode(node, metricsUrl, headsets.slice(0, 10), predictor, hz);
      console.log(`round ${round + 1}, --workers ${workers} on cores ${nodeCores}: correct (${JSON.stringify(check)})`);
      const results: RawStepResult[] = [];
      const retried: RawStepResult[] = [];
      let knee: { sessions: number; reason: string } | null = null;
      for (const n of steps) {
        try {
          if (clients.length < n) clients.push(...(await openRawClients(node.url, headsets.slice(clients.length, n), samples, { echo: false, hz, predictor })));
        } catch (err) {
          // an overloaded node refuses or times out new handshakes: its limit, not the run's end
          knee = { sessions: n, reason: `could not open ${n} sessions: ${(err as Error).message}` };
          console.log(`  knee: ${knee.reason}`);
          break;
        }
        let r = await rawStep(node, clients.slice(0, n), samples, { hz, seconds, metricsUrl });
        // past the knee while other tenants of the machine took a quarter core or more: measured
        // once more (both kept), so a neighbour's burst does not end the sweep on its own
        if (kneeReason(r, seconds) && r.othersCpuCores > 0.25) {
          console.log(`  past the knee with the rest of the machine at ${(100 * r.othersCpuCores).toFixed(0)}%: measured again`);
          retried.push(r);
          r = await rawStep(node, clients.slice(0, n), samples, { hz, seconds, metricsUrl });
        }
        results.push(r);
        print(`--workers ${workers}`, r);
        console.log(`  load generator: ${r.clientCpuUsPerFrame.toFixed(1)} µs/frame, ${(100 * r.clientCpuCores).toFixed(0)}% of core ${clientCore}; node ${(100 * r.nodeCpuCores).toFixed(0)}% of a core; the rest of the machine ${(100 * r.othersCpuCores).toFixed(0)}%`);
        if (r.sentFps < 0.98 * r.offeredFps) console.log(`  the load generator sent ${Math.round(r.sentFps)} of ${r.offeredFps} frames/s: this step measures it too`);
        const reason = kneeReason(r, seconds);
        if (reason) {
          knee = { sessions: n, reason };
          console.log(`  knee: ${reason}`);
          break;
        }
      }
      runs.push({ workers, round: round + 1, nodeCores, check, results, retried, knee });
    } finally {
      for (const c of clients) c.close();
      killProc(node, 'SIGKILL');
    }
  }

  const capacity = (run: (typeof runs)[number]) => {
    const best = run.results.filter((r) => !kneeReason(r, seconds)).at(-1);
    return best
      ? { sessions: best.sessions, answeredFps: Math.round(best.answeredFps), handlingP99Ms: best.handlingP99Ms, rttP99Ms: best.rtt.p99, nodeCpuUsPerFrame: best.nodeCpuUsPerFrame, nodeCpuCores: best.nodeCpuCores, generatorCpuUsPerFrame: best.clientCpuUsPerFrame, generatorCoreShare: best.clientCpuCores, othersCpuCores: best.othersCpuCores }
      : null;
  };
  const perRound = runs.map((run) => ({ workers: run.workers, round: run.round, nodeCores: run.nodeCores, knee: run.knee, capacity: capacity(run), noKneeWithinSteps: run.knee === null }));
  // a worker count's capacity: its best round (other tenants of the machine only take capacity away)
  const served = workerCounts.map((workers) => {
    const mine = perRound.filter((r) => r.workers === workers && r.capacity);
    const best = mine.sort((a, b) => b.capacity!.sessions - a.capacity!.sessions || b.capacity!.answeredFps - a.capacity!.answeredFps)[0];
    return { workers, sessionsPerRound: perRound.filter((r) => r.workers === workers).map((r) => r.capacity?.sessions ?? 0), best: best ?? null };
  });
  const one = served.find((s) => s.workers === 1)?.best?.capacity;
  const verdict = {
    generatorCpuUsPerFrame: { RawWireClient: generators.RawWireClient!.clientCpuUsPerFrame, WireClient: generators.WireClient!.clientCpuUsPerFrame, ratio: generatorRatio },
    served,
    scaling: served
      .filter((s) => s.workers > 1 && s.best && one)
      .map((s) => ({
        workers: s.workers,
        sessionsRatio: s.best!.capacity!.sessions / one!.sessions,
        framesPerSecondRatio: s.best!.capacity!.answeredFps / one!.answeredFps,
        perRoundSessionsRatio: s.sessionsPerRound.map((n, i) => n / (served.find((x) => x.workers === 1)!.sessionsPerRound[i] || NaN)),
        // the generator shares core `clientCore` with the last worker: this much of it the worker did not get
        generatorCoreShare: s.best!.capacity!.generatorCoreShare,
        nodeCpuCores: s.best!.capacity!.nodeCpuCores,
        othersCpuCores: s.best!.capacity!.othersCpuCores,
        capped: s.best!.noKneeWithinSteps ? 'no knee within the steps: the ratio is a lower bound' : undefined,
      })),
  };
  console.log(JSON.stringify(verdict, null, 2));
  writeResult(
    label,
    { bench: 'worker-scaling', label, environment: { ...env, loadAverageAtEnd: loadavg().map((l) => +l.toFixed(2)) }, generators, runs, verdict },
    lineChart({
      title: `predict, ${hz} Hz per session: frames/s answered vs sessions, --workers ${workerCounts.join(' vs ')} (each stops at its knee)`,
      xLabel: 'sessions',
      yLabel: 'frames/s answered',
      series: [
        ...runs.map((run) => ({ name: `--workers ${run.workers}, round ${run.round}`, points: run.results.map((r): [number, number] => [r.sessions, r.answeredFps]) })),
        { name: 'offered', points: steps.map((n): [number, number] => [n, n * hz]) },
      ],
    }),
  );
}
