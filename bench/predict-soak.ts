/**
 * `bench predict-soak`: does a node stay flat under steady load? One node (the real `edge-offload
 * edge` CLI, this checkout) pinned to `--node-cores`, this load generator to `--client-cores`,
 * N sessions × hz pose+predict frames for `--minutes`, without pause. Every minute: the node's RSS
 * (workers included), its own handling p50/p99 (the delta of two `/metrics` scrapes), the client
 * round trip p99, CPU per frame and frames answered/sent. Flat means the last minute's RSS within
 * `--rss-growth` of the second minute's (the first holds JIT and pool warm-up) and its handling
 * p99 within 2× of the second minute's.
 *
 * Baseline in the same run: the raw ws echo server (same framing), pinned like the node, at the
 * same N for one minute before the soak: the round trip the machine itself allows right now.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedHeadset } from '../client-sdk/node.js';
import { FrameClock } from './load/FrameClock.js';
import { LOAD_NODE_ENV, histogramQuantile, killProc, openClients, scrapeHandling, sleep, startPinned, step, treeCpuMs, type Proc } from './load/loadStep.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { lineChart } from './lib/chart.js';
import { pinSelf } from './lib/pin.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { summarize } from './lib/stats.js';

const HELP = `Usage: npm run bench -- predict-soak [options]

N sessions × hz pose+predict frames against one pinned edge node for --minutes without pause;
per minute: node RSS, node handling p50/p99 (/metrics), round trip p99, CPU per frame. A raw ws
echo of the same N for one minute first, as the floor. Takes --minutes + ~1.5 min: run it under
the shared lock only when a soak is due.

Options:
  --minutes N       soak length                           [default: 10]
  --sessions N      concurrent sessions                   [default: 50]
  --hz N            frames per second per session         [default: 90]
  --predictor P     predictor every frame asks for        [default: learned]
  --node-cores L    taskset core list of the node          [default: 0]
  --client-cores L  taskset core list of this process      [default: 1]
  --node-args A     extra arguments for \`edge-offload edge\`, space-separated
  --rss-growth F    allowed RSS growth, minute 2 → last    [default: 0.10]
  --label S         name of this run in the results        [default: predict-soak]
  -h, --help        show this help`;

/** Resident set of a process and its children (cluster workers), MB, from /proc. */
function treeRssMb(pid: number | undefined): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  let total = kb / 1024;
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) total += treeRssMb(Number(child));
  } catch {
    // no children file: none counted
  }
  return total;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    {
      minutes: { type: 'string' }, sessions: { type: 'string' }, hz: { type: 'string' }, predictor: { type: 'string' },
      'node-cores': { type: 'string' }, 'client-cores': { type: 'string' }, 'node-args': { type: 'string' }, 'rss-growth': { type: 'string' }, label: { type: 'string' },
    },
    HELP,
  );
  if (!args) return;
  const minutes = intFlag(args.values.minutes, 'minutes', 2, 120) ?? 10;
  const sessions = intFlag(args.values.sessions, 'sessions', 1, 5000) ?? 50;
  const hz = intFlag(args.values.hz, 'hz', 1, 240) ?? 90;
  const predictor = stringFlag(args.values.predictor) ?? 'learned';
  const nodeCores = stringFlag(args.values['node-cores']) ?? '0';
  const clientCores = stringFlag(args.values['client-cores']) ?? '1';
  const nodeArgs = (stringFlag(args.values['node-args']) ?? '').split(' ').filter(Boolean);
  const rssGrowth = Number(stringFlag(args.values['rss-growth']) ?? '0.10');
  if (!(rssGrowth > 0 && rssGrowth < 10)) throw new Error('--rss-growth must be a fraction between 0 and 10, e.g. 0.1');
  const label = stringFlag(args.values.label) ?? 'predict-soak';
  const here = fileURLToPath(new URL('..', import.meta.url)); // dist/
  pinSelf(clientCores, 'bench predict-soak');
  const env = environment({ minutes, sessions, hz, predictor, nodeCores, clientCores, nodeArgs, client: 'WireClient (ws, zero mask), one process', loadAverageAtStart: loadavg().map((l) => +l.toFixed(2)) });
  printEnvironment(env);
  const samples = { rtt: [] as number[], from: Infinity };
  const headsets = Array.from({ length: sessions }, (_, i) => new SimulatedHeadset(i + 1));

  // the floor: raw ws echo, same sessions and rate, one minute
  const echo = await startPinned(nodeCores, [path.join(here, 'bench', 'load', 'echoServer.js')]);
  let floor;
  try {
    const echoClients = await openClients(echo.url, sessions, samples, true);
    floor = await step(echo, echoClients, headsets, samples, { hz, seconds: 60, predictor });
    console.log(`raw ws echo (floor), ${sessions} sessions: rtt p50 ${floor.rtt.p50.toFixed(3)} p99 ${floor.rtt.p99.toFixed(3)} ms, ${floor.nodeCpuUsPerFrame.toFixed(1)} µs/frame`);
    for (const c of echoClients) c.close();
  } finally {
    echo.child.kill('SIGKILL');
  }

  let node: Proc | undefined;
  const perMinute: Record<string, unknown>[] = [];
  try {
    node = await startPinned(nodeCores, [path.join(here, 'bin', 'edge-offload.js'), 'edge', '--port', '0', ...nodeArgs], {
      TF_CPP_MIN_LOG_LEVEL: '2',
      ...LOAD_NODE_ENV,
    });
    const metricsUrl = node.url.replace(/^ws/, 'http').replace(/\/v1\/session$/, '/metrics');
    const rssBefore = treeRssMb(node.pid);
    const clients = await openClients(node.url, sessions, samples, false);
    // correctness before timing: every session gets predictions from the named predictor
    samples.rtt = [];
    samples.from = 0;
    for (let i = 0; i < sessions; i++) clients[i]!.predict(headsets[i]!.poseAt(0), 50, predictor);
    for (let t = 0; t < 250 && samples.rtt.length < sessions; t++) await sleep(20);
    if (samples.rtt.length < sessions) throw new Error(`only ${samples.rtt.length} of ${sessions} sessions got a prediction from '${predictor}'`);
    let sent = 0;
    const clock = new FrameClock(sessions, hz, (i, due) => {
      sent++;
      clients[i]!.predict(headsets[i]!.poseAt(due), 50, predictor);
    });
    samples.rtt = [];
    samples.from = performance.now();
    clock.start();
    try {
      for (let minute = 1; minute <= minutes; minute++) {
        const before = await scrapeHandling(metricsUrl);
        const cpuBefore = treeCpuMs(node.pid);
        const sentBefore = sent;
        const skippedBefore = clock.skipped;
        const started = performance.now();
        samples.rtt = [];
        samples.from = started;
        await sleep(60_000);
        const elapsed = performance.now() - started;
        const rtt = summarize(samples.rtt);
        const answered = samples.rtt.length;
        const cpu = treeCpuMs(node.pid) - cpuBefore;
        const after = await scrapeHandling(metricsUrl);
        const row = {
          minute,
          rssMb: +treeRssMb(node.pid).toFixed(1),
          handlingP50Ms: histogramQuantile(before, after, 0.5).value,
          handlingP99Ms: histogramQuantile(before, after, 0.99).value,
          rttP50Ms: rtt.p50,
          rttP99Ms: rtt.p99,
          sentFps: ((sent - sentBefore) * 1000) / elapsed,
          answeredFps: (answered * 1000) / elapsed,
          skippedFrames: clock.skipped - skippedBefore,
          nodeCpuUsPerFrame: (cpu * 1000) / Math.max(1, answered),
          lost: clients.reduce((s, c) => s + c.lost(1000), 0),
        };
        perMinute.push(row);
        console.log(
          `minute ${String(minute).padStart(2)}: RSS ${row.rssMb} MB  handling p50 ${row.handlingP50Ms.toFixed(3)} p99 ${row.handlingP99Ms.toFixed(3)} ms  rtt p99 ${row.rttP99Ms.toFixed(2)} ms  ` +
            `${Math.round(row.answeredFps)}/${Math.round(row.sentFps)} fps answered/sent, lost ${row.lost}  ${row.nodeCpuUsPerFrame.toFixed(1)} µs/frame`,
        );
      }
    } finally {
      clock.stop();
      samples.from = Infinity;
      for (const c of clients) c.close();
    }
    const second = perMinute[1] as { rssMb: number; handlingP99Ms: number };
    const last = perMinute[perMinute.length - 1] as { rssMb: number; handlingP99Ms: number };
    const verdict = {
      rssBeforeSessionsMb: +rssBefore.toFixed(1),
      rssMinute2Mb: second.rssMb,
      rssLastMb: last.rssMb,
      rssGrowth: (last.rssMb - second.rssMb) / second.rssMb,
      rssFlat: last.rssMb <= second.rssMb * (1 + rssGrowth),
      handlingP99Minute2Ms: second.handlingP99Ms,
      handlingP99LastMs: last.handlingP99Ms,
      p99Flat: last.handlingP99Ms <= 2 * second.handlingP99Ms,
      floorRttP99Ms: floor.rtt.p99,
    };
    console.log(JSON.stringify(verdict, null, 2));
    writeResult(
      label,
      { bench: 'predict-soak', label, environment: { ...env, loadAverageAtEnd: loadavg().map((l) => +l.toFixed(2)) }, floor, perMinute, verdict },
      lineChart({
        title: `soak: ${sessions} sessions × ${hz} Hz for ${minutes} min, node on core ${nodeCores}`,
        xLabel: 'minute',
        yLabel: 'MB | µs',
        series: [
          { name: 'node RSS (MB)', points: perMinute.map((r) => [r.minute as number, r.rssMb as number]) },
          { name: 'node handling p99 (µs)', points: perMinute.map((r) => [r.minute as number, 1000 * (r.handlingP99Ms as number)]) },
          { name: 'round trip p99 (ms × 10)', points: perMinute.map((r) => [r.minute as number, 10 * (r.rttP99Ms as number)]) },
        ],
      }),
    );
  } finally {
    if (node) killProc(node, 'SIGKILL');
  }
}
