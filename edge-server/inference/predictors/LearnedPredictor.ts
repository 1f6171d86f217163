/**
 * The learned predictor: an MLP (trained by bench/train-predictor.ts on real head-motion traces)
 * over a resampled window of recent poses in the head frame; it outputs a correction to a base
 * prediction (the Kalman filter's, kept per session, or constant velocity for older models),
 * applied on the rotation manifold (motionWindow.ts).
 *
 * Never catastrophically wrong: the per-session Kalman filter watches for tracking resets and
 * stalls (MotionGuard.ts) and answers itself, marked `fallback: 'reset' | 'stall'`, until the
 * window is regular again; a horizon past the trained one, or a feature outside the range the
 * model saw in training (metadata `featureBounds`), is answered by the filter as `out-of-range`.
 *
 * Hot path (`execution: 'js'`, the default): the model's Dense weights evaluated in JavaScript on
 * the calling thread (denseStack.ts `runJs`: WebAssembly SIMD, ~1.6 µs a row here, ~6 µs as plain JS), no queue, no native call.
 * `execution: 'tfjs'` instead stacks the requests of all sessions that arrive in the same
 * event-loop turn and runs them as one batch of tfjs ops on the backend (~0.2–0.6 ms a batch).
 * bench/inference-latency.ts and bench/predict-load.ts hold the measurements behind the default;
 * env EDGE_LEARNED_EXECUTION picks one for a whole node (the load bench compares them).
 */
import type { PoseSample } from '../../../protocol/index.js';
import type { PoseWindow, Predictor, PredictorFactory } from '../../engines.js';
import { MicroBatcher, type BatchStats } from '../MicroBatcher.js';
import type { RegisteredModel } from '../ModelRegistry.js';
import { DEFAULT_WINDOW_SPEC, LEGACY_WINDOW_SPEC, OUTPUT_COUNT, decodePrediction, encodeWindow, featureCount, modelHorizon, type MotionWindowSpec } from '../motionWindow.js';
import { kalmanPredictor, type KalmanOptions } from '../../../protocol/motion/KalmanPredictor.js';
import type { Prediction } from '../../../protocol/motion/predictor.js';
import { latestOf } from '../../../protocol/motion/latest.js';
import { snapshot } from '../../../protocol/motion/PoseHistory.js';

export type LearnedExecution = 'js' | 'tfjs';

export interface LearnedPredictorOptions {
  /** [execution='js'] see above; env EDGE_LEARNED_EXECUTION overrides. */
  execution?: LearnedExecution;
  /** [batchWindowMs=0] see MicroBatcher. */
  batchWindowMs?: number;
  /** [maxBatch=256] */
  maxBatch?: number;
  /** The per-session Kalman filter (base and fallback), including its reset/stall guard. */
  kalman?: KalmanOptions;
}

export interface LearnedPredictorFactory extends PredictorFactory {
  readonly model: string;
  readonly spec: MotionWindowSpec;
  readonly execution: LearnedExecution;
  readonly stats: Readonly<BatchStats>;
}

/** Per-feature [min, max] over the training set (model metadata `featureBounds`), if saved. */
function featureBoundsOf(model: RegisteredModel, width: number): { min: Float32Array; max: Float32Array } | undefined {
  const saved = model.metadata?.featureBounds as { min?: unknown; max?: unknown } | undefined;
  const ok = (v: unknown): v is number[] => Array.isArray(v) && v.length === width && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!saved || !ok(saved.min) || !ok(saved.max)) return undefined;
  return { min: Float32Array.from(saved.min), max: Float32Array.from(saved.max) };
}

function outside(features: Float32Array, bounds: { min: Float32Array; max: Float32Array }): boolean {
  for (let i = 0; i < features.length; i++) if (!(features[i]! >= bounds.min[i]! && features[i]! <= bounds.max[i]!)) return true;
  return false;
}

