import type { PoseSample, PredictionFallback } from '../../../protocol/index.js';

/**
 * A predictor's answer: the pose, and when it came from a fallback path, which one. The session
 * copies `fallback` into the `prediction` message (protocol PREDICTION_FALLBACKS) for the client
 * and its metrics.
 */
export type Prediction = PoseSample & { fallback?: PredictionFallback };
