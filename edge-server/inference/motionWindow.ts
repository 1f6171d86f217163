/**
 * The learned predictor's view of motion: a window of recent poses resampled on a fixed clock and
 * expressed in the newest pose's own frame. Training and serving both go through `encodeWindow`,
 * so the model sees exactly the features at run time that it was trained on.
 *
 * Why the head frame: a turn to the left looks the same whichever way the user faces, so the model
 * learns neck motion rather than room layout. Why resampling: trackers jitter, repeat samples and
 * drop some; a fixed grid makes the input independent of the client's sampling.
 */
import type { PoseSample, Quat, Vec3 } from '../../protocol/index.js';
import { toHemisphereOf } from '../../protocol/motion/hemisphere.js';
import { conjugate, fromRotationVector, multiply, normalize, rotate, rotationVectorBetweenInto, slerp, toRotationVector } from '../../protocol/motion/quaternion.js';

export interface MotionWindowSpec {
  /** Samples in the window, the newest included. */
  readonly window: number;
  /** Spacing of the resampled grid, ms (the 90 Hz of the training traces). */
  readonly stepMs: number;
  /** Velocity for the constant-velocity term is taken over this span, ms. */
  readonly velocitySpanMs: number;
  /** Radians → model units. */
  readonly rotationScale: number;
  /** Metres → model units. */
  readonly positionScale: number;
  /** Horizon ms → model units. */
  readonly horizonScale: number;
  /** Longest horizon trained on; longer requests scale the prediction (documented in LearnedPredictor). */
  readonly maxHorizonMs: number;
  /**
   * What the model corrects: `constant-velocity` (finite difference over velocitySpanMs) or
   * `kalman` (the Kalman predictor with default options, run per session alongside the model).
   */
  readonly base: 'constant-velocity' | 'kalman';
  /**
   * One more input: the newest sample interval (ms / 50, capped at 2). Seated 90 Hz and walking
   * 36–72 Hz headsets differ in how much a window of the same length says; the model sees which.
   */
  readonly rateFeature: boolean;
  /**
   * The model's output is the correction divided by max(h, 10 ms) / 100 ms: what a filter gets
   * wrong grows with the horizon, so short horizons get small corrections (and small noise)
   * instead of the same absolute output as long ones.
   */
  readonly horizonScaledOutput: boolean;
}

export const DEFAULT_WINDOW_SPEC: MotionWindowSpec = Object.freeze({
  window: 6,
  stepMs: 1000 / 90,
  velocitySpanMs: 25,
  rotationScale: 10,
  positionScale: 20,
  horizonScale: 1 / 100,
  maxHorizonMs: 120,
  base: 'kalman',
  rateFeature: true,
  horizonScaledOutput: true,
});

/** What a model saved before an option existed was trained without it. */
export const LEGACY_WINDOW_SPEC: Partial<MotionWindowSpec> = Object.freeze({ base: 'constant-velocity', rateFeature: false, horizonScaledOutput: false });

/** Output units per model unit at `horizonMs` (spec.horizonScaledOutput). */
function outputScale(horizonMs: number, spec: MotionWindowSpec): number {
  return spec.horizonScaledOutput ? Math.max(horizonMs, 10) / 100 : 1;
}

// encodeWindow's per-step scratch (it is synchronous, so calls never share them)
const sample: Quat = [0, 0, 0, 1];
const turn: Vec3 = [0, 0, 0];

/** Model inputs: (window − 1) past steps × (rotation 3 + position 3), horizon, base delta 6. */
export function featureCount(spec: MotionWindowSpec): number {
  return (spec.window - 1) * 6 + 1 + 6 + (spec.rateFeature ? 1 : 0);
}
/** Model outputs: correction to the base delta, rotation 3 + position 3, model units. */
export const OUTPUT_COUNT = 6;

/** Everything needed to turn the model's output back into a pose. */
export interface WindowAnchor {
  readonly latest: PoseSample;
  readonly orientation: Quat;
  /** The base predictor's delta in the head frame: rotation vector (rad) and translation (m). */
  readonly baseRotation: Vec3;
  readonly basePosition: Vec3;
  readonly horizonMs: number;
}

/** Pose at `timeUs` by interpolation inside `history` (oldest first); clamps to the oldest sample. */
export function poseAt(history: readonly PoseSample[], timeUs: number): { position: Vec3; orientation: Quat } {
  for (let j = history.length - 1; j >= 0; j--) {
    const a = history[j]!;
    if (a.time > timeUs) continue;
    const b = history[j + 1];
    if (!b || b.time <= a.time) return { position: a.position as Vec3, orientation: normalize(a.orientation) };
    const t = (timeUs - a.time) / (b.time - a.time);
    return {
      position: [
        a.position[0] + (b.position[0] - a.position[0]) * t,
        a.position[1] + (b.position[1] - a.position[1]) * t,
        a.position[2] + (b.position[2] - a.position[2]) * t,
      ],
      orientation: slerp(normalize(a.orientation), normalize(b.orientation), t),
    };
  }
  const oldest = history[0]!;
  return { position: oldest.position as Vec3, orientation: normalize(oldest.orientation) };
}

