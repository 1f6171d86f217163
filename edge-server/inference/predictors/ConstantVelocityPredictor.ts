/** Constant-velocity extrapolation, shared with the client SDK's local fallback (protocol/motion). */
import { extrapolateConstantVelocity, type PoseSample } from '../../../protocol/index.js';
import type { PoseHistory, Predictor, PredictorFactory } from '../../engines.js';
import { latestOf } from './latest.js';

class ConstantVelocityPredictor implements Predictor {
  predict(history: PoseHistory, horizonMs: number): PoseSample {
    latestOf(history);
    return extrapolateConstantVelocity(history, horizonMs);
  }
}

export const constantVelocityPredictor: PredictorFactory = { name: 'constant-velocity', create: () => new ConstantVelocityPredictor() };
