/**
 * The angle a headset user feels: for every frame the client displays at 90 Hz, the angle between
 * the orientation the displayed image corresponds to and the true head orientation at that
 * display instant. Real traces (one held-out recording per data set, replayed in real time), the
 * real stack (EdgeServer with its default predictor and the WebGPU renderer; client SDK sessions;
 * edge 5 ms and cloud 60 ms RTT through the netem proxy), three ways side by side in one run:
 * - `none`: frames rendered at the newest tracked pose;
 * - `predicted`: the node predicts the pose at display time (horizon learned from the measured
 *   sample → display delay), and the frame is rendered there;
 * - `predicted + reprojection`: that frame, warped at display time by the client's rotational
 *   timewarp (client-sdk reproject.ts) to its own latest estimate for the display instant (the
 *   newest tracker sample, extrapolated by the SDK's local predictor).
 * The display shows the newest frame that has arrived; the tracker delivers the recording's own
 * samples (90 Hz seated, 36–72 Hz walking) as their time comes.
 *
 *   npm run bench -- display-error [--data DIR] [--seconds 15] [--size 256]
 * Writes bench/results/display-error.json + .svg.
 */
import { pathToFileURL } from 'node:url';
import { connect, reproject, type Frame, type PoseSample, type Session } from '../client-sdk/node.js';
import { EdgeServer } from '../edge-server/index.js';
import { WebGpuRenderEngine } from '../edge-server/render/WebGpuRenderEngine.js';
import { BUNDLED_MODELS_DIR, HEAD_PREDICTOR_MODEL, ModelRegistry, createDefaultPredictors, loadTfBackend } from '../edge-server/inference/index.js';
import { poseAt } from '../edge-server/inference/motionWindow.js';
import { angleBetween, rotate } from '../protocol/motion/quaternion.js';
import { startNetemProxy, type NetemProxy } from '../netem/NetemProxy.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { quantile } from './lib/stats.js';
import { MISSING_DATA_HELP, findDataRoot, loadDataSets, splitSet } from './motion/headMotion.js';
import type { Trace } from './motion/cromTraces.js';

const HELP = `Usage: npm run bench -- display-error [options]

Angle between the displayed image's orientation and the true head orientation at display time,
per displayed frame at 90 Hz, with no prediction, with edge prediction, and with prediction plus
late rotational reprojection; edge (5 ms) and cloud (60 ms RTT) links; seated and walking traces.

Options:
  --data DIR      folder holding crom/ and eyenavgs/ (default ../shared/data/head-motion)
  --seconds N     replayed seconds per data set and link (default 15)
  --size N        pixels per eye edge of the rendered frames (default 256)
  -h, --help      this text

Needs the GPU stack (scripts/install-render-deps.sh on machines without a GPU).`;

const DISPLAY_HZ = 90;
const MODES = ['none', 'predicted', 'predicted + reprojection'] as const;
type Mode = (typeof MODES)[number];
const DEG = 180 / Math.PI;

interface Pipeline {
  session: Session;
  busy: boolean;
  frame?: Frame;
  /** Trace time (µs) of the newest sample the displayed frame was made from. */
  sourceTime: number;
}

