/**
 * The learned predictor: an MLP (trained by bench/train-predictor.ts on real head-motion traces)
 * over a resampled window of recent poses in the head frame; it outputs a correction to a base
 * prediction (the Kalman filter's, kept per session, or constant velocity for older models),
 * applied on the rotation manifold (motionWindow.ts).
 *
 * Hot path (`execution: 'js'`, the default): the model's Dense weights evaluated in JavaScript on
 * the calling thread (denseStack.ts `runJs`, ~5–10 µs a row here), no queue, no native call.
 * `execution: 'tfjs'` instead stacks the requests of all sessions that arrive in the same
 * event-loop turn and runs them as one batch of tfjs ops on the backend (~0.2–0.6 ms a batch).
 * bench/inference-latency.ts and bench/predict-load.ts hold the measurements behind the default;
 * env EDGE_LEARNED_EXECUTION picks one for a whole node (the load bench compares them).
 */
import type { PoseSample } from '../../../protocol/index.js';
import type { PoseHistory, Predictor, PredictorFactory } from '../../engines.js';
import { MicroBatcher, type BatchStats } from '../MicroBatcher.js';
import type { RegisteredModel } from '../ModelRegistry.js';
import { DEFAULT_WINDOW_SPEC, OUTPUT_COUNT, decodePrediction, encodeWindow, featureCount, modelHorizon, type MotionWindowSpec } from '../motionWindow.js';
import { kalmanPredictor } from './KalmanPredictor.js';
import { latestOf } from './latest.js';
import { snapshot } from '../../PoseHistory.js';

export type LearnedExecution = 'js' | 'tfjs';

export interface LearnedPredictorOptions {
  /** [execution='js'] see above; env EDGE_LEARNED_EXECUTION overrides. */
  execution?: LearnedExecution;
  /** [batchWindowMs=0] see MicroBatcher. */
  batchWindowMs?: number;
  /** [maxBatch=256] */
  maxBatch?: number;
}

export interface LearnedPredictorFactory extends PredictorFactory {
  readonly model: string;
  readonly spec: MotionWindowSpec;
  readonly execution: LearnedExecution;
  readonly stats: Readonly<BatchStats>;
}

/** The window spec the model was trained with (model metadata), checked against its input size. */
export function specOf(model: RegisteredModel): MotionWindowSpec {
  const saved = (model.metadata?.spec ?? {}) as Partial<MotionWindowSpec>;
  // models saved before `base` existed corrected constant velocity
  const spec: MotionWindowSpec = { ...DEFAULT_WINDOW_SPEC, base: 'constant-velocity', ...saved };
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

  const kalman = spec.base === 'kalman' ? kalmanPredictor() : undefined;
  // the JS path encodes, runs and decodes in one synchronous call: one feature buffer serves all
  const scratch = new Float32Array(width);

  class LearnedPredictor implements Predictor {
    /** Per-session base filter (spec.base `kalman`), fed the same samples as the session. */
    readonly #base = kalman?.create();
    observe(sample: PoseSample): void {
      this.#base?.observe?.(sample);
    }
    predict(history: PoseHistory, horizonMs: number): PoseSample | Promise<PoseSample> {
      latestOf(history);
      const features = execution === 'js' ? scratch : new Float32Array(width);
      const base = this.#base?.predict(history, modelHorizon(horizonMs, spec)) as PoseSample | undefined;
      const anchor = encodeWindow(history, horizonMs, features, 0, spec, base);
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
