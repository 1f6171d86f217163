/**
 * The per-frame messages a headset streams (`predict`, `pose`) decoded straight from their
 * MessagePack bytes into the validated message, without msgpackr and the schema walk.
 *
 * Why: at 90 Hz × hundreds of sessions the general path (structural scan, msgpackr unpack into
 * fresh objects and strings, then the schema over them) was ~6 µs of the node's ~46 µs per frame
 * (issue #15, edge-server/README.md). This reads each byte once and builds only the result.
 *
 * How it stays exactly as strict as the general path: it takes only what it fully understands
 * and what the general path would accept unchanged — known keys, no duplicates, the number and
 * string encodings below, every value inside its schema's bounds, every wire limit respected —
 * and returns `undefined` for anything else (an unknown key, a `nil`, a value out of range, a
 * truncated frame, non-ASCII text…). `decode` then takes the general path, which accepts or
 * refuses it with the same error it always did. For what it does take it builds the value the
 * general path returns (test/protocol-hot.test.ts compares the two on valid, mutated and truncated
 * frames); only the order of keys in the result objects may differ.
 */
import type { WireLimits } from './limits.js';
import { POSE_BOUNDS, type Device, type Message, type PoseSample, type PredictMessage, type Quat, type Vec3 } from './messages.js';

const EMPTY = new Uint8Array(0);
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Keys of a `predict`/`pose` message; their index is the slot the value is read into. */
const MESSAGE_KEYS = ['t', 'id', 'horizonMs', 'device', 'predictor', 'poses'].map(ascii);
const K_T = 0, K_ID = 1, K_HORIZON = 2, K_DEVICE = 3, K_PREDICTOR = 4, K_POSES = 5;
/** Keys of a pose sample. */
const SAMPLE_KEYS = ['device', 'time', 'position', 'orientation', 'linearVelocity', 'angularVelocity'].map(ascii);
const S_DEVICE = 0, S_TIME = 1, S_POSITION = 2, S_ORIENTATION = 3, S_LINEAR = 4; // 5: angularVelocity
const TYPES = ['predict', 'pose'] as const;
const TYPE_BYTES = TYPES.map(ascii);
const DEVICE_NAMES: readonly Device[] = ['head', 'left', 'right'];
const DEVICE_BYTES = DEVICE_NAMES.map(ascii);
/** Bound of `predict.horizonMs` (messages.ts: number(0, 10_000)). */
const MAX_HORIZON_MS = 10_000;
/** Bound of `predict.id` (messages.ts: requestId). */
const MAX_REQUEST_ID = 2 ** 32;
/** `name()` in messages.ts: strings up to 128 bytes. */
const MAX_NAME_BYTES = 128;

/**
 * One reusable reader (decoding is synchronous: calls never overlap), so a frame allocates
 * nothing but its result. Every read that meets something it does not take returns a "declined"
 * value (NaN, -1, undefined) and the caller gives up on the frame.
 */
class HotReader {
  b: Uint8Array = EMPTY;
  pos = 0;
  /** A float's bytes, copied here to be read big-endian (no DataView over each frame). */
  readonly #scratch = new DataView(new ArrayBuffer(8));
  readonly #scratchBytes = new Uint8Array(this.#scratch.buffer);
  /** The last `predictor` name read and its bytes: a session names the same one every frame. */
  #lastName = '';
  #lastNameBytes: Uint8Array = EMPTY;

