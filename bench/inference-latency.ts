/**
 * Single-sample and batched latency of the head-predictor model on every tfjs backend that loads
 * here (tensorflow = tfjs-node, wasm, cpu), measured in one process, interleaved per backend:
 * - `model.predict`   the tfjs layers API (what generic code would call)
 * - `dense ops`       the same weights as raw matMul/add/relu ops in one tidy (denseStack `run`)
 * - `js kernel`       the same weights in a plain JavaScript loop (denseStack `runJs`, no backend)
 * Outputs are checked against each other before timing.
 * Then the per-frame cost on the node of each predictor, the way a session runs it: a 90 Hz pose
 * pushed into a PoseHistory, observed, and a 50 ms prediction made (learned includes its Kalman
 * base, reset/stall guard, range check and decode). Budget: ≤ 20 µs a frame.
 * Writes bench/results/inference-latency.*
 */
import { loadavg } from 'node:os';
import type { Tf } from '../edge-server/inference/backend.js';
import { BACKENDS, BUNDLED_MODELS_DIR, HEAD_PREDICTOR_MODEL, ModelRegistry, createDefaultPredictors, loadTfBackend, registerBackend } from '../edge-server/inference/index.js';
import { PoseHistory } from '../protocol/motion/PoseHistory.js';
import type { PoseSample } from '../protocol/index.js';
import { fromRotationVector, multiply } from '../protocol/motion/quaternion.js';
import { intFlag, parseCommandArgs } from '../bin/commands/args.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { summarize } from './lib/stats.js';

const HELP = `Usage: npm run bench -- inference-latency [options]

Latency of the head-predictor model per tfjs backend and execution path, batch 1 and batch N.

Options:
  --iterations N   timed calls per configuration (capped at 2 s each)  [default: 1000]
  --batch N        rows in the batched case                           [default: 64]
  -h, --help       show this help`;

