import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FLOAT32_OPTIONS, Packr } from 'msgpackr';
import { DEFAULT_LIMITS, decode, encode, resolveLimits, type Message, type PoseSample, type PredictionMessage, type WireLimits } from '../protocol/index.js';
import { decodeGeneral, encodeGeneral } from '../protocol/codec.js';
import { decodeHot } from '../protocol/hotDecode.js';
import { encodePredictionHot } from '../protocol/hotEncode.js';

const test = suite('protocol: the hot paths (predict and pose in, prediction out) against the general ones');
const packr = new Packr({ useRecords: false, moreTypes: false });
const packr32 = new Packr({ useRecords: false, moreTypes: false, useFloat32: FLOAT32_OPTIONS.ALWAYS });

/** A deterministic generator: the same frames on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function sampleOf(r: () => number, i: number): PoseSample {
  const q = [r() - 0.5, r() - 0.5, r() - 0.5, r() + 0.1];
  const n = Math.hypot(...q);
  const sample: PoseSample = {
    device: (['head', 'left', 'right'] as const)[i % 3]!,
    // integers and fractions, small and large: every number encoding msgpackr writes
    time: i % 4 === 0 ? Math.floor(r() * 2 ** 32) : r() * 1e9,
    position: [i % 5 === 0 ? -3 : (r() - 0.5) * 4, 1.6 + r() * 0.1, i % 7 === 0 ? -200 : (r() - 0.5) * 1e5],
    // unit as sent, or off by a factor (the schema normalises it)
    orientation: (i % 3 === 0 ? q.map((v) => v * 2.5) : q.map((v) => v / n)) as PoseSample['orientation'],
  };
  if (i % 2 === 1) sample.linearVelocity = [r() - 0.5, -4000 + i, r()];
  if (i % 4 === 1) sample.angularVelocity = [r() * 3, -r(), 0];
  return sample;
}

/** Valid predict and pose messages of the shapes clients send, with and without the optional fields. */
function validMessages(): Message[] {
  const r = rng(7);
  const out: Message[] = [];
  for (let i = 0; i < 40; i++) {
    const poses = Array.from({ length: i % 4 }, (_, k) => sampleOf(r, i + k));
    const predict: Message = { t: 'predict', id: i === 5 ? 2 ** 32 : i * 977, horizonMs: i % 2 ? 50 : r() * 500 };
    if (i % 3 !== 0) predict.device = (['head', 'left', 'right'] as const)[i % 3]!;
    if (i % 5 !== 0) predict.predictor = i % 2 ? 'learned' : 'kalman';
    if (poses.length > 0 || i % 8 === 0) predict.poses = poses;
    out.push(predict);
    out.push({ t: 'pose', poses });
  }
  return out;
}

/** What decoding gave: the message, or the error's code, message and request id. */
function outcome(run: () => Message): unknown {
  try {
    return { ok: run() };
  } catch (err) {
    const e = err as { code?: string; message: string; requestId?: number; name: string };
    return { name: e.name, code: e.code, message: e.message, requestId: e.requestId };
  }
}

function same(bytes: Uint8Array, limits: WireLimits = DEFAULT_LIMITS, what = ''): void {
  assert.equal(outcome(() => decode(bytes, limits)), outcome(() => decodeGeneral(bytes, limits)), `${what} ${Buffer.from(bytes).toString('hex')}`);
}

test('every valid predict and pose frame takes the hot path and decodes to what the general path returns', () => {
  for (const message of validMessages()) {
    for (const p of [packr, packr32]) {
      const bytes = p.pack(message);
      const hot = decodeHot(bytes, DEFAULT_LIMITS);
      assert.ok(hot, `hot path declined ${JSON.stringify(message)}`);
      assert.equal(hot, decodeGeneral(bytes, DEFAULT_LIMITS));
    }
  }
  // what the SDK's own encoder writes, too
  const sent = encode({ t: 'predict', id: 1, horizonMs: 50, device: 'head', predictor: 'learned', poses: [sampleOf(rng(1), 1)] });
  assert.ok(decodeHot(sent, DEFAULT_LIMITS));
});

