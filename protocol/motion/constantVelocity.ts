/**
 * Constant-velocity extrapolation: the baseline every predictor is measured against, and what
 * the client answers with locally while no node does. Shared by edge and SDK so both give the
 * same answer for the same history.
 */
import type { PoseSample, Vec3 } from '../messages.js';
import { angularVelocity, integrate, normalize } from './quaternion.js';

/** How far back velocities are estimated from, µs: long enough to average out tracker noise. */
const VELOCITY_WINDOW_US = 25_000;

/**
 * Predicts the pose `horizonMs` after the latest sample in `history` (oldest first, one device).
 * Uses reported velocities when present, else finite differences over ~25 ms.
 */
export function extrapolateConstantVelocity(history: readonly PoseSample[], horizonMs: number): PoseSample {
  const latest = history[history.length - 1];
  if (!latest) throw new RangeError('history is empty');
  const { linear, angular } = estimateVelocity(history);
  const dt = horizonMs / 1000;
  const position: Vec3 = [latest.position[0] + linear[0] * dt, latest.position[1] + linear[1] * dt, latest.position[2] + linear[2] * dt];
  return {
    device: latest.device,
    time: latest.time + horizonMs * 1000,
    position,
    orientation: integrate(normalize(latest.orientation), angular, dt),
    linearVelocity: linear,
    angularVelocity: angular,
  };
}

export function estimateVelocity(history: readonly PoseSample[]): { linear: Vec3; angular: Vec3 } {
  const latest = history[history.length - 1]!;
  if (latest.linearVelocity && latest.angularVelocity) {
    return { linear: latest.linearVelocity as Vec3, angular: latest.angularVelocity as Vec3 };
  }
  // the oldest sample inside the window, but at least the previous one
  let base: PoseSample | undefined;
  for (let i = history.length - 2; i >= 0; i--) {
    const sample = history[i]!;
    if (sample.time >= latest.time) continue; // duplicate timestamps carry no motion information
    base = sample;
    if (latest.time - sample.time >= VELOCITY_WINDOW_US) break;
  }
  if (!base) return { linear: [0, 0, 0], angular: [0, 0, 0] };
  const dt = (latest.time - base.time) / 1e6;
  return {
    linear: latest.linearVelocity
      ? (latest.linearVelocity as Vec3)
      : [(latest.position[0] - base.position[0]) / dt, (latest.position[1] - base.position[1]) / dt, (latest.position[2] - base.position[2]) / dt],
    angular: latest.angularVelocity
      ? (latest.angularVelocity as Vec3)
      : angularVelocity(normalize(base.orientation), normalize(latest.orientation), dt),
  };
}
