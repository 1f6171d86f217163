/**
 * The predictors every node has, needing no model: `none` (the latest pose, what a headset shows
 * without prediction) and `constant-velocity` (the baseline the learned model must beat).
 */
import { extrapolateConstantVelocity } from '../index.js';
import type { PredictorFactory } from './predictor.js';
import { toHemisphereOf } from './hemisphere.js';

export const noPrediction: PredictorFactory = {
  name: 'none',
  create: () => ({
    predict(history, horizonMs) {
      const latest = history[history.length - 1]!;
      return { ...latest, time: latest.time + horizonMs * 1000 };
    },
  }),
};

export const constantVelocity: PredictorFactory = {
  name: 'constant-velocity',
  create: () => ({
    predict(history, horizonMs) {
      const out = extrapolateConstantVelocity(history, horizonMs);
      // a turn of more than 180° over the horizon would land in the other hemisphere
      toHemisphereOf(out.orientation, history[history.length - 1]!.orientation);
      return out;
    },
  }),
};

export const baselinePredictors: readonly PredictorFactory[] = [constantVelocity, noPrediction];
