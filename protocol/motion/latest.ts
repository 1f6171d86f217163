import { ErrorCode, RequestError, type PoseSample } from '../index.js';
import type { PoseWindow } from './predictor.js';

/** The newest sample; a `predict` before any pose is the client's mistake, not ours. */
export function latestOf(history: PoseWindow): PoseSample {
  const latest = history[history.length - 1];
  if (!latest) throw new RequestError(ErrorCode.BAD_REQUEST, 'no poses received for this device yet; send pose samples before predict');
  return latest;
}