function time(fn: () => void, iterations: number, capMs = 2000): number[] {
  for (let i = 0; i < Math.min(100, iterations); i++) fn();
  const samples: number[] = [];
  const deadline = performance.now() + capMs;
  for (let i = 0; i < iterations && performance.now() < deadline; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { iterations: { type: 'string' }, batch: { type: 'string' } }, HELP);
  if (!args) return;
  const iterations = intFlag(args.values.iterations, 'iterations', 10, 100_000) ?? 1000;
  const batch = intFlag(args.values.batch, 'batch', 2, 4096) ?? 64;
  const runtime = await loadTfBackend({ log: () => {} });
  const tf: Tf = runtime.tf;
  // timings on a shared machine mean little without how busy it was
  const env = environment({ iterations, batch, defaultBackend: runtime.backend, model: HEAD_PREDICTOR_MODEL, loadAverage1m: loadavg()[0] });
  printEnvironment(env);

  const rows: { backend: string; path: string; batch: number; p50: number; p99: number; perRowUs: number; n: number }[] = [];
  const skipped: Record<string, string> = {};
  let reference: Float32Array | undefined;
  for (const backend of BACKENDS) {
    try {
      await registerBackend(tf, backend);
      if (!(await tf.setBackend(backend))) throw new Error('setBackend returned false');
      await tf.ready();
    } catch (err) {
      skipped[backend] = (err as Error).message.split('\n')[0]!;
      console.log(`${backend}: unavailable (${skipped[backend]})`);
      continue;
    }
    const registry = await ModelRegistry.load(tf, BUNDLED_MODELS_DIR, { log: () => {} });
    const model = registry.get(HEAD_PREDICTOR_MODEL);
    if (!model?.denseStack) throw new Error(`${HEAD_PREDICTOR_MODEL} is missing or not a Dense stack`);
    const width = model.input.shape[0]!;
    const layers = model.layers!;
    for (const b of [1, batch]) {
      const input = new Float32Array(b * width).map((_, i) => Math.sin(i * 0.37) * 0.3);
      const viaPredict = () => {
        const x = tf.tensor2d(input, [b, width]);
        const y = layers.predict(x) as import('@tensorflow/tfjs').Tensor;
        const out = y.dataSync() as Float32Array;
        x.dispose();
        y.dispose();
        return out;
      };
      // correctness before timing: all three paths agree
      const a = viaPredict();
      const c = model.denseStack.run(input, b);
      const d = model.denseStack.runJs(input, b);
      reference ??= d.slice(0, 6);
      const worst = Math.max(...a.map((v, i) => Math.max(Math.abs(v - c[i]!), Math.abs(v - d[i]!))), ...reference.map((v, i) => Math.abs(v - d[i]!)));
      if (!(worst < 1e-4)) throw new Error(`${backend}: execution paths disagree by ${worst}`);
      const paths: [string, () => unknown][] = [
        ['model.predict', viaPredict],
        ['dense ops', () => model.denseStack!.run(input, b)],
      ];
      if (backend === BACKENDS[0] || !rows.some((r) => r.path === 'js kernel' && r.batch === b)) paths.push(['js kernel', () => model.denseStack!.runJs(input, b)]);
      for (const [path, fn] of paths) {
        const s = summarize(time(fn, iterations));
        const label = path === 'js kernel' ? 'js' : backend;
        rows.push({ backend: label, path, batch: b, p50: s.p50, p99: s.p99, perRowUs: (s.p50 * 1000) / b, n: s.n });
        console.log(`${label.padEnd(10)} ${path.padEnd(14)} batch ${String(b).padStart(4)}: p50 ${s.p50.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  (${((s.p50 * 1000) / b).toFixed(1)} µs/row, n=${s.n})`);
      }
    }
    registry.dispose();
  }
  await tf.setBackend(runtime.backend);

  // per-frame cost of each predictor on the node (JS execution path for learned)
  const FRAME_BUDGET_US = 20;
  const registry = await ModelRegistry.load(tf, BUNDLED_MODELS_DIR, { log: () => {} });
  const frames: { predictor: string; p50Us: number; p99Us: number; n: number }[] = [];
  const poses: PoseSample[] = [];
  for (let i = 0; i < 90 * 60; i++) {
    // a head swaying ±30° yaw at 0.5 Hz and ±15° pitch at 0.7 Hz while walking, 90 Hz
    const t = i / 90;
    const q = multiply(fromRotationVector([0, 0.52 * Math.sin(Math.PI * t), 0]), fromRotationVector([0.26 * Math.sin(4.4 * t + 1), 0, 0]));
    poses.push({ device: 'head', time: Math.round(t * 1e6), position: [0.5 * t, 1.6 + 0.03 * Math.sin(11 * t), 0], orientation: q });
  }
  for (const factory of createDefaultPredictors(registry.get(HEAD_PREDICTOR_MODEL))) {
    const history = new PoseHistory();
    const predictor = factory.create();
    let i = 0;
    const frame = () => {
      const pose = poses[i++ % poses.length]!;
      // wrap around: a later lap is later in time
      const lap = Math.floor((i - 1) / poses.length);
      history.push({ ...pose, time: pose.time + lap * 61e6 });
      predictor.observe?.(history.latest!);
      const out = predictor.predict(history.samples, 50);
      if (out instanceof Promise) throw new Error(`${factory.name} answered asynchronously on the JS path`);
      if (!out.orientation.every(Number.isFinite)) throw new Error(`${factory.name}: non-finite prediction`);
    };
    // 100 frames per timed call: one frame is below the timer's resolution
    const s = summarize(time(() => {
      for (let k = 0; k < 100; k++) frame();
    }, Math.max(10, Math.floor(iterations / 10))));
    frames.push({ predictor: factory.name, p50Us: s.p50 * 10, p99Us: s.p99 * 10, n: s.n * 100 });
    console.log(`per frame ${factory.name.padEnd(18)} p50 ${(s.p50 * 10).toFixed(2)} µs  p99 ${(s.p99 * 10).toFixed(2)} µs (${s.n * 100} frames)${factory.name === 'learned' ? `  budget ${FRAME_BUDGET_US} µs: ${s.p50 * 10 <= FRAME_BUDGET_US ? 'within' : 'OVER'}` : ''}`);
  }
  registry.dispose();

  const labels = rows.filter((r) => r.batch === 1).map((r) => `${r.backend} ${r.path}`);
  writeResult(
    'inference-latency',
    { bench: 'inference-latency', environment: env, rows, skipped, perFrame: { budgetUs: FRAME_BUDGET_US, horizonMs: 50, predictors: frames, loadAverage1mAfter: loadavg()[0] } },
    barChart({
      title: `head-predictor latency per backend and path (p50, ms; batch 1 vs ${batch})`,
      yLabel: 'ms',
      categories: labels,
      series: [
        { name: 'batch 1 p50', values: labels.map((l) => rows.find((r) => `${r.backend} ${r.path}` === l && r.batch === 1)!.p50) },
        { name: `batch ${batch} p50`, values: labels.map((l) => rows.find((r) => `${r.backend} ${r.path}` === l && r.batch === batch)?.p50 ?? NaN) },
        { name: 'batch 1 p99', values: labels.map((l) => rows.find((r) => `${r.backend} ${r.path}` === l && r.batch === 1)!.p99) },
      ],
    }),
  );
}
