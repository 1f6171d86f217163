/**
 * Public face of edge inference: `loadInference()` picks a tfjs backend, loads the models from a
 * local directory and returns the `infer` engine plus every predictor for `predict`;
 * `createDefaultPredictors()` gives the predictors without any model (none, constant velocity,
 * Kalman) and adds `learned` when a head-predictor model is passed.
 */
import type { PredictorFactory } from '../engines.js';
import { loadTfBackend, type BackendName, type TfRuntime } from './backend.js';
import { BUNDLED_MODELS_DIR, ModelRegistry, type RegisteredModel } from './ModelRegistry.js';
import { TfjsInferenceEngine, type TfjsInferenceEngineOptions } from './TfjsInferenceEngine.js';
import { constantVelocity, noPrediction } from '../../protocol/motion/baselinePredictors.js';
import { kalmanPredictor, type KalmanOptions } from '../../protocol/motion/KalmanPredictor.js';
import { learnedPredictor, type LearnedPredictorOptions } from './predictors/LearnedPredictor.js';
import { Logger } from '../../protocol/Logger.js';

/** Startup facts (backend, models, predictors) unless the caller passes its own `log`. */
const logger = new Logger('inference');

export { loadTfBackend, registerBackend, BACKENDS, type BackendName, type TfRuntime } from './backend.js';
export { ModelRegistry, BUNDLED_MODELS_DIR, type RegisteredModel } from './ModelRegistry.js';
export { TfjsInferenceEngine } from './TfjsInferenceEngine.js';
export { MicroBatcher } from './MicroBatcher.js';
export { noPrediction, constantVelocity, kalmanPredictor, learnedPredictor };

/** Name of the shipped learned model (folder under models/). */
export const HEAD_PREDICTOR_MODEL = 'head-predictor';

/**
 * Predictor names, best first; the first one that is available is the default. The rule
 * (bench/motion-accuracy, p95 angular error on held-out participants of both data sets): the
 * default must be no worse than the better of Kalman and constant velocity on every set at 20, 50
 * and 100 ms. Neither baseline can be: Kalman is 1.07–1.13× constant velocity on walking, constant
 * velocity 1.15–1.44× Kalman on seated. The shipped learned model is (seated 20 ms at parity with
 * Kalman, 1.004×; 0.82–0.96× the better baseline elsewhere), so it leads; Kalman, the better
 * baseline in the worst case, is next. Numbers: bench/results/motion-accuracy.json.
 */
export const PREDICTOR_PREFERENCE = ['learned', 'kalman', 'constant-velocity', 'none'] as const;

export interface PredictorOptions {
  kalman?: KalmanOptions;
  learned?: LearnedPredictorOptions;
}

/** Every predictor that can be built, default (best) first. */
export function createDefaultPredictors(headModel?: RegisteredModel, options: PredictorOptions = {}): PredictorFactory[] {
  const all: PredictorFactory[] = [noPrediction, constantVelocity, kalmanPredictor(options.kalman)];
  if (headModel) all.push(learnedPredictor(headModel, { ...(options.kalman ? { kalman: options.kalman } : {}), ...options.learned }));
  const rank = (name: string) => {
    const i = (PREDICTOR_PREFERENCE as readonly string[]).indexOf(name);
    return i < 0 ? PREDICTOR_PREFERENCE.length : i;
  };
  return all.sort((a, b) => rank(a.name) - rank(b.name));
}

export interface LoadInferenceOptions extends TfjsInferenceEngineOptions, PredictorOptions {
  /** [modelDir=BUNDLED_MODELS_DIR] folder of model folders (each with model.json). */
  modelDir?: string;
  /** Backend order; default tensorflow → wasm → cpu (env EDGE_TF_BACKEND forces one). */
  backends?: readonly BackendName[];
  /** [maxModelBytes=64 MiB] */
  maxModelBytes?: number;
  log?: (line: string) => void;
}

export interface LoadedInference {
  readonly runtime: TfRuntime;
  readonly registry: ModelRegistry;
  readonly engine: TfjsInferenceEngine;
  /** Default (best available) first. */
  readonly predictors: PredictorFactory[];
}

export async function loadInference(options: LoadInferenceOptions = {}): Promise<LoadedInference> {
  const log = options.log ?? ((line: string) => logger.info(line));
  const runtime = await loadTfBackend({ ...(options.backends ? { prefer: options.backends } : {}), log });
  const registry = await ModelRegistry.load(runtime.tf, options.modelDir ?? BUNDLED_MODELS_DIR, { log, ...(options.maxModelBytes ? { maxModelBytes: options.maxModelBytes } : {}) });
  const engine = new TfjsInferenceEngine(runtime, registry, options);
  let head = registry.get(HEAD_PREDICTOR_MODEL);
  if (!head) log(`no ${HEAD_PREDICTOR_MODEL} model: the learned predictor is unavailable`);
  let predictors: PredictorFactory[];
  try {
    predictors = createDefaultPredictors(head, options);
  } catch (err) {
    log(`${HEAD_PREDICTOR_MODEL} unusable (${(err as Error).message}); the learned predictor is unavailable`);
    head = undefined;
    predictors = createDefaultPredictors(undefined, options);
  }
  log(`predictors: ${predictors.map((p) => p.name).join(', ')} (default ${predictors[0]!.name})`);
  return { runtime, registry, engine, predictors };
}
export { replayPredictions, ReplayError, type ReplayMessage, type ReplayedPrediction } from '../../protocol/motion/replay.js';
