/**
 * Trains the learned head-motion predictor on both head-motion data sets — seated (CROM) and
 * walking (EyeNavGS) — and saves it in tfjs layers format into the repo
 * (edge-server/inference/models/head-predictor/). Split by participant within each set: the
 * validation participants (headMotion.ts) never reach training.
 *
 * The model is an MLP over a resampled window of recent poses in the head frame (motionWindow.ts)
 * that predicts a correction to the per-session Kalman filter's prediction (spec.base). No
 * synthetic data. The per-feature range of the training set is saved with the model
 * (`featureBounds`): at run time a window outside it is answered by the filter (`out-of-range`).
 *
 * Reproducible: horizons, anchors, initial weights and the shuffling all come from --seed, so
 * the same data and arguments give the same weights.
 *
 *   npm run train:predictor -- [--data DIR] [--out DIR] [--epochs N] [--hidden N] [--seed N] ...
 */
import { mkdirSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_WINDOW_SPEC, OUTPUT_COUNT, correctionTowards, encodeWindow, featureCount, modelHorizon } from '../edge-server/inference/motionWindow.js';
import { kalmanPredictor } from '../protocol/motion/KalmanPredictor.js';
import { loadTfBackend } from '../edge-server/inference/backend.js';
import { ModelRegistry, constantVelocity, learnedPredictor } from '../edge-server/inference/index.js';
import { compareToBaselines, evaluateAccuracy, printAccuracy } from './motion/accuracy.js';
import { saveModelFiles } from './motion/saveModel.js';
import type { Trace } from './motion/cromTraces.js';
import { DEFAULT_DATA_ROOT, MISSING_DATA_HELP, findDataRoot, loadDataSets, splitSet } from './motion/headMotion.js';
import { motionCases, seededRandom } from './motion/windows.js';

const HELP = `Usage: npm run train:predictor -- [options]
       node dist/bench/train-predictor.js [options]

Trains the learned head-motion predictor (MLP, tfjs-node) on the seated and walking data sets and
saves it in tfjs format.

Options:
  --data DIR            folder holding crom/ and eyenavgs/ (default ${DEFAULT_DATA_ROOT})
  --out DIR             where to save model.json + weights (default edge-server/inference/models/head-predictor)
  --epochs N            training epochs (default 12)
  --hidden N            units per hidden layer (default 96)
  --stride-seated N     every N-th seated sample is an anchor (default 1)
  --stride-walking N    every N-th walking sample is an anchor (default 8)
  --window N            poses in the model's input window, 90 Hz grid (default ${DEFAULT_WINDOW_SPEC.window})
  --seed N              seed for horizons, initial weights and shuffling (default 1)
  --eval-stride N       after saving, evaluate on the validation participants every N-th sample (default 6; 0: skip)
  -h, --help            this text`;

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    out: { type: 'string', default: 'edge-server/inference/models/head-predictor' },
    epochs: { type: 'string', default: '12' },
    hidden: { type: 'string', default: '96' },
    'stride-seated': { type: 'string', default: '1' },
    'stride-walking': { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    'eval-stride': { type: 'string', default: '6' },
    window: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const root = findDataRoot(args.data);
if (!root) {
  console.error(MISSING_DATA_HELP);
  process.exit(2);
}

// tfjs-node when its binding loads (scripts/install-tfjs-node.sh), else wasm/cpu (slower, same result)
const runtime = await loadTfBackend({ log: () => {} });
const tf = runtime.tf;
if (runtime.backend !== 'tensorflow') console.warn(`WARNING: training on the ${runtime.backend} backend; run scripts/install-tfjs-node.sh for tfjs-node`);
const spec = { ...DEFAULT_WINDOW_SPEC, ...(args.window ? { window: Number(args.window) } : {}) };
const F = featureCount(spec);
const seed = Number(args.seed);
const random = seededRandom(seed);
const HISTORY = 32;
const tty = process.stdout.isTTY;

function buildSet(traces: readonly Trace[], stride: number, label: string): { x: Float32Array; y: Float32Array; n: number } {
  let x = new Float32Array(1 << 20);
  let y = new Float32Array(1 << 18);
  let n = 0;
  const fx = new Float32Array(F);
  const fy = new Float32Array(OUTPUT_COUNT);
  for (const trace of traces) {
    // the base filter runs along the whole trace, as it does along a session
    const base = kalmanPredictor().create();
    let fed = 0;
    for (const c of motionCases(trace, { historyLength: HISTORY, stride, minHistoryMs: 150, horizons: () => random() * spec.maxHorizonMs })) {
      const now = c.history[c.history.length - 1]!;
      for (; fed < trace.poses.length && trace.poses[fed]!.time <= now.time; fed++) base.observe(trace.poses[fed]!);
      const basePose = base.predict(c.history, modelHorizon(c.horizonMs, spec));
      // what the session would answer from the filter (reset, stall) is not the model's to learn
      if (basePose.fallback) continue;
      const anchor = encodeWindow(c.history, c.horizonMs, fx, 0, spec, spec.base === 'kalman' ? basePose : undefined);
      correctionTowards(anchor, c.truth, fy, 0, spec);
      if ((n + 1) * F > x.length) {
        const bigger = new Float32Array(x.length * 2);
        bigger.set(x);
        x = bigger;
        const biggerY = new Float32Array(y.length * 2);
        biggerY.set(y);
        y = biggerY;
      }
      x.set(fx, n * F);
      y.set(fy, n * OUTPUT_COUNT);
      n++;
    }
    if (tty) process.stdout.write(`\r${label}: ${trace.name}        `);
  }
  if (tty) process.stdout.write('\n');
  console.log(`${label}: ${n} cases from ${traces.length} runs`);
  return { x: x.subarray(0, n * F), y: y.subarray(0, n * OUTPUT_COUNT), n };
}

function concat(parts: { x: Float32Array; y: Float32Array; n: number }[]): { x: Float32Array; y: Float32Array; n: number } {
  const n = parts.reduce((s, p) => s + p.n, 0);
  const x = new Float32Array(n * F);
  const y = new Float32Array(n * OUTPUT_COUNT);
  let i = 0;
  for (const p of parts) {
    x.set(p.x, i * F);
    y.set(p.y, i * OUTPUT_COUNT);
    i += p.n;
  }
  return { x, y, n };
}

const started = Date.now();
console.log(`data: ${root}\nbackend: ${tf.getBackend()} (tfjs ${tf.version.tfjs}), node ${process.version}`);
const sets = loadDataSets(root, undefined, (name) => tty && process.stdout.write(`\rreading ${name}        `));
if (tty) process.stdout.write('\n');
const strides = { seated: Number(args['stride-seated']), walking: Number(args['stride-walking']) };
const trainParts = [];
const valParts = [];
const trainedOn: Record<string, string[]> = {};
const heldOut: Record<string, string[]> = {};
for (const set of sets) {
  const { train, validation } = splitSet(set);
  trainedOn[set.name] = [...new Set(train.map((t) => t.participant))];
  heldOut[set.name] = [...set.validationParticipants];
  trainParts.push(buildSet(train, strides[set.name], `${set.name} train`));
  valParts.push(buildSet(validation, 8, `${set.name} validation`));
}
const trainSet = concat(trainParts);
const valSet = concat(valParts);

// the range the model saw, per feature: the run-time guard for "outside the training range"
const featureBounds = { min: new Array<number>(F).fill(Infinity), max: new Array<number>(F).fill(-Infinity) };
for (let i = 0; i < trainSet.n; i++) {
  for (let k = 0; k < F; k++) {
    const v = trainSet.x[i * F + k]!;
    if (v < featureBounds.min[k]!) featureBounds.min[k] = v;
    if (v > featureBounds.max[k]!) featureBounds.max[k] = v;
  }
}

const hidden = Number(args.hidden);
const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 1000 + k });
const model = tf.sequential({
  layers: [
    tf.layers.dense({ inputShape: [F], units: hidden, activation: 'relu', name: 'hidden1', kernelInitializer: init(1) }),
    tf.layers.dense({ units: hidden, activation: 'relu', name: 'hidden2', kernelInitializer: init(2) }),
    // starts at zero correction = the Kalman filter's answer, then learns what the filter gets wrong
    tf.layers.dense({ units: OUTPUT_COUNT, kernelInitializer: 'zeros', name: 'correction' }),
  ],
});
model.compile({ optimizer: tf.train.adam(2e-3), loss: tf.losses.huberLoss as never });