test('every truncated prefix, trailing byte and single-byte change decodes (or fails) exactly as the general path', () => {
  const r = rng(11);
  for (const message of validMessages().slice(0, 24)) {
    const bytes = packr.pack(message);
    for (let end = 0; end < bytes.length; end++) same(bytes.subarray(0, end), DEFAULT_LIMITS, 'prefix');
    same(Buffer.concat([bytes, Buffer.from([0xc0])]), DEFAULT_LIMITS, 'trailing');
    for (let i = 0; i < bytes.length; i++) {
      for (const v of [0x00, 0x7f, 0x80, 0xa0, 0xc0, 0xc1, 0xca, 0xcb, 0xd9, 0xdc, 0xde, 0xff, bytes[i]! ^ 1, Math.floor(r() * 256)]) {
        const mutated = Uint8Array.from(bytes);
        mutated[i] = v;
        same(mutated, DEFAULT_LIMITS, `byte ${i}=${v}`);
      }
    }
  }
});

test('values the schema refuses or changes (bounds, zero quaternion, nil, unknown keys, duplicates) go the general way', () => {
  const base = sampleOf(rng(3), 0);
  const cases: unknown[] = [
    { t: 'predict', id: 1, horizonMs: 10_001 },
    { t: 'predict', id: -1, horizonMs: 1 },
    { t: 'predict', id: 1.5, horizonMs: 1 },
    { t: 'predict', id: 2 ** 32 + 1, horizonMs: 1 },
    { t: 'predict', id: 1, horizonMs: 1, device: 'foot' },
    { t: 'predict', id: 1, horizonMs: 1, device: null },
    { t: 'predict', id: 1, horizonMs: 1, predictor: 'x'.repeat(129) },
    { t: 'predict', id: 1, horizonMs: 1, predictor: 'kälman' },
    { t: 'predict', id: 1, horizonMs: 1, extra: true },
    { t: 'predict', id: 1 },
    { t: 'pose', poses: [{ ...base, orientation: [0, 0, 0, 0] }] },
    { t: 'pose', poses: [{ ...base, position: [2e6, 0, 0] }] },
    { t: 'pose', poses: [{ ...base, linearVelocity: [0, 2e4, 0] }] },
    { t: 'pose', poses: [{ ...base, angularVelocity: [0, 0, -2e4] }] },
    { t: 'pose', poses: [{ ...base, time: -1 }] },
    { t: 'pose', poses: [{ ...base, secret: 1 }] },
    { t: 'pose', poses: [{ ...base, position: [0, 0] }] },
    { t: 'pose', poses: [{ device: 'head', time: 1, position: [0, 0, 0] }] },
    { t: 'pose', id: 4, poses: [base] },
    { t: 'pose' },
    { t: 'ping', id: 1, c: 2 },
    [1, 2, 3],
  ];
  for (const value of cases) {
    const bytes = packr.pack(value);
    assert.is(decodeHot(bytes, DEFAULT_LIMITS), undefined, JSON.stringify(value));
    same(bytes, DEFAULT_LIMITS, JSON.stringify(value));
  }
  // a key twice (msgpackr keeps the last): fixmap of 4 entries, 'id' written twice
  const twice = Buffer.concat([Buffer.from([0x84]), packr.pack('t'), packr.pack('predict'), packr.pack('id'), packr.pack(1), packr.pack('id'), packr.pack(2), packr.pack('horizonMs'), packr.pack(5)]);
  assert.is(decodeHot(twice, DEFAULT_LIMITS), undefined);
  same(twice);
});

test('tight wire limits are the general path\'s: the same errors with the hot path in front', () => {
  const frames = validMessages().slice(0, 16).map((m) => packr.pack(m));
  const tight: Partial<WireLimits>[] = [{ maxDepth: 2 }, { maxDepth: 3 }, { maxDepth: 4 }, { maxCollectionLength: 3 }, { maxCollectionLength: 6 }, { maxStringBytes: 6 }, { maxStringBytes: 16 }, { maxPosesPerMessage: 1 }];
  for (const overrides of tight) {
    const limits = resolveLimits(overrides);
    for (const bytes of frames) same(bytes, limits, JSON.stringify(overrides));
  }
});

