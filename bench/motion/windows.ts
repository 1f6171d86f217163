/**
 * Turns cleaned traces into (history, horizon, true future) cases: the same cases feed training
 * (features + correction targets) and the accuracy bench (every predictor on identical inputs).
 */
import type { PoseSample } from '../../protocol/index.js';
import { poseAt } from '../../edge-server/inference/motionWindow.js';
import type { Trace } from './cromTraces.js';

export interface MotionCase {
  /** Poses up to and including "now", oldest first (a bounded tail, as a session keeps). */
  readonly history: readonly PoseSample[];
  readonly horizonMs: number;
  /** The recorded pose at now + horizon, interpolated between tracker samples. */
  readonly truth: { position: readonly number[]; orientation: readonly number[] };
}

export interface CaseOptions {
  /** Poses kept as history, like a session's ring buffer. */
  historyLength: number;
  /** Use every n-th sample as "now". */
  stride: number;
  /** Horizons for each anchor: fixed list, or a function (random horizons for training). */
  horizons: readonly number[] | (() => number);
  /** Skip anchors with less than this much history, ms (start of a recording). */
  minHistoryMs: number;
}

export function* motionCases(trace: Trace, options: CaseOptions): Generator<MotionCase> {
  const { poses } = trace;
  const first = poses[0];
  const last = poses[poses.length - 1];
  if (!first || !last) return;
  for (let i = 0; i < poses.length; i += options.stride) {
    const now = poses[i]!;
    if (now.time - first.time < options.minHistoryMs * 1000) continue;
    const horizons = typeof options.horizons === 'function' ? [options.horizons()] : options.horizons;
    const history = poses.slice(Math.max(0, i + 1 - options.historyLength), i + 1);
    for (const horizonMs of horizons) {
      const t = now.time + horizonMs * 1000;
      if (t > last.time) continue;
      let j = i;
      while (poses[j + 1] && poses[j + 1]!.time <= t) j++;
      yield { history, horizonMs, truth: poseAt(poses.slice(j, j + 2), t) };
    }
  }
}

/** Small deterministic PRNG (mulberry32) so training runs repeat: the SDK's, one copy. */
export { seededRandom } from '../../client-sdk/trust/trapStream.js';
