/**
 * q and −q are the same rotation. Clients blend, slerp and compare quaternions component-wise, so
 * every predictor answers in the hemisphere of the newest sample it was given (dot ≥ 0): a
 * stream that flips sign (HoloLens does, several times a trace) then gets answers that flip with
 * it, and a component-wise blend between the sample and the answer takes the short way round.
 */
import type { Quat } from '../index.js';

/** Negates `q` in place when it lies in the other hemisphere from `reference`; returns `q`. */
export function toHemisphereOf(q: Quat, reference: readonly number[]): Quat {
  if (q[0] * reference[0]! + q[1] * reference[1]! + q[2] * reference[2]! + q[3] * reference[3]! < 0) {
    q[0] = -q[0];
    q[1] = -q[1];
    q[2] = -q[2];
    q[3] = -q[3];
  }
  return q;
}
