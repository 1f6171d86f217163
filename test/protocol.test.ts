import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Packr } from 'msgpackr';
import { CloseCode, DEFAULT_LIMITS, ErrorCode, MESSAGE_TYPES, ProtocolError, decode, encode, fromWireTensor, toWireTensor, type WireLimits } from '../protocol/index.js';
import { examples } from './support/messages.js';

/** The code a decode of `bytes` fails with, or undefined when it decodes. */
function failure(bytes: Uint8Array, limits: WireLimits = DEFAULT_LIMITS): string | undefined {
  try {
    decode(bytes, limits);
    return undefined;
  } catch (err) {
    assert.instance(err, ProtocolError, `threw ${(err as Error)?.constructor?.name}: ${(err as Error).message}`);
    return (err as ProtocolError).code;
  }
}

const plain = new Packr({ useRecords: false });
/** JSON-comparable form: bytes (Buffer or Uint8Array) become plain arrays. */
const comparable = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (_key, v) => (v && typeof v === 'object' && v.type === 'Buffer' ? v.data : v instanceof Uint8Array ? Array.from(v) : v)));
const codec = suite('protocol codec');

codec('every message type round-trips through encode/decode unchanged', () => {
  for (const type of MESSAGE_TYPES) {
    const decoded = decode(encode(examples[type]));
    assert.equal(decoded.t, type);
    assert.equal(comparable(decoded), comparable(examples[type]), type);
  }
});

codec('binary fields come back as bytes, and tensors as the same numbers', () => {
  const tensor = toWireTensor(new Float32Array([1.5, -2, 3.25]), [1, 3]);
  const decoded = decode(encode({ t: 'infer', id: 1, model: 'm', input: tensor }));
  assert.ok(decoded.t === 'infer');
  assert.equal(Array.from(fromWireTensor(decoded.input)), [1.5, -2, 3.25]);
});

codec('every truncated prefix of every message is rejected as TRUNCATED or BAD_MESSAGE, never crashes', () => {
  for (const type of MESSAGE_TYPES) {
    const bytes = encode(examples[type]);
    for (let cut = 0; cut < bytes.length; cut++) {
      const code = failure(bytes.subarray(0, cut));
      assert.ok(code === ErrorCode.TRUNCATED || code === ErrorCode.BAD_MESSAGE, `${type} cut at ${cut}/${bytes.length}: ${code}`);
    }
  }
});

codec('garbage bytes are BAD_FRAME or TRUNCATED, and trailing bytes after a message are refused', () => {
  assert.is(failure(new Uint8Array([0xc1])), ErrorCode.BAD_FRAME);
  assert.is(failure(new Uint8Array([])), ErrorCode.TRUNCATED);
  assert.is(failure(new TextEncoder().encode('GET / HTTP/1.1\r\n')), ErrorCode.BAD_FRAME); // 'G' is a whole fixint, the rest trails it
  const valid = encode(examples.ping);
  assert.is(failure(new Uint8Array([...valid, 0x00])), ErrorCode.BAD_FRAME);
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed & 0xff);
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from({ length: 1 + (i % 64) }, random);
    failure(bytes); // must throw a ProtocolError (asserted inside) or decode to a valid message
  }
});

codec('msgpackr extensions (RegExp, Error, Set, records, typed arrays, Date) are FORBIDDEN_EXTENSION', () => {
  const risky = new Packr({ useRecords: true, moreTypes: true, structuredClone: true });
  const payloads: unknown[] = [
    { t: 'ping', id: 1, c: /a+$/ },
    { t: 'ping', id: 1, c: new Error('boom') },
    { t: 'ping', id: 1, c: new Set([1]) },
    { t: 'ping', id: 1, c: new Float64Array([1]) },
    { t: 'ping', id: 1, c: new Date(0) },
  ];
  for (const payload of payloads) assert.is(failure(risky.pack(payload)), ErrorCode.FORBIDDEN_EXTENSION, String((payload as { c: unknown }).c));
  // a record definition (msgpackr's own extension 0x72) is refused too
  assert.is(failure(new Packr({ useRecords: true }).pack({ t: 'ping', id: 1, c: 1 })), ErrorCode.FORBIDDEN_EXTENSION);
});