const xs = tf.tensor2d(trainSet.x, [trainSet.n, F]);
const ys = tf.tensor2d(trainSet.y, [trainSet.n, OUTPUT_COUNT]);
const xv = tf.tensor2d(valSet.x, [valSet.n, F]);
const yv = tf.tensor2d(valSet.y, [valSet.n, OUTPUT_COUNT]);
const zeroLoss = (tf.losses.huberLoss(yv, tf.zerosLike(yv)) as import('@tensorflow/tfjs').Scalar).dataSync()[0]!;
console.log(`model: ${F} → ${hidden} → ${hidden} → ${OUTPUT_COUNT}, ${model.countParams()} parameters, ${trainSet.n} training cases; validation loss of the filter alone: ${zeroLoss.toFixed(5)}`);

const epochs = Number(args.epochs);
const order = new Int32Array(trainSet.n).map((_, i) => i);
for (let epoch = 0; epoch < epochs; epoch++) {
  // seeded shuffle (tfjs's own is unseeded), so a retrain gives the same weights
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  // step the learning rate down for the last third
  if (epoch === Math.floor((epochs * 2) / 3)) (model.optimizer as unknown as { learningRate: number }).learningRate = 5e-4;
  const index = tf.tensor1d(order, 'int32');
  const xe = tf.gather(xs, index);
  const ye = tf.gather(ys, index);
  const history = await model.fit(xe, ye, { epochs: 1, batchSize: 512, shuffle: false, validationData: [xv, yv], verbose: 0 });
  tf.dispose([index, xe, ye]);
  const loss = history.history.loss?.[0] as number;
  const valLoss = history.history.val_loss?.[0] as number;
  console.log(`epoch ${epoch + 1}/${epochs}: loss ${loss.toFixed(5)} val_loss ${valLoss.toFixed(5)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

model.setUserDefinedMetadata({
  kind: 'edge-offload/head-predictor',
  spec: { ...spec },
  trainedOn,
  validation: heldOut,
  trainCases: trainSet.n,
  seed,
  args: { epochs, hidden, strides },
  featureBounds,
});
const out = resolve(args.out);
mkdirSync(out, { recursive: true });
await model.save(saveModelFiles(tf, out));
console.log(`saved ${out} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
tf.dispose([xs, ys, xv, yv]);
model.dispose();

// the saved model, loaded from disk as a node loads it, through the product's predictor, on the
// validation participants of each set, next to the baselines
if (Number(args['eval-stride']) > 0) {
  const registry = await ModelRegistry.load(tf, resolve(out, '..'), { log: () => {} });
  const predictors = [constantVelocity, kalmanPredictor(), learnedPredictor(registry.get(basename(out))!)];
  const results = await evaluateAccuracy(sets, predictors, Number(args['eval-stride']));
  printAccuracy(results);
  const { qualifies } = compareToBaselines(results);
  console.log(`learned is ${qualifies.learned ? '' : 'NOT '}no worse than the better baseline (p95) on every set and horizon (${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
  registry.dispose();
}