/** The camera's viewing direction (−z) in the world. */
function forward(q: readonly number[]): number[] {
  return rotate(q, [0, 0, -1]);
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { data: { type: 'string' }, seconds: { type: 'string' }, size: { type: 'string' } }, HELP);
  if (!args) return;
  const seconds = intFlag(args.values.seconds, 'seconds', 2, 600) ?? 15;
  const size = intFlag(args.values.size, 'size', 16, 2048) ?? 256;
  const root = findDataRoot(stringFlag(args.values.data));
  const sets = root ? loadDataSets(root) : [];
  if (!sets.length) {
    console.error(MISSING_DATA_HELP);
    process.exitCode = 2;
    return;
  }
  const runtime = await loadTfBackend({ log: () => {} });
  const registry = await ModelRegistry.load(runtime.tf, BUNDLED_MODELS_DIR, { log: () => {} });
  const predictors = createDefaultPredictors(registry.get(HEAD_PREDICTOR_MODEL));
  const engine = await WebGpuRenderEngine.create().catch((err: Error) => {
    throw new Error(`${err.message}\nRun scripts/install-render-deps.sh, then the bench again.`);
  });
  const server = new EdgeServer({ nodeId: 'bench-display', renderer: engine, predictors });
  const { url, port } = await server.listen();
  const path = new URL(url).pathname;
  const env = environment({ backend: runtime.backend, predictor: predictors[0]!.name, seconds, eyeSize: size, displayHz: DISPLAY_HZ });
  printEnvironment(env);
  const camera = { fovY: 90, ipd: 0.064, width: size, height: size };
  const view = { fovY: camera.fovY, width: size, height: size };

  // correctness before measuring: the timewarp maps the display centre onto the ray the target
  // orientation looks along
  {
    const render = [0, Math.sin(0.1), 0, Math.cos(0.1)];
    const target = [Math.sin(0.05), 0, 0, Math.cos(0.05)];
    const err = displayedCentreError(render, target, target, view);
    if (!(err < 1e-3)) throw new Error(`reprojection check failed: centre ray ${err}° off`);
  }

  const links: { name: string; rttMs: number; proxy: NetemProxy }[] = [];
  for (const [name, rttMs] of [['edge 5 ms', 5], ['cloud 60 ms', 60]] as const) {
    links.push({ name, rttMs, proxy: await startNetemProxy({ target: { host: '127.0.0.1', port }, delayMs: rttMs / 2 }) });
  }
  const results: Record<string, Record<string, Record<Mode, { p50: number; p95: number; p99: number; n: number }>>> = {};
  const horizons: Record<string, Record<string, number>> = {};
  try {
    for (const set of sets) {
      const trace = pickTrace(splitSet(set).validation, seconds);
      console.log(`${set.name}: replaying ${trace.name} from 5 s`);
      for (const link of links) {
        const errors = await replay(trace, link.proxy.url + path, camera, view, seconds, link.rttMs);
        ((results[set.name] ??= {})[link.name] = Object.fromEntries(MODES.map((m) => [m, stats(errors.byMode[m])])) as Record<Mode, ReturnType<typeof stats>>);
        (horizons[set.name] ??= {})[link.name] = errors.horizonMs;
        const r = results[set.name]![link.name]!;
        console.log(`  ${link.name.padEnd(12)} ${MODES.map((m) => `${m}: p50 ${r[m].p50.toFixed(2)}° p95 ${r[m].p95.toFixed(2)}° p99 ${r[m].p99.toFixed(2)}°`).join(' | ')} (n=${r.none.n}, horizon ${errors.horizonMs.toFixed(0)} ms)`);
      }
    }
  } finally {
    for (const link of links) await link.proxy.close();
    await server.close({ deadlineMs: 0 });
    registry.dispose();
  }
  const categories = Object.entries(results).flatMap(([set, byLink]) => Object.keys(byLink).map((link) => `${set} ${link}`));
  const value = (cat: string, m: Mode) => {
    const [set, ...rest] = cat.split(' ');
    return results[set!]![rest.join(' ')]![m].p95;
  };
  writeResult(
    'display-error',
    { bench: 'display-error', environment: env, note: 'angle (deg) between the displayed image orientation and the true head orientation at each 90 Hz display instant', results, predictionHorizonMs: horizons, targets: { 'edge 5 ms': 0.5, 'cloud 60 ms': 1.5 } },
    barChart({ title: 'p95 angle at display time (deg): none vs prediction vs prediction + reprojection', yLabel: 'degrees', categories, series: MODES.map((m) => ({ name: m, values: categories.map((c) => value(c, m)) })) }),
  );
}

function pickTrace(traces: readonly Trace[], seconds: number): Trace {
  const long = traces.find((t) => t.poses[t.poses.length - 1]!.time > (seconds + 6) * 1e6);
  if (!long) throw new Error(`no held-out recording is ${seconds + 6} s long; pass a smaller --seconds`);
  return long;
}

function stats(values: number[]): { p50: number; p95: number; p99: number; n: number } {
  const s = [...values].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99), n: s.length };
}

