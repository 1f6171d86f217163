/**
 * The predictor contract: what an edge node runs for `predict`, and what a trap verifier (SDK)
 * and discovery's evidence check recompute with. It lives in protocol/ because all three products
 * must run the very same deterministic code for an honest node's answer to match the reference.
 */
import type { PoseSample, PredictionFallback } from '../index.js';

/**
 * A predictor's answer: the pose, and when it came from a fallback path, which one. The session
 * copies `fallback` into the `prediction` message (protocol PREDICTION_FALLBACKS) for the client
 * and its metrics.
 */
export type Prediction = PoseSample & { fallback?: PredictionFallback };

/**
 * Recent poses of one device, oldest first, duplicates (same time) already dropped. The samples
 * are slots the session reuses (PoseHistory.ts): read them during the call; copy what a predictor
 * keeps past it (an answer computed later, a stored sample) with `snapshot`.
 */
export type PoseWindow = readonly PoseSample[];

/** One predictor instance per session and device: stateful filters keep their state here. */
export interface Predictor {
  /** Called for every new sample, before any `predict`, in time order. */
  observe?(sample: PoseSample): void;
  /** The pose `horizonMs` ahead; `fallback` set when a guard answered instead of the model. */
  predict(history: PoseWindow, horizonMs: number): Prediction | Promise<Prediction>;
  close?(): void;
}

export interface PredictorFactory {
  /** Stable name clients select it by (`none`, `constant-velocity`, `kalman`, `learned`…). */
  readonly name: string;
  create(): Predictor;
}
