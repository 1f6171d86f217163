import { ErrorCode, RequestError, type PoseSample } from '../../../protocol/index.js';
import type { PoseHistory } from '../../engines.js';

/** The newest sample; a `predict` before any pose is the client's mistake, not ours. */
export function latestOf(history: PoseHistory): PoseSample {
  const latest = history[history.length - 1];
  if (!latest) throw new RequestError(ErrorCode.BAD_REQUEST, 'no poses received for this device yet; send pose samples before predict');
  return latest;
}