/** Rotation (head frame, rad) and translation (head frame, m) from the newest pose to `pose`. */
function relative(q0inv: Quat, p0: readonly number[], pose: { position: Vec3; orientation: Quat }): [Vec3, Vec3] {
  const r = toRotationVector(multiply(q0inv, pose.orientation));
  const d = rotate(q0inv, [pose.position[0] - p0[0]!, pose.position[1] - p0[1]!, pose.position[2] - p0[2]!]);
  return [r, d];
}

/** Horizon the model is asked about (and the base predictor is run at). */
export function modelHorizon(horizonMs: number, spec: MotionWindowSpec = DEFAULT_WINDOW_SPEC): number {
  return Math.min(horizonMs, spec.maxHorizonMs);
}

/**
 * Writes the features of `history` (oldest first, at least one sample) for `horizonMs` into
 * `out` at `offset`, and returns what `decodePrediction` needs. `base` is the base predictor's
 * pose at `modelHorizon(horizonMs)` (spec.base `kalman`); without it, constant velocity is used.
 */
export function encodeWindow(
  history: readonly PoseSample[],
  horizonMs: number,
  out: Float32Array,
  offset: number,
  spec: MotionWindowSpec = DEFAULT_WINDOW_SPEC,
  base?: { position: readonly number[]; orientation: readonly number[] },
): WindowAnchor {
  const latest = history[history.length - 1];
  if (!latest) throw new RangeError('history is empty');
  const q0 = normalize(latest.orientation);
  const q0inv = conjugate(q0);
  const { rotationScale: rs, positionScale: ps } = spec;
  let o = offset;
  // The hot loop of the learned predictor (once per predict per past step), in scalars and
  // in-place helpers: no arrays allocated. Same math as poseAt + relative, except that neighbouring
  // samples are interpolated by nlerp instead of slerp (they are < 3° apart at 90 Hz, where the
  // two differ by < 1e-6 rad).
  const ix = q0inv[0], iy = q0inv[1], iz = q0inv[2], iw = q0inv[3];
  const px = latest.position[0], py = latest.position[1], pz = latest.position[2];
  let j = history.length - 1;
  for (let k = 1; k < spec.window; k++) {
    const t = latest.time - k * spec.stepMs * 1000;
    while (j > 0 && history[j]!.time > t) j--;
    const a = history[j]!;
    const b = history[j + 1];
    let qx: number, qy: number, qz: number, qw: number, x: number, y: number, z: number;
    if (a.time > t || !b || b.time <= a.time) {
      // before the oldest sample (clamped) or exactly on one
      qx = a.orientation[0];
      qy = a.orientation[1];
      qz = a.orientation[2];
      qw = a.orientation[3];
      x = a.position[0];
      y = a.position[1];
      z = a.position[2];
    } else {
      const f = (t - a.time) / (b.time - a.time);
      const ax = a.orientation[0], ay = a.orientation[1], az = a.orientation[2], aw = a.orientation[3];
      // the nearer of b and −b (one rotation), so the blend takes the short way
      const sb = ax * b.orientation[0] + ay * b.orientation[1] + az * b.orientation[2] + aw * b.orientation[3] < 0 ? -1 : 1;
      qx = ax + (sb * b.orientation[0] - ax) * f;
      qy = ay + (sb * b.orientation[1] - ay) * f;
      qz = az + (sb * b.orientation[2] - az) * f;
      qw = aw + (sb * b.orientation[3] - aw) * f;
      x = a.position[0] + (b.position[0] - a.position[0]) * f;
      y = a.position[1] + (b.position[1] - a.position[1]) * f;
      z = a.position[2] + (b.position[2] - a.position[2]) * f;
    }
    const n = Math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw) || 1;
    sample[0] = qx / n;
    sample[1] = qy / n;
    sample[2] = qz / n;
    sample[3] = qw / n;
    const r = rotationVectorBetweenInto(q0, sample, turn); // log(q0⁻¹ ⊗ q), the short way round
    out[o++] = r[0] * rs;
    out[o++] = r[1] * rs;
    out[o++] = r[2] * rs;
    // d = q0⁻¹ · (p − p0) · q0: v + 2w(u×v) + 2u×(u×v) with u = (ix, iy, iz), w = iw
    const vx = x - px;
    const vy = y - py;
    const vz = z - pz;
    const cx = iy * vz - iz * vy;
    const cy = iz * vx - ix * vz;
    const cz = ix * vy - iy * vx;
    out[o++] = (vx + 2 * (iw * cx + iy * cz - iz * cy)) * ps;
    out[o++] = (vy + 2 * (iw * cy + iz * cx - ix * cz)) * ps;
    out[o++] = (vz + 2 * (iw * cz + ix * cy - iy * cx)) * ps;
  }
  const h = modelHorizon(horizonMs, spec);
  out[o++] = h * spec.horizonScale;
  // The base prediction in the head frame is the part of the answer the model does not have to
  // learn; it predicts the correction (deceleration, reversals at range ends).
  let baseRotation: Vec3;
  let basePosition: Vec3;
  if (base) {
    [baseRotation, basePosition] = relative(q0inv, latest.position, { position: base.position as Vec3, orientation: normalize(base.orientation) });
  } else {
    const [rb, db] = relative(q0inv, latest.position, poseAt(history, latest.time - spec.velocitySpanMs * 1000));
    const span = history[0]!.time < latest.time ? Math.min(spec.velocitySpanMs, (latest.time - history[0]!.time) / 1000) : 0;
    const f = span > 0 ? -h / span : 0; // rb points backwards in time
    baseRotation = [rb[0] * f, rb[1] * f, rb[2] * f];
    basePosition = [db[0] * f, db[1] * f, db[2] * f];
  }
  out[o++] = baseRotation[0] * rs;
  out[o++] = baseRotation[1] * rs;
  out[o++] = baseRotation[2] * rs;
  out[o++] = basePosition[0] * ps;
  out[o++] = basePosition[1] * ps;
  out[o++] = basePosition[2] * ps;
  if (spec.rateFeature) {
    const previous = history[history.length - 2];
    out[o++] = previous ? Math.min((latest.time - previous.time) / 50_000, 2) : 0.4;
  }
  return { latest, orientation: q0, baseRotation, basePosition, horizonMs };
}

