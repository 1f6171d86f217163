/**
 * The one shape check of an app's call, at the API boundary: a TypeError naming the field beats
 * a remote BAD_MESSAGE, and nothing below (router, connection) checks again. The codec still
 * runs its schema on what it encodes (it strips `undefined` fields msgpackr cannot write), and
 * everything a node sends back is validated on decode like any peer input.
 */
import { SEND_LIMITS, poseSampleSchema, validate, type Device, type PoseSample, type RequestBody, type RequestType } from '../../protocol/index.js';

/** The protocol's own pose schema (bounds and a non-zero quaternion included): one rule, both sides. */
export function checkPose(pose: PoseSample): void {
  try {
    poseSampleSchema.parse(pose, 'pose', SEND_LIMITS);
  } catch (err) {
    throw new TypeError((err as Error).message);
  }
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
