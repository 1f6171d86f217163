/**
 * The one shape check of an app's call, at the API boundary: a TypeError naming the field beats
 * a remote BAD_MESSAGE, and nothing below (router, connection) checks again. The codec still
 * runs its schema on what it encodes (it strips `undefined` fields msgpackr cannot write), and
 * everything a node sends back is validated on decode like any peer input.
 */
import { DEVICES, SEND_LIMITS, validate, type Device, type PoseSample, type RequestBody, type RequestType } from '../../protocol/index.js';

const finite = (v: unknown, n: number) => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));

export function checkPose(pose: PoseSample): void {
  if (!pose || typeof pose !== 'object') throw new TypeError('pose is not an object');
  if (!(DEVICES as readonly string[]).includes(pose.device)) throw new TypeError(`pose.device must be one of ${DEVICES.join(', ')}`);
  if (typeof pose.time !== 'number' || !Number.isFinite(pose.time) || pose.time < 0) throw new TypeError('pose.time is not a non-negative number of microseconds');
  if (!finite(pose.position, 3)) throw new TypeError('pose.position is not a vector [x, y, z]');
  if (!finite(pose.orientation, 4)) throw new TypeError('pose.orientation is not a quaternion [x, y, z, w]');
}

export function checkPredict(horizonMs: number, device: Device, predictor: string | undefined): void {
  if (typeof horizonMs !== 'number' || !Number.isFinite(horizonMs) || horizonMs < 0) throw new TypeError('horizonMs must be a non-negative number');
  checkRequest<'predict'>({ t: 'predict', horizonMs, device, ...(predictor === undefined ? {} : { predictor }) });
}

/** infer / render / scene bodies: the protocol's own schema, its error turned into the app's TypeError. */
export function checkRequest<T extends RequestType>(body: RequestBody<T>): void {
  try {
    validate({ ...body, id: 1 }, SEND_LIMITS);
  } catch (err) {
    throw new TypeError((err as Error).message);
  }
}
