/**
 * Kalman filter over position and orientation, constant-velocity motion model driven by white
 * acceleration noise.
 *
 * Position: per axis, state [p, v].
 * Orientation: error-state filter on the manifold. The nominal orientation q and body-frame angular
 * velocity ω are propagated as q ← q ⊗ exp(ω·dt); the filter estimates a small body-frame error δθ
 * (3-vector) and ω, updates from the innovation z = log(q⁻¹ ⊗ q_measured), then folds δθ back
 * into q (q ← q ⊗ exp(δθ)) and resets it. Never per-component on the quaternion.
 * The three axes are filtered independently, dropping the ω×δθ coupling term, which is second
 * order at tracker rates (≤ 0.05 rad of turn between samples).
 *
 * Defaults: bench/tune-kalman.ts grid-searched the noise settings on the training participants;
 * 50 ms p95 angular error moved by < 4% across a 64× range of rotationNoise, so the defaults
 * are round values inside the flat region.
 *
 * The filter follows `observe()`, and also catches up from `history` inside `predict()`, so it
 * gives the same answer whether or not the session feeds it every sample.
 */
import type { PoseSample, PredictionFallback, Quat, Vec3 } from '../index.js';
import { applyRotationVectorInto, normalizeInto, rotate, rotationVectorBetweenInto } from './quaternion.js';
import type { PoseWindow, Predictor, PredictorFactory } from './predictor.js';
import { latestOf } from './latest.js';
import { toHemisphereOf } from './hemisphere.js';
import { MotionGuard, resolveGuardOptions, type MotionGuardOptions } from './MotionGuard.js';
import type { Prediction } from './predictor.js';

export interface KalmanOptions {
  /** [positionNoise=4] white-acceleration spectral density for position, m²/s³. */
  positionNoise?: number;
  /** [rotationNoise=400] white angular-acceleration spectral density, rad²/s³. */
  rotationNoise?: number;
  /** [positionMeasurementStd=0.0005] tracker position noise, m. */
  positionMeasurementStd?: number;
  /** [rotationMeasurementStd=0.002] tracker orientation noise, rad. */
  rotationMeasurementStd?: number;
  /** [resetGapMs=500] a gap longer than this (tracking lost) restarts the filter from rest. */
  resetGapMs?: number;
  /** Tracking resets and stalls (MotionGuard.ts): the filter restarts and its answers say so. */
  guard?: MotionGuardOptions;
}

/** 2-state [value, rate] filter for one axis. */
class AxisFilter {
  x = 0;
  v = 0;
  p00: number;
  p01 = 0;
  p11: number;
  constructor(measurementVar: number, rateVar: number) {
    this.p00 = measurementVar;
    this.p11 = rateVar;
  }
  /** Covariance propagation only (the caller moves the nominal state). */
  propagate(dt: number, q: number): void {
    const p00 = this.p00, p01 = this.p01, p11 = this.p11;
    this.p00 = p00 + 2 * dt * p01 + dt * dt * p11 + (q * dt * dt * dt) / 3;
    this.p01 = p01 + dt * p11 + (q * dt * dt) / 2;
    this.p11 = p11 + q * dt;
  }
  /** Measurement of the value with innovation `z`; returns the value correction. */
  update(z: number, r: number): number {
    const s = this.p00 + r;
    const k0 = this.p00 / s;
    const k1 = this.p01 / s;
    const p00 = this.p00, p01 = this.p01, p11 = this.p11;
    this.p00 = (1 - k0) * p00;
    this.p01 = (1 - k0) * p01;
    this.p11 = p11 - k1 * p01;
    this.v += k1 * z;
    return k0 * z;
  }
}

type ResolvedKalmanOptions = Required<Omit<KalmanOptions, 'guard'>> & { guard: Required<MotionGuardOptions> };
const ZERO: Readonly<Vec3> = [0, 0, 0];

export class KalmanPredictor implements Predictor {
  readonly #o: ResolvedKalmanOptions;
  #time = -Infinity;
  #device: PoseSample['device'] = 'head';
  #pos: AxisFilter[] = [];
  #rot: AxisFilter[] = [];
  /** Nominal orientation, updated in place (no arrays per sample: this runs at the tracker rate). */
  readonly #q: Quat = [0, 0, 0, 1];
  readonly #measured: Quat = [0, 0, 0, 1];
  readonly #innovation: Vec3 = [0, 0, 0];
  readonly #seedLinear: Vec3 = [0, 0, 0];
  readonly #seedAngular: Vec3 = [0, 0, 0];
  readonly #guard: MotionGuard;

  constructor(options: ResolvedKalmanOptions) {
    this.#o = options;
    this.#guard = new MotionGuard(options.guard);
  }

