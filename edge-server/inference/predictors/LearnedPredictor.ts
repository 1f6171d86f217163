/**
 * The learned predictor: an MLP (trained by bench/train-predictor.ts on real head-motion traces)
 * over a resampled window of recent poses in the head frame; it outputs a correction to the
 * constant-velocity delta, applied on the rotation manifold (motionWindow.ts).
 *
 * Hot path: requests from all sessions that arrive in the same event-loop turn are stacked and
 * run as one batch through the model's dense fast path (denseStack.ts) on the tfjs backend.
 * bench/inference-latency.ts and bench/predict-load.ts hold the measurements behind that choice.
 */
import type { PoseSample } from '../../../protocol/index.js';
import type { PoseHistory, Predictor, PredictorFactory } from '../../engines.js';
import { MicroBatcher, type BatchStats } from '../MicroBatcher.js';
import type { RegisteredModel } from '../ModelRegistry.js';
import { DEFAULT_WINDOW_SPEC, OUTPUT_COUNT, decodePrediction, encodeWindow, featureCount, type MotionWindowSpec } from '../motionWindow.js';
import { latestOf } from './latest.js';

export interface LearnedPredictorOptions {
  /** [batchWindowMs=0] see MicroBatcher. */
  batchWindowMs?: number;
  /** [maxBatch=256] */
  maxBatch?: number;
}

export interface LearnedPredictorFactory extends PredictorFactory {
  readonly model: string;
  readonly spec: MotionWindowSpec;
  readonly stats: Readonly<BatchStats>;
}

/** The window spec the model was trained with (model metadata), checked against its input size. */
export function specOf(model: RegisteredModel): MotionWindowSpec {
  const saved = (model.metadata?.spec ?? {}) as Partial<MotionWindowSpec>;
  const spec: MotionWindowSpec = { ...DEFAULT_WINDOW_SPEC, ...saved };
  const width = model.input.shape.reduce((a, b) => a * b, 1);
  if (width !== featureCount(spec) || model.output.shape.reduce((a, b) => a * b, 1) !== OUTPUT_COUNT || model.input.dtype !== 'float32') {
    throw new TypeError(`model ${model.name} does not take motion windows: input [${model.input.shape}] ${model.input.dtype}, output [${model.output.shape}]`);
  }
  return spec;
}

export function learnedPredictor(model: RegisteredModel, options: LearnedPredictorOptions = {}): LearnedPredictorFactory {
  const spec = specOf(model);
  const width = featureCount(spec);
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

  class LearnedPredictor implements Predictor {
    async predict(history: PoseHistory, horizonMs: number): Promise<PoseSample> {
      latestOf(history);
      const features = new Float32Array(width);
      const anchor = encodeWindow(history, horizonMs, features, 0, spec);
      const correction = await batcher.submit(features);
      return decodePrediction(anchor, correction, 0, spec);
    }
  }

  return {
    name: 'learned',
    model: model.name,
    spec,
    get stats() {
      return batcher.stats;
    },
    create: () => new LearnedPredictor(),
  };
}
