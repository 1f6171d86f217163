/**
 * The per-frame answer (`prediction`) written straight as MessagePack, without the schema walk
 * and msgpackr's generic object packing: the node sends one per predict, at 90 Hz × every session
 * (issue #15: encode was ~3 µs of the node's ~46 µs per frame, edge-server/README.md).
 *
 * Same checks as the general path (`schemas.prediction`, then msgpackr): it writes a message only
 * when every field is one the schema would pass unchanged — a plain object, an id in range, a pose
 * of known device, finite bounded vectors and a unit quaternion, an ASCII predictor name, a known
 * fallback — and returns `undefined` otherwise, so that `encode` takes the general path and
 * normalises the quaternion or throws the error it always threw. Numbers are written the way
 * msgpackr writes them (an integer in 32 bits as the smallest int, anything else as float64), keys
 * in schema order, `undefined`/`null` optional fields left out: the bytes decode to what the
 * general path's bytes decode to (test/protocol-hot.test.ts).
 */
import { DEVICES, POSE_BOUNDS, PREDICTION_FALLBACKS, type PredictionMessage, type PoseSample } from './messages.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** `name()` in messages.ts: strings up to 128 bytes. */
const MAX_NAME_BYTES = 128;
/** Bound of a request id (messages.ts: requestId). */
const MAX_REQUEST_ID = 2 ** 32;
/** Every prediction fits here: ~40 numbers of 9 bytes, a 128-byte name, keys. */
const SCRATCH_BYTES = 1024;

const KEY = {
  t: ascii('t'),
  prediction: ascii('prediction'),
  id: ascii('id'),
  pose: ascii('pose'),
  predictor: ascii('predictor'),
  horizonMs: ascii('horizonMs'),
  computeMs: ascii('computeMs'),
  fallback: ascii('fallback'),
  device: ascii('device'),
  time: ascii('time'),
  position: ascii('position'),
  orientation: ascii('orientation'),
  linearVelocity: ascii('linearVelocity'),
  angularVelocity: ascii('angularVelocity'),
};
const DEVICE_NAMES: readonly string[] = DEVICES;
const FALLBACKS: readonly string[] = PREDICTION_FALLBACKS;

const isPlain = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
const absent = (value: unknown): boolean => value === undefined || value === null;
const finiteIn = (value: unknown, min: number, max: number): value is number => typeof value === 'number' && value >= min && value <= max;

/** An array of `length` finite numbers each within ±max (what `numbers` plus `boundedVec3` pass). */
function vector(value: unknown, length: number, max: number): value is number[] {
  if (!Array.isArray(value) || value.length !== length) return false;
  for (let i = 0; i < length; i++) if (!finiteIn(value[i], -max, max)) return false;
  return true;
}

/** A unit quaternion the schema passes as it is (`unitQuat` keeps one within 1e-6 of norm 1). */
function unitQuat(value: unknown): value is number[] {
  if (!vector(value, 4, Number.MAX_VALUE)) return false;
  return Math.abs(Math.hypot(value[0]!, value[1]!, value[2]!, value[3]!) - 1) <= 1e-6;
}

function asciiName(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MAX_NAME_BYTES) return false;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) >= 0x80) return false;
  return true;
}

function samplePasses(pose: unknown): pose is PoseSample {
  if (!isPlain(pose)) return false;
  return (
    DEVICE_NAMES.includes(pose.device as string) &&
    finiteIn(pose.time, 0, Number.MAX_VALUE) &&
    vector(pose.position, 3, POSE_BOUNDS.maxPositionM) &&
    unitQuat(pose.orientation) &&
    (absent(pose.linearVelocity) || vector(pose.linearVelocity, 3, POSE_BOUNDS.maxSpeedMps)) &&
    (absent(pose.angularVelocity) || vector(pose.angularVelocity, 3, POSE_BOUNDS.maxAngularRadPerS))
  );
}

/** One reusable writer (encoding is synchronous); each result is copied out of it. */
class HotWriter {
  readonly bytes = new Uint8Array(SCRATCH_BYTES);
  readonly view = new DataView(this.bytes.buffer);
  pos = 0;

