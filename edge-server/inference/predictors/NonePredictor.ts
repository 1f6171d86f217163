/** No prediction: the newest pose, stamped at the requested time. The floor every predictor must beat. */
import type { PoseSample } from '../../../protocol/index.js';
import type { PoseHistory, Predictor, PredictorFactory } from '../../engines.js';
import { latestOf } from './latest.js';

class NonePredictor implements Predictor {
  predict(history: PoseHistory, horizonMs: number): PoseSample {
    const latest = latestOf(history);
    return { device: latest.device, time: latest.time + horizonMs * 1000, position: [...latest.position], orientation: [...latest.orientation] };
  }
}

export const nonePredictor: PredictorFactory = { name: 'none', create: () => new NonePredictor() };