/** Predictions as the node builds them: integer and fractional values, velocities, fallbacks, extra pose keys. */
function predictions(): PredictionMessage[] {
  const r = rng(5);
  return Array.from({ length: 60 }, (_, i) => {
    const pose = { ...sampleOf(r, i), time: i % 3 === 0 ? i * 11_111 : r() * 1e10 };
    // a non-unit quaternion is the general path's to normalise; here they stay unit
    const n = Math.hypot(...pose.orientation);
    pose.orientation = pose.orientation.map((v) => v / n) as PoseSample['orientation'];
    if (i % 6 === 2) pose.position = [-(i * 1000), -5, -100_000] as PoseSample['position'];
    // a Prediction carries its own fallback mark, which the pose schema drops
    const prediction = i % 5 === 0 ? { ...pose, fallback: 'stall' } : pose;
    const message: PredictionMessage = { t: 'prediction', id: i === 7 ? 2 ** 32 : i * 70_001, pose: prediction, predictor: i % 2 ? 'learned' : 'kalman', horizonMs: i % 4 ? 50 : r() * 100, computeMs: i % 9 === 0 ? 0 : r() * 0.05 };
    if (i % 5 === 0) message.fallback = (['reset', 'stall', 'out-of-range'] as const)[i % 3];
    if (i % 7 === 3) (message as { fallback?: undefined }).fallback = undefined;
    return message;
  });
}

function encoded(run: () => Uint8Array): unknown {
  try {
    return { ok: decodeGeneral(run(), DEFAULT_LIMITS) };
  } catch (err) {
    const e = err as { code?: string; message: string; name: string };
    return { name: e.name, code: e.code, message: e.message };
  }
}

test('every prediction the node builds is written directly and reads back as the general encoding does', () => {
  for (const message of predictions()) {
    const hot = encodePredictionHot(message);
    assert.ok(hot, `hot path declined ${JSON.stringify(message)}`);
    assert.equal(decodeGeneral(hot, DEFAULT_LIMITS), decodeGeneral(encodeGeneral(message), DEFAULT_LIMITS));
    assert.equal(encoded(() => encode(message)), encoded(() => encodeGeneral(message)));
  }
});

test('a prediction the schema would change or refuse goes the general way, with its error', () => {
  const base = predictions()[1]!;
  const cases: PredictionMessage[] = [
    { ...base, pose: { ...base.pose, orientation: [0, 0, 0, 2] } },
    { ...base, pose: { ...base.pose, orientation: [0, 0, 0, 0] } },
    { ...base, pose: { ...base.pose, position: [2e6, 0, 0] } },
    { ...base, pose: { ...base.pose, position: [NaN, 0, 0] } },
    { ...base, pose: { ...base.pose, linearVelocity: [0, 0, 2e4] } },
    { ...base, pose: { ...base.pose, time: -1 } },
    { ...base, pose: { ...base.pose, device: 'foot' as never } },
    { ...base, pose: { ...base.pose, position: Float64Array.from([0, 1, 2]) as never } },
    { ...base, id: -1 },
    { ...base, id: 1.5 },
    { ...base, predictor: 'kälman' },
    { ...base, predictor: 'x'.repeat(129) },
    { ...base, horizonMs: Infinity },
    { ...base, computeMs: -0.001 },
    { ...base, fallback: 'guess' as never },
    Object.setPrototypeOf({ ...base }, { inherited: true }) as PredictionMessage,
  ];
  for (const message of cases) {
    assert.is(encodePredictionHot(message), undefined, JSON.stringify(message));
    assert.equal(encoded(() => encode(message)), encoded(() => encodeGeneral(message)), JSON.stringify(message));
  }
});

test.run();
