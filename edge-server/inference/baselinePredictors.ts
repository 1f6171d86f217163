/**
 * The predictors every node has, needing no model: `none` (the latest pose, what a headset shows
 * without prediction) and `constant-velocity` (the baseline the learned model must beat).
 */
import { extrapolateConstantVelocity } from '../../protocol/index.js';
import type { PredictorFactory } from '../engines.js';

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
  create: () => ({ predict: extrapolateConstantVelocity }),
};

export const baselinePredictors: readonly PredictorFactory[] = [constantVelocity, noPrediction];