codec('wrong field types are BAD_MESSAGE naming the field', () => {
  const cases: [unknown, string][] = [
    [{ t: 'ping', id: 'x', c: 1 }, 'ping.id'],
    [{ t: 'ping', id: -1, c: 1 }, 'ping.id'],
    [{ t: 'predict', id: 1, horizonMs: Number.NaN }, 'predict.horizonMs'],
    [{ t: 'pose', poses: [{ device: 'head', time: 1, position: [0, 0], orientation: [0, 0, 0, 1] }] }, 'pose.poses[0].position'],
    [{ t: 'pose', poses: [{ device: 'tail', time: 1, position: [0, 0, 0], orientation: [0, 0, 0, 1] }] }, 'pose.poses[0].device'],
    [{ t: 'hello' }, 'hello.v'],
    [[1, 2, 3], 'message'],
  ];
  for (const [value, path] of cases) {
    try {
      decode(plain.pack(value));
      assert.unreachable(`${JSON.stringify(value)} decoded`);
    } catch (err) {
      assert.is((err as ProtocolError).code, ErrorCode.BAD_MESSAGE);
      assert.ok((err as Error).message.startsWith(path), `${(err as Error).message} should name ${path}`);
    }
  }
});

codec('unknown message types are UNKNOWN_TYPE; map keys must be strings', () => {
  assert.is(failure(plain.pack({ t: 'launch-missiles' })), ErrorCode.UNKNOWN_TYPE);
  assert.is(failure(new Uint8Array([0x81, 0x01, 0x02])), ErrorCode.BAD_FRAME);
});

codec('size caps apply before allocation: frame, strings, collections, depth, poses', () => {
  const small = { ...DEFAULT_LIMITS, maxFrameBytes: 64 };
  const big = encode({ t: 'bye', reason: 'x'.repeat(100) });
  try {
    decode(big, small);
    assert.unreachable();
  } catch (err) {
    assert.is((err as ProtocolError).code, ErrorCode.TOO_LARGE);
    assert.is((err as ProtocolError).closeCode, CloseCode.TOO_BIG);
  }
  assert.is(failure(plain.pack({ t: 'bye', reason: 'x'.repeat(DEFAULT_LIMITS.maxStringBytes + 1) })), ErrorCode.TOO_LARGE);
  // a header claiming 2^32-1 entries is refused from the header alone
  assert.is(failure(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff])), ErrorCode.TOO_LARGE);
  let deep: unknown = 1;
  for (let i = 0; i < 20; i++) deep = [deep];
  assert.is(failure(plain.pack({ t: 'bye', reason: deep })), ErrorCode.TOO_LARGE);
  const pose = examples.pose.poses[0]!;
  const poses = Array.from({ length: DEFAULT_LIMITS.maxPosesPerMessage + 1 }, (_, i) => ({ ...pose, time: i }));
  assert.is(failure(plain.pack({ t: 'pose', poses })), ErrorCode.TOO_LARGE);
});

codec('unknown fields are dropped, never passed on', () => {
  const decoded = decode(plain.pack({ t: 'ping', id: 1, c: 2, __proto__x: 1, evil: { deep: true } }));
  assert.equal(Object.keys(decoded).sort(), ['c', 'id', 't']);
});

codec('tensor byte length must match dtype × shape', () => {
  assert.throws(() => fromWireTensor({ dtype: 'float32', shape: [2, 2], data: new Uint8Array(12) }), /needs 16 bytes/);
  // a misaligned view is copied, not misread
  const bytes = new Uint8Array(9);
  new DataView(bytes.buffer).setFloat32(1, 2.5, true);
  assert.equal(Array.from(fromWireTensor({ dtype: 'float32', shape: [2], data: bytes.subarray(1, 9) })), [2.5, 0]);
});

codec.run();