/**
 * The model's correction (head frame, model units) applied on top of the base delta,
 * on the manifold: q = q0 ⊗ exp(δθ), p = p0 + R(q0)·δp. Horizons past `maxHorizonMs` scale the
 * delta linearly (the model was not trained that far).
 */
export function decodePrediction(anchor: WindowAnchor, output: ArrayLike<number>, offset: number, spec: MotionWindowSpec = DEFAULT_WINDOW_SPEC): PoseSample {
  const scale = anchor.horizonMs / modelHorizon(anchor.horizonMs, spec) || 1;
  const k = outputScale(modelHorizon(anchor.horizonMs, spec), spec);
  const rs = k / spec.rotationScale;
  const ps = k / spec.positionScale;
  const rot: Vec3 = [
    (anchor.baseRotation[0] + output[offset]! * rs) * scale,
    (anchor.baseRotation[1] + output[offset + 1]! * rs) * scale,
    (anchor.baseRotation[2] + output[offset + 2]! * rs) * scale,
  ];
  const local: Vec3 = [
    (anchor.basePosition[0] + output[offset + 3]! * ps) * scale,
    (anchor.basePosition[1] + output[offset + 4]! * ps) * scale,
    (anchor.basePosition[2] + output[offset + 5]! * ps) * scale,
  ];
  const d = rotate(anchor.orientation, local);
  const p = anchor.latest.position;
  return {
    device: anchor.latest.device,
    time: anchor.latest.time + anchor.horizonMs * 1000,
    position: [p[0] + d[0], p[1] + d[1], p[2] + d[2]],
    // q0 is the newest sample (normalised, same sign): a correction past 180° must not flip the answer
    orientation: toHemisphereOf(normalize(multiply(anchor.orientation, fromRotationVector(rot))), anchor.orientation),
  };
}

/** Inverse of `decodePrediction` for training: the correction that reaches `target` exactly. */
export function correctionTowards(anchor: WindowAnchor, target: { position: readonly number[]; orientation: readonly number[] }, out: Float32Array, offset: number, spec: MotionWindowSpec = DEFAULT_WINDOW_SPEC): void {
  const q0inv = conjugate(anchor.orientation);
  const [r, d] = relative(q0inv, anchor.latest.position, { position: target.position as Vec3, orientation: normalize(target.orientation) });
  const k = outputScale(modelHorizon(anchor.horizonMs, spec), spec);
  for (let i = 0; i < 3; i++) {
    out[offset + i] = ((r[i]! - anchor.baseRotation[i]!) * spec.rotationScale) / k;
    out[offset + 3 + i] = ((d[i]! - anchor.basePosition[i]!) * spec.positionScale) / k;
  }
}
