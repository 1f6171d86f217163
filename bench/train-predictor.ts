/**
 * Trains the learned head-motion predictor on the CROM traces and saves it in tfjs layers format
 * into the repo (edge-server/inference/models/head-predictor/). Split by participant: the
 * validation participants (cromTraces.VALIDATION_PARTICIPANTS) never reach training.
 *
 * Cleaning (cromTraces.ts): headset rows only, marker and duplicate rows dropped, and the runs whose
 * CSV export lost the quaternion (decimal commas) set aside: 15 of the 30 runs remain, covering 14
 * participants. The model is an MLP over a resampled window of recent poses in the head frame (motionWindow.ts)
 * that predicts a correction to the Kalman filter's prediction (spec.base). No synthetic data is used: the real
 * traces give ~180k anchors, enough for a model this size.
 *
 *   node dist/bench/train-predictor.js [--data DIR] [--out DIR] [--epochs 10] [--hidden 64] [--stride 1] [--window 6] [--seed 1]
 * The shipped model is these defaults (~35 s on 2 cores). tfjs shuffles with its own unseeded
 * RNG, so retraining gives a close, not bit-identical, model.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_WINDOW_SPEC, OUTPUT_COUNT, correctionTowards, encodeWindow, featureCount, modelHorizon } from '../edge-server/inference/motionWindow.js';
import { kalmanPredictor } from '../edge-server/inference/predictors/KalmanPredictor.js';
import { loadTfBackend } from '../edge-server/inference/backend.js';
import { saveModelFiles } from './motion/saveModel.js';
import type { PoseSample } from '../protocol/index.js';
import { MISSING_TRACES_HELP, VALIDATION_PARTICIPANTS, findTraceDir, loadTraces, splitByParticipant, type Trace } from './motion/cromTraces.js';
import { motionCases, seededRandom } from './motion/windows.js';

const HELP = `Usage: node dist/bench/train-predictor.js [options]

Trains the learned head-motion predictor (MLP, tfjs-node) and saves it in tfjs format.

Options:
  --data DIR     folder of CROM traces (sNN_tK.csv.gz); default ../shared/data/head-motion when present
  --out DIR      where to save model.json + weights (default edge-server/inference/models/head-predictor)
  --epochs N     training epochs (default 10)
  --hidden N     units per hidden layer (default 64)
  --stride N     use every N-th tracker sample as an anchor (default 1)
  --window N     poses in the model's input window, 90 Hz grid (default ${DEFAULT_WINDOW_SPEC.window})
  --seed N       seed for horizons and shuffling (default 1)
  -h, --help     this text

Validation participants (${VALIDATION_PARTICIPANTS.join(', ')}) are held out from training.`;

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    out: { type: 'string', default: 'edge-server/inference/models/head-predictor' },
    epochs: { type: 'string', default: '10' },
    hidden: { type: 'string', default: '64' },
    stride: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    window: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const dir = findTraceDir(args.data);
if (!dir) {
  console.error(MISSING_TRACES_HELP);
  process.exit(2);
}

// tfjs-node when its binding loads (scripts/install-tfjs-node.sh), else wasm/cpu (slower, same result)
const runtime = await loadTfBackend({ log: () => {} });
const tf = runtime.tf;
if (runtime.backend !== 'tensorflow') console.warn(`WARNING: training on the ${runtime.backend} backend; run scripts/install-tfjs-node.sh for tfjs-node`);
const spec = { ...DEFAULT_WINDOW_SPEC, ...(args.window ? { window: Number(args.window) } : {}) };
const F = featureCount(spec);
const random = seededRandom(Number(args.seed));
const HISTORY = 32;

function buildSet(traces: readonly Trace[], stride: number, label: string): { x: Float32Array; y: Float32Array; n: number } {
  const rows: { x: Float32Array; y: Float32Array }[] = [];
  for (const trace of traces) {
    const x: number[] = [];
    const y: number[] = [];
    const fx = new Float32Array(F);
    const fy = new Float32Array(OUTPUT_COUNT);
    // the base filter runs along the whole trace, as it does along a session
    const base = spec.base === 'kalman' ? kalmanPredictor().create() : undefined;
    let fed = 0;
    for (const c of motionCases(trace, { historyLength: HISTORY, stride, minHistoryMs: 150, horizons: () => random() * spec.maxHorizonMs })) {
      const now = c.history[c.history.length - 1]!;
      for (; base && fed < trace.poses.length && trace.poses[fed]!.time <= now.time; fed++) base.observe?.(trace.poses[fed]!);
      const basePose = base?.predict(c.history, modelHorizon(c.horizonMs, spec)) as PoseSample | undefined;
      const anchor = encodeWindow(c.history, c.horizonMs, fx, 0, spec, basePose);
      correctionTowards(anchor, c.truth, fy, 0, spec);
      x.push(...fx);
      y.push(...fy);
    }
    rows.push({ x: Float32Array.from(x), y: Float32Array.from(y) });
    process.stdout.write(`\r${label}: ${trace.name} (${trace.poses.length} poses, dropped ${trace.dropped.duplicate} duplicate + ${trace.dropped.trigger} trigger rows)   `);
  }
  const n = rows.reduce((s, r) => s + r.y.length / OUTPUT_COUNT, 0);
  const x = new Float32Array(n * F);
  const y = new Float32Array(n * OUTPUT_COUNT);
  let i = 0;
  for (const r of rows) {
    x.set(r.x, i * F);
    y.set(r.y, i * OUTPUT_COUNT);
    i += r.y.length / OUTPUT_COUNT;
  }
  process.stdout.write(`\n${label}: ${n} cases\n`);
  return { x, y, n };
}

const started = Date.now();
console.log(`traces: ${dir}\nbackend: ${tf.getBackend()} (tfjs ${tf.version.tfjs}), node ${process.version}`);
const all = loadTraces(dir, (name) => process.stdout.write(`\rreading ${name}   `));
process.stdout.write('\n');
const traces = all.filter((t) => t.usable);
const skipped = all.filter((t) => !t.usable).map((t) => t.name);
if (skipped.length) console.log(`skipped ${skipped.length} runs whose export lost the quaternion columns (decimal commas): ${skipped.join(' ')}`);
const { train, validation } = splitByParticipant(traces);
const trainSet = buildSet(train, Number(args.stride), 'train');
const valSet = buildSet(validation, 8, 'validation');

const hidden = Number(args.hidden);
const model = tf.sequential({
  layers: [
    tf.layers.dense({ inputShape: [F], units: hidden, activation: 'relu', name: 'hidden1' }),
    tf.layers.dense({ units: hidden, activation: 'relu', name: 'hidden2' }),
    // starts at zero correction = constant velocity, then learns what CV gets wrong
    tf.layers.dense({ units: OUTPUT_COUNT, kernelInitializer: 'zeros', name: 'correction' }),
  ],
});
model.compile({ optimizer: tf.train.adam(2e-3), loss: tf.losses.huberLoss as never });

const xs = tf.tensor2d(trainSet.x, [trainSet.n, F]);
const ys = tf.tensor2d(trainSet.y, [trainSet.n, OUTPUT_COUNT]);
const xv = tf.tensor2d(valSet.x, [valSet.n, F]);
const yv = tf.tensor2d(valSet.y, [valSet.n, OUTPUT_COUNT]);
const zeroLoss = (tf.losses.huberLoss(yv, tf.zerosLike(yv)) as import('@tensorflow/tfjs').Scalar).dataSync()[0]!;
console.log(`model: ${F} → ${hidden} → ${hidden} → ${OUTPUT_COUNT}, ${model.countParams()} parameters; validation loss of the base predictor alone: ${zeroLoss.toFixed(5)}`);

const epochs = Number(args.epochs);
await model.fit(xs, ys, {
  epochs,
  batchSize: 512,
  shuffle: true,
  validationData: [xv, yv],
  verbose: 0,
  callbacks: {
    onEpochBegin: async (epoch: number) => {
      // step the learning rate down for the last third
      if (epoch === Math.floor((epochs * 2) / 3)) (model.optimizer as unknown as { learningRate: number }).learningRate = 5e-4;
    },
    onEpochEnd: async (epoch: number, logs?: import('@tensorflow/tfjs').Logs) => {
      console.log(`epoch ${epoch + 1}/${epochs}: loss ${logs?.loss?.toFixed(5)} val_loss ${logs?.val_loss?.toFixed(5)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    },
  },
});

model.setUserDefinedMetadata({
  kind: 'edge-offload/head-predictor',
  spec: { ...spec },
  trainedOn: [...new Set(train.map((t) => t.participant))],
  validation: [...new Set(validation.map((t) => t.participant))],
  trainCases: trainSet.n,
  runs: traces.map((t) => t.name),
});
const out = resolve(args.out);
mkdirSync(out, { recursive: true });
await model.save(saveModelFiles(tf, out));
console.log(`saved ${out} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
