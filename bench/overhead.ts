/**
 * What does our stack cost on top of the socket? A `predict` round trip through EdgeServer +
 * Session (encode, scan, unpack, validate, predict, answer, and back) against a raw `ws` echo of
 * the very same request bytes, both on loopback, interleaved one for one in the same process so
 * both see the same machine state. Acceptance: ours p50 ≤ 1.25 × raw p50 + 0.1 ms.
 */
import { WebSocket, WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { connect, SimulatedHeadset } from '../client-sdk/node.js';
import { EdgeServer } from '../edge-server/index.js';
import { encode } from '../protocol/index.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { ms, summarize } from './lib/stats.js';
import { intFlag, parseCommandArgs } from '../bin/commands/args.js';

const HELP = `Usage: npm run bench -- overhead [options]

Interleaves N predict round trips through our stack with N raw ws echoes of the same bytes.

Options:
  --iterations N   measured round trips of each kind  [default: 5000]
  --warmup N       unmeasured round trips first       [default: 500]
  -h, --help       show this help`;

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { iterations: { type: 'string' }, warmup: { type: 'string' } }, HELP);
  if (!args) return;
  const iterations = intFlag(args.values.iterations, 'iterations', 10, 1_000_000) ?? 5000;
  const warmup = intFlag(args.values.warmup, 'warmup', 0, 100_000) ?? 500;
  const env = environment({ iterations, warmup });
  printEnvironment(env);

  // raw baseline: a ws echo server, as bare as ws gets
  const echo = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  echo.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise((resolve) => echo.once('listening', resolve));
  const raw = new WebSocket(`ws://127.0.0.1:${(echo.address() as AddressInfo).port}`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => raw.once('open', resolve).once('error', reject));

  // a closed loop sends far above a headset's ~300 messages/s; lift the per-session rate cap
  const server = new EdgeServer({ nodeId: 'bench', limits: { maxMessagesPerSecond: 1_000_000, rateBurst: 10_000 } });
  const { url } = await server.listen();
  const session = await connect(url, { pingIntervalMs: 0 });
  const headset = new SimulatedHeadset();
  for (let t = 0; t < 100; t += 11) session.sendPose(headset.poseAt(t));

  // the raw echo carries exactly what our predict request puts on the wire
  const requestBytes = encode({ t: 'predict', id: 1, horizonMs: 50, device: 'head' });
  const rawRoundTrip = () =>
    new Promise<number>((resolve) => {
      const started = performance.now();
      raw.once('message', () => resolve(performance.now() - started));
      raw.send(requestBytes);
    });
  const ourRoundTrip = async () => {
    const started = performance.now();
    const prediction = await session.predict(50);
    if (prediction.predictor !== 'constant-velocity') throw new Error('unexpected predictor in bench');
    return performance.now() - started;
  };

  // correctness before timing: the prediction must actually move with the head
  const check = await session.predict(50);
  if (check.pose.time !== headset.poseAt(99).time + 50_000) throw new Error(`predicted pose time is off: ${check.pose.time}`);

  const rawSamples: number[] = [];
  const ourSamples: number[] = [];
  const total = warmup + iterations;
  for (let i = 0; i < total; i++) {
    // alternate which goes first so neither always benefits from a warm cache
    let rawMs: number;
    let ourMs: number;
    if (i % 2 === 0) {
      rawMs = await rawRoundTrip();
      ourMs = await ourRoundTrip();
    } else {
      ourMs = await ourRoundTrip();
      rawMs = await rawRoundTrip();
    }
    if (i >= warmup) {
      rawSamples.push(rawMs);
      ourSamples.push(ourMs);
    }
    if ((i + 1) % Math.ceil(total / 10) === 0) process.stdout.write(`  ${Math.round(((i + 1) / total) * 100)}%\r`);
  }

  session.close();
  raw.close();
  await server.close({ deadlineMs: 0 });
  await new Promise((resolve) => echo.close(resolve));

  const rawStats = summarize(rawSamples);
  const ourStats = summarize(ourSamples);
  const ratio = ourStats.p50 / rawStats.p50;
  const budget = 1.25 * rawStats.p50 + 0.1;
  const pass = ourStats.p50 <= budget;
  console.log(`raw ws echo      p50 ${ms(rawStats.p50)}  p99 ${ms(rawStats.p99)}`);
  console.log(`edge-offload     p50 ${ms(ourStats.p50)}  p99 ${ms(ourStats.p99)}`);
  console.log(`ratio p50 ${ratio.toFixed(2)}×, p99 ${(ourStats.p99 / rawStats.p99).toFixed(2)}×; acceptance p50 ≤ 1.25×raw + 0.1 ms = ${ms(budget)}: ${pass ? 'PASS' : 'FAIL'}`);
  writeResult(
    'overhead',
    { env, requestBytes: requestBytes.byteLength, raw: rawStats, ours: ourStats, ratioP50: ratio, ratioP99: ourStats.p99 / rawStats.p99, budgetP50Ms: budget, pass },
    barChart({
      title: `predict round trip vs raw ws echo (loopback, n=${iterations} each, interleaved)`,
      yLabel: 'ms',
      categories: ['p50', 'p90', 'p99'],
      series: [
        { name: 'raw ws echo', values: [rawStats.p50, rawStats.p90, rawStats.p99] },
        { name: 'edge-offload predict', values: [ourStats.p50, ourStats.p90, ourStats.p99] },
      ],
    }),
  );
  if (!pass) process.exitCode = 1;
}