  raw(text: Uint8Array): void {
    this.bytes[this.pos++] = 0xa0 | text.length; // fixstr: every key and constant here is < 32 bytes
    this.bytes.set(text, this.pos);
    this.pos += text.length;
  }
  /** An ASCII string (asciiName checked it). */
  str(text: string): void {
    const n = text.length;
    if (n < 0x20) this.bytes[this.pos++] = 0xa0 | n;
    else {
      this.bytes[this.pos++] = 0xd9;
      this.bytes[this.pos++] = n;
    }
    for (let i = 0; i < n; i++) this.bytes[this.pos++] = text.charCodeAt(i);
  }
  /** As msgpackr's `pack` writes a number (useFloat32 off). */
  num(value: number): void {
    const b = this.bytes;
    if (value >>> 0 === value) {
      if (value < 0x80) b[this.pos++] = value;
      else if (value < 0x100) {
        b[this.pos++] = 0xcc;
        b[this.pos++] = value;
      } else if (value < 0x10000) {
        b[this.pos++] = 0xcd;
        b[this.pos++] = value >> 8;
        b[this.pos++] = value & 0xff;
      } else {
        b[this.pos++] = 0xce;
        this.view.setUint32(this.pos, value);
        this.pos += 4;
      }
    } else if (value >> 0 === value) {
      if (value >= -0x20) b[this.pos++] = 0x100 + value;
      else if (value >= -0x80) {
        b[this.pos++] = 0xd0;
        b[this.pos++] = value + 0x100;
      } else if (value >= -0x8000) {
        b[this.pos++] = 0xd1;
        this.view.setInt16(this.pos, value);
        this.pos += 2;
      } else {
        b[this.pos++] = 0xd2;
        this.view.setInt32(this.pos, value);
        this.pos += 4;
      }
    } else {
      b[this.pos++] = 0xcb;
      this.view.setFloat64(this.pos, value);
      this.pos += 8;
    }
  }
  nums(values: readonly number[]): void {
    this.bytes[this.pos++] = 0x90 | values.length;
    for (let i = 0; i < values.length; i++) this.num(values[i]!);
  }
  sample(pose: PoseSample): void {
    const linear = !absent(pose.linearVelocity);
    const angular = !absent(pose.angularVelocity);
    this.bytes[this.pos++] = 0x80 | (4 + (linear ? 1 : 0) + (angular ? 1 : 0));
    this.raw(KEY.device);
    this.str(pose.device);
    this.raw(KEY.time);
    this.num(pose.time);
    this.raw(KEY.position);
    this.nums(pose.position);
    this.raw(KEY.orientation);
    this.nums(pose.orientation);
    if (linear) {
      this.raw(KEY.linearVelocity);
      this.nums(pose.linearVelocity!);
    }
    if (angular) {
      this.raw(KEY.angularVelocity);
      this.nums(pose.angularVelocity!);
    }
  }
}

const writer = new HotWriter();
/** Node's pooled Buffers where there are any (this module is in the browser bundle too). */
const alloc: (n: number) => Uint8Array = typeof Buffer === 'function' ? (n) => Buffer.allocUnsafe(n) : (n) => new Uint8Array(n);

/** `message` as MessagePack when every field passes its schema unchanged (see above); else undefined. */
export function encodePredictionHot(message: PredictionMessage): Uint8Array | undefined {
  const m = message as unknown as Record<string, unknown>;
  if (
    !isPlain(m) ||
    !(Number.isSafeInteger(m.id) && (m.id as number) >= 0 && (m.id as number) <= MAX_REQUEST_ID) ||
    !samplePasses(m.pose) ||
    !asciiName(m.predictor) ||
    !finiteIn(m.horizonMs, 0, Number.MAX_VALUE) ||
    !finiteIn(m.computeMs, 0, Number.MAX_VALUE) ||
    !(absent(m.fallback) || FALLBACKS.includes(m.fallback as string))
  ) {
    return undefined;
  }
  const w = writer;
  w.pos = 0;
  const fallback = !absent(message.fallback);
  w.bytes[w.pos++] = 0x80 | (fallback ? 7 : 6);
  w.raw(KEY.t);
  w.raw(KEY.prediction);
  w.raw(KEY.id);
  w.num(message.id);
  w.raw(KEY.pose);
  w.sample(message.pose);
  w.raw(KEY.predictor);
  w.str(message.predictor);
  w.raw(KEY.horizonMs);
  w.num(message.horizonMs);
  w.raw(KEY.computeMs);
  w.num(message.computeMs);
  if (fallback) {
    w.raw(KEY.fallback);
    w.str(message.fallback!);
  }
  // a copy the caller may keep (ws or a data channel can queue it)
  const out = alloc(w.pos);
  out.set(w.bytes.subarray(0, w.pos));
  return out;
}