/** The window spec the model was trained with (model metadata), checked against its input size. */
export function specOf(model: RegisteredModel): MotionWindowSpec {
  const saved = (model.metadata?.spec ?? {}) as Partial<MotionWindowSpec>;
  const spec: MotionWindowSpec = { ...DEFAULT_WINDOW_SPEC, ...LEGACY_WINDOW_SPEC, ...saved };
  const width = model.input.shape.reduce((a, b) => a * b, 1);
  if (width !== featureCount(spec) || model.output.shape.reduce((a, b) => a * b, 1) !== OUTPUT_COUNT || model.input.dtype !== 'float32') {
    throw new TypeError(`model ${model.name} does not take motion windows: input [${model.input.shape}] ${model.input.dtype}, output [${model.output.shape}]`);
  }
  return spec;
}

export function learnedPredictor(model: RegisteredModel, options: LearnedPredictorOptions = {}): LearnedPredictorFactory {
  const spec = specOf(model);
  const width = featureCount(spec);
  const env = process.env.EDGE_LEARNED_EXECUTION;
  const execution: LearnedExecution = env === 'js' || env === 'tfjs' ? env : (options.execution ?? 'js');
  const dense = model.denseStack;
  if (execution === 'js' && !dense) throw new TypeError(`model ${model.name} is not a Dense stack; use execution 'tfjs'`);
  const batcher = new MicroBatcher<Float32Array, Float32Array>({
    windowMs: options.batchWindowMs ?? 0,
    maxBatch: options.maxBatch ?? 256,
    run(rows) {
      const input = new Float32Array(rows.length * width);
      rows.forEach((r, i) => input.set(r, i * width));
      const out = model.run(input, rows.length) as Float32Array;
      return rows.map((_, i) => out.subarray(i * OUTPUT_COUNT, (i + 1) * OUTPUT_COUNT));
    },
  });

  const kalman = kalmanPredictor(options.kalman);
  const bounds = featureBoundsOf(model, width);
  // the JS path encodes, runs and decodes in one synchronous call: one feature buffer serves all
  const scratch = new Float32Array(width);

  class LearnedPredictor implements Predictor {
    /**
     * Per-session Kalman filter, fed the same samples as the session: the base the model corrects
     * (spec.base `kalman`), and the answer whenever the model must not be trusted.
     */
    readonly #kalman = kalman.create();
    observe(sample: PoseSample): void {
      this.#kalman.observe(sample);
    }
    predict(history: PoseWindow, horizonMs: number): Prediction | Promise<Prediction> {
      latestOf(history);
      // after a tracking reset or a stall the window holds another frame or wrong times: the
      // restarted filter answers (and says so) until the window is regular again
      const base = this.#kalman.predict(history, modelHorizon(horizonMs, spec));
      if (base.fallback) return horizonMs > spec.maxHorizonMs ? this.#kalman.predict(history, horizonMs) : base;
      if (horizonMs > spec.maxHorizonMs) return { ...this.#kalman.predict(history, horizonMs), fallback: 'out-of-range' };
      const features = execution === 'js' ? scratch : new Float32Array(width);
      const anchor = encodeWindow(history, horizonMs, features, 0, spec, spec.base === 'kalman' ? base : undefined);
      // motion the model never saw in training (faster turns, longer steps): it extrapolates
      // wildly there, the filter does not
      if (bounds && outside(features, bounds)) return { ...base, fallback: 'out-of-range' };
      if (execution === 'js') return decodePrediction(anchor, dense!.runJs(features, 1), 0, spec);
      // decoded after the batch runs, when the history's slot may hold a newer pose
      const kept = { ...anchor, latest: snapshot(anchor.latest) };
      return batcher.submit(features).then((correction) => decodePrediction(kept, correction, 0, spec));
    }
  }

  return {
    name: 'learned',
    model: model.name,
    spec,
    execution,
    get stats() {
      return batcher.stats;
    },
    create: () => new LearnedPredictor(),
  };
}
