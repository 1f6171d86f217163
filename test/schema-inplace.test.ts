import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Packr } from 'msgpackr';
import { DEFAULT_LIMITS, decode, encode, schemas, type PoseSample } from '../protocol/index.js';

const test = suite('protocol: schemas check in place');
const packr = new Packr({ useRecords: false, moreTypes: false });
const pose = (): PoseSample => ({ device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] });

test('a value that is exactly its schema comes back itself, nested objects and arrays too', () => {
  const message = { t: 'predict', id: 3, horizonMs: 50, device: 'head', predictor: 'kalman', poses: [pose()] };
  const parsed = schemas.predict.parse(message, 'predict', DEFAULT_LIMITS);
  assert.is(parsed, message);
  assert.is(parsed.poses, message.poses);
  assert.is(parsed.poses![0]!.position, message.poses[0]!.position);
});

test('unknown keys, undefined and null fields are dropped in a copy; the input is untouched', () => {
  const extra = { ...pose(), secret: 1 };
  const parsed = schemas.pose.parse({ t: 'pose', poses: [extra] }, 'pose', DEFAULT_LIMITS).poses[0]!;
  assert.is.not(parsed, extra);
  assert.equal(parsed, pose());
  assert.is((extra as { secret?: number }).secret, 1);
  const withUndefined = { t: 'prediction' as const, id: 1, pose: pose(), predictor: 'kalman', horizonMs: 50, computeMs: 0.1, fallback: undefined };
  const clean = schemas.prediction.parse(withUndefined, 'prediction', DEFAULT_LIMITS);
  assert.is.not(clean, withUndefined);
  assert.ok(!Object.hasOwn(clean, 'fallback'), 'undefined fields are not carried (msgpackr would write them as an extension)');
  const withNull = { t: 'predict', id: 1, horizonMs: 50, device: null, poses: [pose()] };
  const parsedNull = schemas.predict.parse(withNull, 'predict', DEFAULT_LIMITS);
  assert.ok(!Object.hasOwn(parsedNull, 'device'));
  assert.is(parsedNull.poses, withNull.poses, 'fields before and after the copy point keep their checked values');
});

test('a field its schema changes (a quaternion normalised) makes a copy at every level above it', () => {
  const p = { ...pose(), orientation: [0, 0, 0, 2] as [number, number, number, number] };
  const message = { t: 'pose', poses: [pose(), p] };
  const parsed = schemas.pose.parse(message, 'pose', DEFAULT_LIMITS);
  assert.is.not(parsed, message);
  assert.is.not(parsed.poses, message.poses);
  assert.is(parsed.poses[0], message.poses[0], 'elements before the changed one are kept as they were');
  assert.equal(parsed.poses[1]!.orientation, [0, 0, 0, 1]);
  assert.equal(p.orientation, [0, 0, 0, 2], 'the input is not normalised in place');
});

test('odd prototypes never pass through: arrays are copied, objects refused', () => {
  const odd = Object.setPrototypeOf([0, 1, 2], { evil: true }) as number[];
  assert.ok(Array.isArray(odd));
  const parsed = schemas.pose.parse({ t: 'pose', poses: [{ ...pose(), position: odd }] }, 'pose', DEFAULT_LIMITS);
  assert.is(Object.getPrototypeOf(parsed.poses[0]!.position), Array.prototype);
  const proto = Object.setPrototypeOf(pose(), { injected: 1 });
  assert.throws(() => schemas.pose.parse({ t: 'pose', poses: [proto] }, 'pose', DEFAULT_LIMITS), (e: Error & { code?: string }) => e.code === 'BAD_MESSAGE');
});

test('a JSON "__proto__" key is an unknown key: dropped, prototype untouched', () => {
  const value = JSON.parse('{"t":"pose","poses":[],"__proto__":{"polluted":true}}') as Record<string, unknown>;
  const parsed = schemas.pose.parse(value, 'pose', DEFAULT_LIMITS);
  assert.is.not(parsed, value);
  assert.is(Object.getPrototypeOf(parsed), Object.prototype);
  assert.is((parsed as { polluted?: boolean }).polluted, undefined);
  assert.is(({} as { polluted?: boolean }).polluted, undefined);
});

test('decode and encode round trip through the in-place path unchanged', () => {
  const message = { t: 'predict' as const, id: 9, horizonMs: 40, device: 'head' as const, poses: [pose()] };
  const decoded = decode(packr.pack(message), DEFAULT_LIMITS);
  assert.equal(decoded, message);
  const reply = { t: 'prediction' as const, id: 9, pose: pose(), predictor: 'kalman', horizonMs: 40, computeMs: 0.02 };
  assert.equal(decode(encode(reply), DEFAULT_LIMITS), reply);
});

test.run();