  /** A number in an encoding msgpackr decodes to the same JS number; NaN otherwise (or truncated). */
  num(): number {
    const b = this.b;
    const p = this.pos;
    if (p >= b.length) return NaN;
    const t = b[p]!;
    if (t <= 0x7f) {
      this.pos = p + 1;
      return t;
    }
    if (t >= 0xe0) {
      this.pos = p + 1;
      return t - 0x100;
    }
    const size = t === 0xcb ? 8 : t === 0xca || t === 0xce || t === 0xd2 ? 4 : t === 0xcd || t === 0xd1 ? 2 : t === 0xcc || t === 0xd0 ? 1 : 0;
    if (size === 0 || p + 1 + size > b.length) return NaN;
    this.pos = p + 1 + size;
    switch (t) {
      case 0xcc: return b[p + 1]!;
      case 0xcd: return (b[p + 1]! << 8) | b[p + 2]!;
      case 0xce: return ((b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!) >>> 0;
      case 0xd0: return (b[p + 1]! << 24) >> 24;
      case 0xd1: return (((b[p + 1]! << 8) | b[p + 2]!) << 16) >> 16;
      case 0xd2: return (b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!;
    }
    const bytes = this.#scratchBytes;
    for (let i = 0; i < size; i++) bytes[i] = b[p + 1 + i]!;
    return size === 8 ? this.#scratch.getFloat64(0) : this.#scratch.getFloat32(0);
  }

  /** Byte length of a string value at the cursor (cursor moved to its bytes); -1 if not a string or truncated. */
  str(): number {
    const b = this.b;
    const p = this.pos;
    if (p >= b.length) return -1;
    const t = b[p]!;
    let n: number;
    let head = 1;
    if (t >= 0xa0 && t <= 0xbf) n = t & 0x1f;
    else if (t === 0xd9 && p + 1 < b.length) {
      n = b[p + 1]!;
      head = 2;
    } else return -1;
    if (p + head + n > b.length) return -1;
    this.pos = p + head;
    return n;
  }

  /** Whether the `n` bytes at the cursor are `expected`; the cursor does not move. */
  is(expected: Uint8Array, n: number): boolean {
    if (n !== expected.length) return false;
    const b = this.b;
    const p = this.pos;
    for (let i = 0; i < n; i++) if (b[p + i] !== expected[i]) return false;
    return true;
  }

  /** Which of `names` the string at the cursor is (cursor past it); -1 if none, or not a string. */
  oneOf(names: readonly Uint8Array[]): number {
    const n = this.str();
    if (n < 0) return -1;
    for (let i = 0; i < names.length; i++) {
      if (this.is(names[i]!, n)) {
        this.pos += n;
        return i;
      }
    }
    return -1;
  }

  /** A `name()` string of ASCII, at most `max` bytes; undefined otherwise. */
  name(max: number): string | undefined {
    const n = this.str();
    if (n < 0 || n > max) return undefined;
    const b = this.b;
    const p = this.pos;
    if (!this.is(this.#lastNameBytes, n)) {
      for (let i = 0; i < n; i++) if (b[p + i]! >= 0x80) return undefined;
      this.#lastName = String.fromCharCode.apply(null, b.subarray(p, p + n) as unknown as number[]);
      this.#lastNameBytes = b.slice(p, p + n);
    }
    this.pos = p + n;
    return this.#lastName;
  }

  /** Entries of a map at the cursor (fixmap or map16); -1 otherwise. */
  map(): number {
    const b = this.b;
    const p = this.pos;
    if (p >= b.length) return -1;
    const t = b[p]!;
    if (t >= 0x80 && t <= 0x8f) {
      this.pos = p + 1;
      return t & 0x0f;
    }
    if (t === 0xde && p + 2 < b.length) {
      this.pos = p + 3;
      return (b[p + 1]! << 8) | b[p + 2]!;
    }
    return -1;
  }

  /** Elements of an array at the cursor (fixarray or array16); -1 otherwise. */
  array(): number {
    const b = this.b;
    const p = this.pos;
    if (p >= b.length) return -1;
    const t = b[p]!;
    if (t >= 0x90 && t <= 0x9f) {
      this.pos = p + 1;
      return t & 0x0f;
    }
    if (t === 0xdc && p + 2 < b.length) {
      this.pos = p + 3;
      return (b[p + 1]! << 8) | b[p + 2]!;
    }
    return -1;
  }

  /** A finite vector [x, y, z] with every |component| <= `max`; undefined otherwise. */
  vec3(max: number): Vec3 | undefined {
    if (this.array() !== 3) return undefined;
    const x = this.num(), y = this.num(), z = this.num();
    // NaN (declined or sent) fails these comparisons too
    if (!(Math.abs(x) <= max && Math.abs(y) <= max && Math.abs(z) <= max)) return undefined;
    return [x, y, z];
  }

  /** A finite, non-zero quaternion, normalised as `unitQuat` does (messages.ts); undefined otherwise. */
  quat(): Quat | undefined {
    if (this.array() !== 4) return undefined;
    const x = this.num(), y = this.num(), z = this.num(), w = this.num();
    if (!(Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(z) && Number.isFinite(w))) return undefined;
    const norm = Math.hypot(x, y, z, w);
    if (!(norm >= POSE_BOUNDS.minQuaternionNorm)) return undefined;
    if (Math.abs(norm - 1) <= 1e-6) return [x, y, z, w];
    return [x / norm, y / norm, z / norm, w / norm];
  }

  /** One pose sample (poseSampleSchema); undefined if it is anything else. */
  sample(): PoseSample | undefined {
    const n = this.map();
    if (n < 4 || n > SAMPLE_KEYS.length) return undefined;
    let seen = 0;
    let device: Device | undefined;
    let time = NaN;
    let position: Vec3 | undefined;
    let orientation: Quat | undefined;
    let linear: Vec3 | undefined;
    let angular: Vec3 | undefined;
    for (let i = 0; i < n; i++) {
      const key = this.oneOf(SAMPLE_KEYS);
      if (key < 0 || seen & (1 << key)) return undefined;
      seen |= 1 << key;
      if (key === S_DEVICE) {
        const d = this.oneOf(DEVICE_BYTES);
        if (d < 0) return undefined;
        device = DEVICE_NAMES[d];
      } else if (key === S_TIME) {
        time = this.num();
        if (!(time >= 0 && time <= Number.MAX_VALUE)) return undefined;
      } else if (key === S_POSITION) {
        if (!(position = this.vec3(POSE_BOUNDS.maxPositionM))) return undefined;
      } else if (key === S_ORIENTATION) {
        if (!(orientation = this.quat())) return undefined;
      } else if (key === S_LINEAR) {
        if (!(linear = this.vec3(POSE_BOUNDS.maxSpeedMps))) return undefined;
      } else if (!(angular = this.vec3(POSE_BOUNDS.maxAngularRadPerS))) return undefined;
    }
    if (device === undefined || position === undefined || orientation === undefined || !(time >= 0)) return undefined;
    const sample: PoseSample = { device, time, position, orientation };
    if (linear) sample.linearVelocity = linear;
    if (angular) sample.angularVelocity = angular;
    return sample;
  }

  /** A `predict` or `pose` message filling the whole frame; undefined if it is anything else. */
  message(limits: WireLimits): Message | undefined {
    const n = this.map();
    if (n < 2 || n > MESSAGE_KEYS.length) return undefined;
    let seen = 0;
    let type = -1;
    let id = NaN;
    let horizonMs = NaN;
    let device: Device | undefined;
    let predictor: string | undefined;
    let poses: PoseSample[] | undefined;
    for (let i = 0; i < n; i++) {
      const key = this.oneOf(MESSAGE_KEYS);
      if (key < 0 || seen & (1 << key)) return undefined;
      seen |= 1 << key;
      if (key === K_T) {
        if ((type = this.oneOf(TYPE_BYTES)) < 0) return undefined;
      } else if (key === K_ID) {
        id = this.num();
        if (!(Number.isSafeInteger(id) && id >= 0 && id <= MAX_REQUEST_ID)) return undefined;
      } else if (key === K_HORIZON) {
        horizonMs = this.num();
        if (!(horizonMs >= 0 && horizonMs <= MAX_HORIZON_MS)) return undefined;
      } else if (key === K_DEVICE) {
        const d = this.oneOf(DEVICE_BYTES);
        if (d < 0) return undefined;
        device = DEVICE_NAMES[d];
      } else if (key === K_PREDICTOR) {
        if ((predictor = this.name(Math.min(MAX_NAME_BYTES, limits.maxStringBytes))) === undefined) return undefined;
      } else {
        const count = this.array();
        if (count < 0 || count > limits.maxPosesPerMessage || count > limits.maxCollectionLength) return undefined;
        poses = new Array<PoseSample>(count);
        for (let s = 0; s < count; s++) {
          const sample = this.sample();
          if (!sample) return undefined;
          poses[s] = sample;
        }
      }
    }
    if (type === 0) {
      // predict: t, id, horizonMs required
      if (!(seen & (1 << K_ID)) || !(seen & (1 << K_HORIZON))) return undefined;
      const message: PredictMessage = { t: 'predict', id, horizonMs };
      if (device !== undefined) message.device = device;
      if (predictor !== undefined) message.predictor = predictor;
      if (poses !== undefined) message.poses = poses;
      return message;
    }
    // pose: t and poses, nothing else
    if (type === 1 && poses !== undefined && seen === ((1 << K_T) | (1 << K_POSES))) return { t: 'pose', poses };
    return undefined;
  }
}

const reader = new HotReader();

/**
 * `bytes` as a `predict` or `pose` message when it is one this fast path takes (see the top of
 * the file); undefined for anything else, which then goes the general way (scan, unpack, schema).
 * The frame size cap is the caller's (decode checks it first).
 */
export function decodeHot(bytes: Uint8Array, limits: WireLimits): Message | undefined {
  // the general path's structural caps, for the deepest (a vector's numbers: depth 4) and widest
  // frame this path builds: limits set tighter than that are left to it (and its errors)
  if (limits.maxDepth < 4 || limits.maxCollectionLength < SAMPLE_KEYS.length || limits.maxStringBytes < 16) return undefined;
  reader.b = bytes;
  reader.pos = 0;
  try {
    const message = reader.message(limits);
    return message !== undefined && reader.pos === bytes.length ? message : undefined;
  } finally {
    reader.b = EMPTY; // hold no peer's frame between calls
  }
}