/** Angle (deg) between the ray the warped display shows at its centre and `truth`'s forward. */
function displayedCentreError(render: readonly number[], target: readonly number[], truth: readonly number[], view: { fovY: number; width: number; height: number }): number {
  const h = reproject.displayToRenderHomography(render, target, view);
  const p = reproject.applyHomography(h, view.width / 2, view.height / 2);
  if (!p) return 180;
  const f = (view.height / 2) / Math.tan((view.fovY * Math.PI) / 360);
  // render-camera ray through that pixel (camera looks down −z, y up), to the world
  const ray = rotate(render, [(p[0] - view.width / 2) / f, -(p[1] - view.height / 2) / f, -1]);
  const n = Math.hypot(...ray);
  const want = forward(truth);
  const cos = (ray[0]! * want[0]! + ray[1]! * want[1]! + ray[2]! * want[2]!) / n;
  return Math.acos(Math.max(-1, Math.min(1, cos))) * DEG;
}

async function replay(
  trace: Trace,
  url: string,
  camera: { fovY: number; ipd: number; width: number; height: number },
  view: { fovY: number; width: number; height: number },
  seconds: number,
  rttMs: number,
): Promise<{ byMode: Record<Mode, number[]>; horizonMs: number }> {
  const options = { pingIntervalMs: 0, requestTimeoutMs: 10_000 };
  const plain: Pipeline = { session: await connect(url, options), busy: false, sourceTime: 0 };
  const predicted: Pipeline = { session: await connect(url, options), busy: false, sourceTime: 0 };
  const byMode: Record<Mode, number[]> = { none: [], predicted: [], 'predicted + reprojection': [] };
  const poses = trace.poses;
  const startUs = 5e6;
  let next = poses.findIndex((p) => p.time >= startUs);
  let latest: PoseSample | undefined;
  // sample → display delay the predictor is asked to bridge; learned from what is displayed
  let horizonMs = rttMs + 40;
  let failures = 0;
  const started = performance.now();
  const request = (p: Pipeline, pose: PoseSample, sourceTime: number) => {
    p.busy = true;
    p.session
      .render({ pose, eye: 'both', camera, codec: 'jpeg', quality: 70 })
      .then((frame) => {
        p.frame = frame;
        p.sourceTime = sourceTime;
      })
      .catch(() => failures++)
      .finally(() => (p.busy = false));
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        try {
          tick();
        } catch (err) {
          clearInterval(timer);
          reject(err);
        }
      }, 1000 / DISPLAY_HZ);
      const tick = () => {
        const nowUs = startUs + (performance.now() - started) * 1000;
        if (nowUs > startUs + seconds * 1e6) {
          clearInterval(timer);
          resolve();
          return;
        }
        // the tracker's samples whose time has come
        for (; next < poses.length && poses[next]!.time <= nowUs; next++) {
          latest = poses[next]!;
          plain.session.sendPose(latest);
          predicted.session.sendPose(latest);
        }
        if (!latest) return;
        const source = latest;
        if (!plain.busy) request(plain, source, source.time);
        if (!predicted.busy) {
          predicted.busy = true;
          predicted.session
            .predict(horizonMs)
            .then((p) => {
              predicted.busy = false;
              request(predicted, p.pose, source.time);
            })
            .catch(() => {
              failures++;
              predicted.busy = false;
            });
        }
        // the display: newest arrived frame of each pipeline, against the truth now
        if (!plain.frame || !predicted.frame) return;
        const truth = poseAt(poses, nowUs).orientation;
        byMode.none.push(angleBetween(plain.frame.pose.orientation, truth) * DEG);
        byMode.predicted.push(angleBetween(predicted.frame.pose.orientation, truth) * DEG);
        // the client's late estimate for this instant: its newest sample, extrapolated locally
        const target = predicted.session.predictLocally(Math.max(0, (nowUs - latest.time) / 1000)).pose.orientation;
        const warped = displayedCentreError(predicted.frame.pose.orientation, target, target, view);
        if (!(warped < 0.01)) throw new Error(`reprojection missed its target by ${warped}°`);
        byMode['predicted + reprojection'].push(angleBetween(target, truth) * DEG);
        horizonMs += 0.02 * ((nowUs - predicted.sourceTime) / 1000 - horizonMs);
      };
    });
  } finally {
    plain.session.close();
    predicted.session.close();
  }
  if (failures) console.log(`  (${failures} requests failed or were superseded)`);
  return { byMode, horizonMs };
}

// Run directly: node dist/bench/display-error.js [options]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
