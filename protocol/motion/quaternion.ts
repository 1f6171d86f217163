/**
 * Quaternion math on the rotation manifold, `[x, y, z, w]` order (WebXR/three.js).
 * Extrapolation goes through the exponential map, never per-component, so predicted
 * orientations stay unit length and turn about the true axis.
 *
 * These run several times per pose on the node's hot path, so they index instead of
 * destructuring and take square roots instead of Math.hypot: both allocate (an iterator, an
 * arguments array), and at 90 Hz × hundreds of sessions that garbage was the bulk of the
 * node's young-generation GC pauses.
 */
import type { Quat, Vec3 } from '../messages.js';

export const IDENTITY: Readonly<Quat> = [0, 0, 0, 1];

export function normalize(q: readonly number[]): Quat {
  return normalizeInto(q[0] ?? 0, q[1] ?? 0, q[2] ?? 0, q[3] ?? 1, [0, 0, 0, 1]);
}

export function multiply(a: readonly number[], b: readonly number[]): Quat {
  const ax = a[0]!, ay = a[1]!, az = a[2]!, aw = a[3]!;
  const bx = b[0]!, by = b[1]!, bz = b[2]!, bw = b[3]!;
  return [
    aw * bx + ax * bw + ay * bz - az * by,
    aw * by - ax * bz + ay * bw + az * bx,
    aw * bz + ax * by - ay * bx + az * bw,
    aw * bw - ax * bx - ay * by - az * bz,
  ];
}

export function conjugate(q: readonly number[]): Quat {
  return [-q[0]!, -q[1]!, -q[2]!, q[3]!];
}

export function dot(a: readonly number[], b: readonly number[]): number {
  return a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]! + a[3]! * b[3]!;
}

/** Rotation vector (axis × angle, radians) → unit quaternion. */
export function fromRotationVector(v: readonly number[]): Quat {
  const x = v[0]!, y = v[1]!, z = v[2]!;
  const angle = Math.sqrt(x * x + y * y + z * z);
  if (angle < 1e-12) return normalize([x / 2, y / 2, z / 2, 1]);
  const s = Math.sin(angle / 2) / angle;
  return [x * s, y * s, z * s, Math.cos(angle / 2)];
}

/** Unit quaternion → rotation vector (axis × angle, radians), taking the short way round. */
export function toRotationVector(q: readonly number[]): Vec3 {
  // q and −q are one rotation: flip to w ≥ 0
  const sign = q[3]! < 0 ? -1 : 1;
  const x = sign * q[0]!, y = sign * q[1]!, z = sign * q[2]!, w = sign * q[3]!;
  const s = Math.sqrt(x * x + y * y + z * z);
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

/** Rotates a vector by a unit quaternion: v + 2w(u×v) + 2u×(u×v), u = (x, y, z). */
export function rotate(q: readonly number[], v: readonly number[]): Vec3 {
  const x = q[0]!, y = q[1]!, z = q[2]!, w = q[3]!;
  const vx = v[0]!, vy = v[1]!, vz = v[2]!;
  const cx = y * vz - z * vy;
  const cy = z * vx - x * vz;
  const cz = x * vy - y * vx;
  return [vx + 2 * (w * cx + y * cz - z * cy), vy + 2 * (w * cy + z * cx - x * cz), vz + 2 * (w * cz + x * cy - y * cx)];
}

/*
 * In-place forms for per-sample filters (the edge's Kalman predictor runs one per session and
 * device at the tracker rate): the same math as the functions above, written into `out`.
 */

/** out ← normalize(q ⊗ exp(v)), v = (vx, vy, vz) a body-frame rotation vector; `out` may be `q`. */
export function applyRotationVectorInto(q: readonly number[], vx: number, vy: number, vz: number, out: Quat): Quat {
  const angle = Math.sqrt(vx * vx + vy * vy + vz * vz);
  let ex: number, ey: number, ez: number, ew: number;
  if (angle < 1e-12) {
    // first order; the normalisation below makes it unit, as fromRotationVector does
    ex = vx / 2;
    ey = vy / 2;
    ez = vz / 2;
    ew = 1;
  } else {
    const s = Math.sin(angle / 2) / angle;
    ex = vx * s;
    ey = vy * s;
    ez = vz * s;
    ew = Math.cos(angle / 2);
  }
  const ax = q[0]!, ay = q[1]!, az = q[2]!, aw = q[3]!;
  const px = aw * ex + ax * ew + ay * ez - az * ey;
  const py = aw * ey - ax * ez + ay * ew + az * ex;
  const pz = aw * ez + ax * ey - ay * ex + az * ew;
  const pw = aw * ew - ax * ex - ay * ey - az * ez;
  return normalizeInto(px, py, pz, pw, out);
}

/** out ← (x, y, z, w) made unit length, or the identity when it has none (as `normalize`). */
export function normalizeInto(x: number, y: number, z: number, w: number, out: Quat): Quat {
  const n = Math.sqrt(x * x + y * y + z * z + w * w);
  if (n === 0 || !Number.isFinite(n)) {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0;
    out[3] = 1;
  } else {
    out[0] = x / n;
    out[1] = y / n;
    out[2] = z / n;
    out[3] = w / n;
  }
  return out;
}

/** out ← log(a⁻¹ ⊗ b): the body-frame rotation vector from a to b (unit a, b), the short way. */
export function rotationVectorBetweenInto(a: readonly number[], b: readonly number[], out: Vec3): Vec3 {
  const ax = a[0]!, ay = a[1]!, az = a[2]!, aw = a[3]!;
  const bx = b[0]!, by = b[1]!, bz = b[2]!, bw = b[3]!;
  const sign = aw * bw + ax * bx + ay * by + az * bz < 0 ? -1 : 1;
  const x = sign * (aw * bx - ax * bw - ay * bz + az * by);
  const y = sign * (aw * by + ax * bz - ay * bw - az * bx);
  const z = sign * (aw * bz - ax * by + ay * bx - az * bw);
  const w = sign * (aw * bw + ax * bx + ay * by + az * bz);
  const s = Math.sqrt(x * x + y * y + z * z);
  const g = s < 1e-12 ? 2 : (2 * Math.atan2(s, w)) / s;
  out[0] = x * g;
  out[1] = y * g;
  out[2] = z * g;
  return out;
}
