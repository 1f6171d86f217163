/**
 * `edge-offload demo`: an edge node and a simulated headset in one process. The headset streams
 * poses at 90 Hz and asks for the pose 50 ms ahead every frame; once a second the demo prints the
 * link RTT, the predict round trip, the prediction rate and how far the prediction landed from
 * where the (simulated) head really went.
 */
import { connect, SimulatedHeadset, quantile } from '../../client-sdk/node.js';
import { EdgeServer } from '../../edge-server/index.js';
import { quaternion } from '../../protocol/index.js';
import { intFlag, parseCommandArgs } from './args.js';

const HELP = `Usage: edge-offload demo [options]

Starts an edge node on loopback and a simulated headset client, and prints one line per second:
RTT p50/p99 (ping), predict round trip p50/p99, predictions/s, and the angular error of the
50 ms prediction against the true head pose (with 'no prediction' for comparison).

Options:
  --seconds N    stop after N seconds            [default: run until Ctrl-C]
  --rate HZ      pose and predict rate           [default: 90]
  --horizon MS   prediction horizon              [default: 50]
  -h, --help     show this help`;

export async function runDemoCommand(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { seconds: { type: 'string' }, rate: { type: 'string' }, horizon: { type: 'string' } }, HELP);
  if (!args) return;
  const seconds = intFlag(args.values.seconds, 'seconds', 1, 86_400);
  const rateHz = intFlag(args.values.rate, 'rate', 1, 1000) ?? 90;
  const horizonMs = intFlag(args.values.horizon, 'horizon', 0, 500) ?? 50;

  const server = new EdgeServer({ tier: 'edge', nodeId: 'demo-edge' });
  const { url } = await server.listen();
  const session = await connect(url, { pingIntervalMs: 100 });
  console.log(`edge node ${server.nodeId} on ${url}; simulated headset at ${rateHz} Hz predicting +${horizonMs} ms (Ctrl-C to stop)`);

  const headset = new SimulatedHeadset();
  const t0 = performance.now();
  let roundTrips: number[] = [];
  let errorsDeg: number[] = [];
  let staleDeg: number[] = [];
  let failures = 0;

  const frame = setInterval(() => {
    const now = performance.now() - t0;
    const pose = headset.poseAt(now);
    session.sendPose(pose);
    session.predict(horizonMs).then(
      (prediction) => {
        const truth = headset.poseAt(now + horizonMs).orientation;
        roundTrips.push(prediction.roundTripMs);
        errorsDeg.push((quaternion.angleBetween(prediction.pose.orientation, truth) * 180) / Math.PI);
        staleDeg.push((quaternion.angleBetween(pose.orientation, truth) * 180) / Math.PI);
      },
      () => failures++,
    );
  }, 1000 / rateHz);

  const report = setInterval(() => {
    const rtt = session.rtt();
    const sorted = [...roundTrips].sort((a, b) => a - b);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const elapsed = Math.round((performance.now() - t0) / 1000);
    console.log(
      `t=${String(elapsed).padStart(3)}s  rtt p50 ${rtt.p50.toFixed(2)} ms p99 ${rtt.p99.toFixed(2)} ms | ` +
        `predict p50 ${quantile(sorted, 0.5).toFixed(2)} ms p99 ${quantile(sorted, 0.99).toFixed(2)} ms | ` +
        `${sorted.length} predictions/s | +${horizonMs} ms error ${mean(errorsDeg).toFixed(2)}° (no prediction ${mean(staleDeg).toFixed(2)}°)` +
        (failures ? ` | ${failures} failed` : ''),
    );
    roundTrips = [];
    errorsDeg = [];
    staleDeg = [];
    if (seconds !== undefined && elapsed >= seconds) void stop();
  }, 1000);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(frame);
    clearInterval(report);
    session.close();
    await server.close({ deadlineMs: 0 });
  };
  process.once('SIGINT', () => void stop());
}
