/**
 * Watches the sample stream of one device for what no head does, so that filters restart instead
 * of extrapolating garbage:
 * - `reset`: the tracker re-localised. A position step larger than a head can move between two
 *   samples (`maxStepM` + `maxSpeedMps` × dt), or an orientation step faster than
 *   `maxAngularSpeedDegS`. What came before is another coordinate frame.
 * - `stall`: a gap longer than `stallGapMs`, or a sample less than `minSampleDtMs` after the
 *   previous one. Recorders and links that stall deliver the queued poses in a burst stamped ~1 ms
 *   apart: each step then carries a whole tracker period of motion, and a finite-difference or
 *   Kalman velocity comes out several times too fast.
 *
 * After either, predictions are marked with the event for `settleMs` after the last irregular
 * sample: long enough for a restarted filter to converge and for the learned model's window
 * (≤ 60 ms) to hold only regular samples again.
 *
 * The guard keeps the last regular sample before an irregular run (the anchor): the average
 * motion from it to the newest sample spans the whole stall with its true total time, which is
 * the velocity a restarted filter starts from.
 */
import type { PoseSample, PredictionFallback, Quat, Vec3 } from '../index.js';
import { rotationVectorBetweenInto } from './quaternion.js';

export interface MotionGuardOptions {
  /** [maxStepM=0.25] position step that is always a reset, whatever the time between samples, m. */
  maxStepM?: number;
  /** [maxSpeedMps=4] head speed no one reaches (the EyeNavGS cut criterion), m/s; adds to maxStepM over long gaps. */
  maxSpeedMps?: number;
  /** [maxAngularSpeedDegS=2000] orientation step rate that is a reset (same source), °/s. */
  maxAngularSpeedDegS?: number;
  /** [stallGapMs=100] a longer gap between samples is a stall (trackers run at ≥ 30 Hz: ≤ 34 ms). */
  stallGapMs?: number;
  /** [minSampleDtMs=3] samples closer than this are a burst after a stall (trackers run at ≤ 250 Hz). */
  minSampleDtMs?: number;
  /** [settleMs=100] predictions are marked as fallbacks this long after the last irregular sample. */
  settleMs?: number;
}

export type GuardEvent = 'reset' | 'stall' | undefined;

interface Pose {
  time: number;
  position: Vec3;
  orientation: Quat;
}

function blankPose(): Pose {
  return { time: 0, position: [0, 0, 0], orientation: [0, 0, 0, 1] };
}

function copyInto(sample: Readonly<{ time: number; position: readonly number[]; orientation: readonly number[] }>, to: Pose): void {
  to.time = sample.time;
  for (let i = 0; i < 3; i++) to.position[i] = sample.position[i]!;
  for (let i = 0; i < 4; i++) to.orientation[i] = sample.orientation[i]!;
}

export function resolveGuardOptions(o: MotionGuardOptions = {}): Required<MotionGuardOptions> {
  const resolved: Required<MotionGuardOptions> = {
    maxStepM: o.maxStepM ?? 0.25,
    maxSpeedMps: o.maxSpeedMps ?? 4,
    maxAngularSpeedDegS: o.maxAngularSpeedDegS ?? 2000,
    stallGapMs: o.stallGapMs ?? 100,
    minSampleDtMs: o.minSampleDtMs ?? 3,
    settleMs: o.settleMs ?? 100,
  };
  for (const [k, v] of Object.entries(resolved)) if (!(v > 0)) throw new TypeError(`guard.${k} must be a positive number`);
  return resolved;
}

export class MotionGuard {
  readonly #o: Required<MotionGuardOptions>;
  readonly #previous = blankPose();
  readonly #anchor = blankPose();
  readonly #turn: Vec3 = [0, 0, 0];
  #started = false;
  #inIrregularRun = false;
  /** Time (µs) of the last irregular sample, and what it was. */
  #lastEventTime = -Infinity;
  #lastEvent: GuardEvent;
  /** Whether the latest reset was a position jump (orientation continuous): filters keep their orientation. */
  positionJumped = false;
  /** Whether the latest reset was an orientation jump. */
  orientationJumped = false;
  /** Events seen, by kind (for metrics and benches). */
  readonly counts = { reset: 0, stall: 0 };

  constructor(options: Required<MotionGuardOptions>) {
    this.#o = options;
  }

  /** Classifies `sample` (newer than the previous one) and remembers it. */
  observe(sample: PoseSample): GuardEvent {
    let event: GuardEvent;
    let positionJump = false;
    let orientationJump = false;
    if (this.#started) {
      const prev = this.#previous;
      const dtMs = (sample.time - prev.time) / 1000;
      const dx = sample.position[0] - prev.position[0], dy = sample.position[1] - prev.position[1], dz = sample.position[2] - prev.position[2];
      const step = Math.sqrt(dx * dx + dy * dy + dz * dz);
      const r = rotationVectorBetweenInto(prev.orientation, sample.orientation, this.#turn);
      const angleDeg = (Math.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]) * 180) / Math.PI;
      const o = this.#o;
      const realDtMs = Math.max(dtMs, 1000 / 90); // a burst row still carries ≥ one tracker period
      positionJump = step > o.maxStepM + (o.maxSpeedMps * realDtMs) / 1000;
      orientationJump = dtMs <= o.stallGapMs && angleDeg > (o.maxAngularSpeedDegS * realDtMs) / 1000;
      if (orientationJump || positionJump) event = 'reset';
      else if (dtMs < o.minSampleDtMs || dtMs > o.stallGapMs) event = 'stall';
    }
    if (event) {
      // the anchor stays at the last regular sample through a whole irregular run; a reset makes
      // everything before it another frame, so the anchor moves to the reset sample itself
      if (!this.#inIrregularRun && event === 'stall') copyInto(this.#previous, this.#anchor);
      if (event === 'reset') copyInto(sample, this.#anchor);
      this.#inIrregularRun = true;
      // a stall inside a reset's settling keeps the reset label: it is the stronger statement
      const settling = sample.time - this.#lastEventTime <= this.#o.settleMs * 1000;
      this.#lastEvent = event === 'stall' && settling && this.#lastEvent === 'reset' ? 'reset' : event;
      this.#lastEventTime = sample.time;
      this.positionJumped = positionJump;
      this.orientationJumped = orientationJump;
      this.counts[event]++;
    } else {
      this.#inIrregularRun = false;
    }
    copyInto(sample, this.#previous);
    this.#started = true;
    return event;
  }

  /** The fallback predictions at `time` (µs, the newest sample's) are marked with, if any. */
  fallbackAt(time: number): PredictionFallback | undefined {
    return time - this.#lastEventTime <= this.#o.settleMs * 1000 ? this.#lastEvent : undefined;
  }

  /**
   * Average linear (m/s, world) and angular (rad/s, body frame of `sample`) velocity from the
   * anchor to `sample`; zero when they are less than a tracker period apart.
   */
  velocitySinceAnchor(sample: PoseSample, linear: Vec3, angular: Vec3): void {
    const a = this.#anchor;
    const dt = (sample.time - a.time) / 1e6;
    if (!(dt > 0.008)) {
      linear.fill(0);
      angular.fill(0);
      return;
    }
    for (let i = 0; i < 3; i++) linear[i] = (sample.position[i]! - a.position[i]!) / dt;
    rotationVectorBetweenInto(a.orientation, sample.orientation, angular);
    for (let i = 0; i < 3; i++) angular[i] = angular[i]! / dt;
  }
}
