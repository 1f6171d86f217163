/**
 * Synthetic head trajectories with known futures for predictor tests: a constant turn about a
 * fixed axis combined with constant linear velocity, sampled at 90 Hz.
 */
import type { PoseSample, Vec3 } from '../../protocol/index.js';
import { fromRotationVector, multiply, normalize } from '../../protocol/motion/quaternion.js';

export interface Trajectory {
  /** Pose at time t (seconds). */
  at(t: number): PoseSample;
  /** Samples from 0 to `seconds` at `hz`. */
  samples(seconds: number, hz?: number): PoseSample[];
}

/** World-frame turn at `omega` rad/s (axis × rate) from `start`, moving at `velocity` m/s. */
export function constantMotion(omega: Vec3, velocity: Vec3, start: readonly number[] = [0, 0, 0, 1]): Trajectory {
  const at = (t: number): PoseSample => ({
    device: 'head',
    time: Math.round(t * 1e6),
    position: [velocity[0] * t, 1.6 + velocity[1] * t, velocity[2] * t],
    orientation: normalize(multiply(fromRotationVector([omega[0] * t, omega[1] * t, omega[2] * t]), start)),
  });
  return {
    at,
    samples(seconds, hz = 90) {
      const out: PoseSample[] = [];
      for (let i = 0; i <= Math.round(seconds * hz); i++) out.push(at(i / hz));
      return out;
    },
  };
}

export const DEG = Math.PI / 180;

/**
 * A head that sways while walking: yaw ±30° at 0.5 Hz (peak 94°/s) and pitch ±15° at 0.7 Hz
 * about a moving head, 0.5 m/s forward with a 3 cm bob at the step rate. Velocities change all the
 * time, so holding a stale velocity is visibly wrong.
 */
export function swayingWalk(): Trajectory {
  const at = (t: number): PoseSample => {
    const yaw = 30 * DEG * Math.sin(2 * Math.PI * 0.5 * t);
    const pitch = 15 * DEG * Math.sin(2 * Math.PI * 0.7 * t + 1);
    return {
      device: 'head',
      time: Math.round(t * 1e6),
      position: [0.5 * t, 1.6 + 0.03 * Math.sin(2 * Math.PI * 1.8 * t), 0],
      orientation: normalize(multiply(fromRotationVector([0, yaw, 0]), fromRotationVector([pitch, 0, 0]))),
    };
  };
  return {
    at,
    samples(seconds, hz = 90) {
      const out: PoseSample[] = [];
      for (let i = 0; i <= Math.round(seconds * hz); i++) out.push(at(i / hz));
      return out;
    },
  };
}
