/**
 * Quaternion math on the rotation manifold, `[x, y, z, w]` order (WebXR/three.js).
 * Extrapolation goes through the exponential map, never per-component, so predicted
 * orientations stay unit length and turn about the true axis.
 */
import type { Quat, Vec3 } from '../messages.js';

export const IDENTITY: Readonly<Quat> = [0, 0, 0, 1];

export function normalize(q: readonly number[]): Quat {
  const [x = 0, y = 0, z = 0, w = 1] = q;
  const n = Math.hypot(x, y, z, w);
  if (n === 0 || !Number.isFinite(n)) return [0, 0, 0, 1];
  return [x / n, y / n, z / n, w / n];
}

export function multiply(a: readonly number[], b: readonly number[]): Quat {
  const [ax, ay, az, aw] = a as Quat;
  const [bx, by, bz, bw] = b as Quat;
  return [
    aw * bx + ax * bw + ay * bz - az * by,
    aw * by - ax * bz + ay * bw + az * bx,
    aw * bz + ax * by - ay * bx + az * bw,
    aw * bw - ax * bx - ay * by - az * bz,
  ];
}

export function conjugate(q: readonly number[]): Quat {
  const [x, y, z, w] = q as Quat;
  return [-x, -y, -z, w];
}

export function dot(a: readonly number[], b: readonly number[]): number {
  return a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]! + a[3]! * b[3]!;
}

/** Rotation vector (axis × angle, radians) → unit quaternion. */
export function fromRotationVector(v: readonly number[]): Quat {
  const [x, y, z] = v as Vec3;
  const angle = Math.hypot(x, y, z);
  if (angle < 1e-12) return normalize([x / 2, y / 2, z / 2, 1]);
  const s = Math.sin(angle / 2) / angle;
  return [x * s, y * s, z * s, Math.cos(angle / 2)];
}

/** Unit quaternion → rotation vector (axis × angle, radians), taking the short way round. */
export function toRotationVector(q: readonly number[]): Vec3 {
  let [x, y, z, w] = q as Quat;
  if (w < 0) [x, y, z, w] = [-x, -y, -z, -w];
  const s = Math.hypot(x, y, z);
  if (s < 1e-12) return [2 * x, 2 * y, 2 * z];
  const angle = 2 * Math.atan2(s, w);
  return [(x / s) * angle, (y / s) * angle, (z / s) * angle];
}

/** Angle between two orientations, radians in [0, π]. */
export function angleBetween(a: readonly number[], b: readonly number[]): number {
  return 2 * Math.acos(Math.min(1, Math.abs(dot(normalize(a), normalize(b)))));
}

/** Spherical interpolation; t outside [0, 1] extrapolates along the same great arc. */
export function slerp(a: readonly number[], b: readonly number[], t: number): Quat {
  const delta = multiply(b, conjugate(a)); // world-frame rotation from a to b
  const v = toRotationVector(delta);
  return normalize(multiply(fromRotationVector([v[0] * t, v[1] * t, v[2] * t]), a));
}

/**
 * World-frame angular velocity (rad/s) that turns `from` into `to` in `dtSeconds`.
 */
export function angularVelocity(from: readonly number[], to: readonly number[], dtSeconds: number): Vec3 {
  const v = toRotationVector(multiply(to, conjugate(from)));
  return [v[0] / dtSeconds, v[1] / dtSeconds, v[2] / dtSeconds];
}

/** Applies a world-frame angular velocity for `dtSeconds`. */
export function integrate(q: readonly number[], omega: readonly number[], dtSeconds: number): Quat {
  return normalize(multiply(fromRotationVector([omega[0]! * dtSeconds, omega[1]! * dtSeconds, omega[2]! * dtSeconds]), q));
}

/** Rotates a vector by a unit quaternion. */
export function rotate(q: readonly number[], v: readonly number[]): Vec3 {
  const p = multiply(multiply(q, [v[0]!, v[1]!, v[2]!, 0]), conjugate(q));
  return [p[0], p[1], p[2]];
}