  observe(sample: PoseSample): void {
    if (sample.time <= this.#time) return; // duplicates and reordering carry nothing new
    const o = this.#o;
    const q = sample.orientation;
    const measured = normalizeInto(q[0], q[1], q[2], q[3], this.#measured);
    const dt = (sample.time - this.#time) / 1e6;
    const event = this.#guard.observe(sample);
    if (!this.#pos.length || dt * 1000 > o.resetGapMs) {
      this.#restartPosition(sample, ZERO);
      this.#restartOrientation(measured, ZERO);
    } else if (event === 'stall') {
      // the queued poses of a stall carry wrong times: start again from the average motion over
      // the whole stall (anchor → now), which has the true total time
      this.#guard.velocitySinceAnchor(sample, this.#seedLinear, this.#seedAngular);
      this.#restartPosition(sample, this.#seedLinear);
      this.#restartOrientation(measured, this.#seedAngular);
    } else {
      // a reset (re-localised tracker) restarts what jumped: the old position and its velocity
      // belong to another frame; a continuous orientation keeps its state
      const guard = this.#guard;
      if (event === 'reset' && guard.positionJumped) this.#restartPosition(sample, ZERO);
      else this.#updatePosition(sample, dt);
      if (event === 'reset' && guard.orientationJumped) this.#restartOrientation(measured, ZERO);
      else this.#updateOrientation(measured, dt);
    }
    this.#time = sample.time;
    this.#device = sample.device;
  }

  #updatePosition(sample: PoseSample, dt: number): void {
    const rp = this.#o.positionMeasurementStd ** 2;
    for (let i = 0; i < 3; i++) {
      const f = this.#pos[i]!;
      f.x += f.v * dt;
      f.propagate(dt, this.#o.positionNoise);
      f.x += f.update(sample.position[i]! - f.x, rp);
    }
  }

  #updateOrientation(measured: Quat, dt: number): void {
    const rr = this.#o.rotationMeasurementStd ** 2;
    const rx = this.#rot[0]!, ry = this.#rot[1]!, rz = this.#rot[2]!;
    applyRotationVectorInto(this.#q, rx.v * dt, ry.v * dt, rz.v * dt, this.#q);
    const z = rotationVectorBetweenInto(this.#q, measured, this.#innovation);
    rx.propagate(dt, this.#o.rotationNoise);
    ry.propagate(dt, this.#o.rotationNoise);
    rz.propagate(dt, this.#o.rotationNoise);
    const cx = rx.update(z[0], rr);
    const cy = ry.update(z[1], rr);
    const cz = rz.update(z[2], rr);
    applyRotationVectorInto(this.#q, cx, cy, cz, this.#q);
  }

  #restartPosition(sample: PoseSample, velocity: Readonly<Vec3>): void {
    const rp = this.#o.positionMeasurementStd ** 2;
    this.#pos = [0, 1, 2].map((i) => Object.assign(new AxisFilter(rp, 1), { x: sample.position[i]!, v: velocity[i]! }));
  }

  #restartOrientation(measured: Quat, angularVelocity: Readonly<Vec3>): void {
    const rr = this.#o.rotationMeasurementStd ** 2;
    this.#rot = [0, 1, 2].map((i) => Object.assign(new AxisFilter(rr, 10), { v: angularVelocity[i]! }));
    for (let i = 0; i < 4; i++) this.#q[i] = measured[i]!;
  }

  /** The fallback the answers for the newest sample are marked with (MotionGuard), if any. */
  get fallback(): PredictionFallback | undefined {
    return this.#guard.fallbackAt(this.#time);
  }

  get guardCounts(): Readonly<{ reset: number; stall: number }> {
    return this.#guard.counts;
  }

  predict(history: PoseWindow, horizonMs: number): Prediction {
    const latest = latestOf(history);
    if (latest.time > this.#time) for (const s of history) if (s.time > this.#time) this.observe(s);
    const h = horizonMs / 1000;
    const wx = this.#rot[0]!.v, wy = this.#rot[1]!.v, wz = this.#rot[2]!.v;
    // the filter's nominal q keeps the sign it started with; the answer follows the newest sample
    const orientation = toHemisphereOf(applyRotationVectorInto(this.#q, wx * h, wy * h, wz * h, [0, 0, 0, 1]), latest.orientation);
    const px = this.#pos[0]!, py = this.#pos[1]!, pz = this.#pos[2]!;
    const fallback = this.fallback;
    const answer: Prediction = {
      device: this.#device,
      time: this.#time + horizonMs * 1000,
      position: [px.x + px.v * h, py.x + py.v * h, pz.x + pz.v * h],
      orientation,
      linearVelocity: [px.v, py.v, pz.v],
      // reported in the world frame, as the protocol defines angular velocity
      angularVelocity: rotate(this.#q, [wx, wy, wz]),
    };
    if (fallback) answer.fallback = fallback;
    return answer;
  }
}

export interface KalmanPredictorFactory extends PredictorFactory {
  create(): KalmanPredictor;
}

export function kalmanPredictor(options: KalmanOptions = {}): KalmanPredictorFactory {
  const numbers = {
    positionNoise: options.positionNoise ?? 4,
    rotationNoise: options.rotationNoise ?? 400,
    positionMeasurementStd: options.positionMeasurementStd ?? 0.0005,
    rotationMeasurementStd: options.rotationMeasurementStd ?? 0.002,
    resetGapMs: options.resetGapMs ?? 500,
  };
  for (const [k, v] of Object.entries(numbers)) if (!(v > 0)) throw new TypeError(`kalman.${k} must be a positive number`);
  const resolved: ResolvedKalmanOptions = { ...numbers, guard: resolveGuardOptions(options.guard) };
  return { name: 'kalman', create: () => new KalmanPredictor(resolved) };
}
