/**
 * Seeded mutation of frames: byte-level (bit flips, interesting bytes, MessagePack headers that
 * claim huge lengths or extension types, truncation, splices, garbage) and structural (decode a
 * valid message, replace fields with values of the wrong type, huge numbers, NaN, deep nesting,
 * `__proto__`/`constructor` keys, then re-encode). Deterministic for a seed, so a crash found in
 * a campaign is reproduced by re-running it with the same seed.
 */
import { Packr } from 'msgpackr';

/** mulberry32, the SDK's seeded generator (one copy): small, fast, good enough to drive a fuzzer. */
export { seededRandom as rng } from '../../client-sdk/trust/trapStream.js';

export type Random = () => number;
const int = (r: Random, n: number) => Math.floor(r() * n);
const pick = <T>(r: Random, items: readonly T[]): T => items[int(r, items.length)]!;

/** Bytes that break parsers: MessagePack type bytes for ext, 32-bit lengths, nil, never-used 0xc1. */
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x8f, 0x9f, 0xbf];
/** Headers that declare a huge string/array/map/bin/ext with almost nothing after them. */
const HUGE_HEADERS = [
  [0xdb, 0xff, 0xff, 0xff, 0xff],
  [0xdd, 0x7f, 0xff, 0xff, 0xff],
  [0xdf, 0x7f, 0xff, 0xff, 0xff],
  [0xc6, 0xff, 0xff, 0xff, 0xf0],
  [0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01],
  [0xd8, 0xff],
  [0xc7, 0x10, 0x72],
];

/** Values that break schemas. */
function weirdValue(r: Random, depth = 0): unknown {
  switch (int(r, 16)) {
    case 0: return NaN;
    case 1: return Infinity;
    case 2: return -1;
    case 3: return 2 ** 53 + 2;
    case 4: return -(2 ** 63);
    case 5: return 'x'.repeat(int(r, 9000));
    case 6: return '';
    case 7: return null;
    case 8: return true;
    case 9: return depth < 3 ? [weirdValue(r, depth + 1), weirdValue(r, depth + 1)] : [];
    case 10: return depth < 3 ? { t: weirdValue(r, depth + 1) } : {};
    case 11: return new Uint8Array(int(r, 64));
    case 12: return nest(int(r, 40));
    case 13: return JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}');
    case 14: return Array.from({ length: int(r, 6000) }, (_, i) => i);
    default: return r() * 1e6 - 5e5;
  }
}

function nest(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Structural mutation of a decoded message (returns a new value; never mutates `value`). */
function mutateValue(r: Random, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return r() < 0.7 ? weirdValue(r) : value;
  if (Array.isArray(value)) {
    const copy = [...value];
    const op = int(r, 4);
    if (op === 0 && copy.length > 0) copy[int(r, copy.length)] = mutateValue(r, copy[int(r, copy.length)]);
    else if (op === 1) copy.push(weirdValue(r));
    else if (op === 2) copy.splice(int(r, copy.length + 1), 1);
    else return weirdValue(r);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const op = int(r, 6);
  if (op <= 2 && keys.length > 0) {
    const k = pick(r, keys);
    copy[k] = mutateValue(r, copy[k]);
  } else if (op === 3 && keys.length > 0) {
    delete copy[pick(r, keys)];
  } else if (op === 4) {
    Object.defineProperty(copy, pick(r, ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'x', 't']), { value: weirdValue(r), enumerable: true, configurable: true, writable: true });
  } else {
    return weirdValue(r);
  }
  return copy;
}

/** A Packr that writes whatever the mutator built (maps with any keys, typed arrays as bin). */
const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });

/** MessagePack of any value, unchecked (the protocol's `encode` would refuse what a fuzzer sends). */
export function packFrame(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Byte-level mutation. */
export function mutateBytes(r: Random, input: Uint8Array, other?: Uint8Array): Uint8Array {
  let bytes: Uint8Array = Uint8Array.from(input);
  const rounds = 1 + int(r, 4);
  for (let round = 0; round < rounds; round++) {
    const at = bytes.length > 0 ? int(r, bytes.length) : 0;
    switch (int(r, 9)) {
      case 0:
        if (bytes.length) bytes[at] = bytes[at]! ^ (1 << int(r, 8));
        break;
      case 1:
        if (bytes.length) bytes[at] = pick(r, INTERESTING);
        break;
      case 2:
        bytes = bytes.subarray(0, int(r, bytes.length + 1));
        break;
      case 3: {
        const header = pick(r, HUGE_HEADERS);
        bytes = concat(bytes.subarray(0, at), Uint8Array.from(header), bytes.subarray(at));
        break;
      }
      case 4:
        bytes = concat(bytes, randomBytes(r, int(r, 64)));
        break;
      case 5:
        if (other) bytes = concat(bytes.subarray(0, at), other.subarray(int(r, other.length + 1)));
        break;
      case 6: {
        const len = int(r, Math.min(32, bytes.length + 1));
        bytes = concat(bytes.subarray(0, at + len), bytes.subarray(at, at + len), bytes.subarray(at + len));
        break;
      }
      case 7:
        bytes = randomBytes(r, int(r, 256));
        break;
      default:
        if (bytes.length) bytes[at] = int(r, 256);
    }
  }
  return bytes;
}

function randomBytes(r: Random, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = int(r, 256);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One mutated MessagePack frame from a corpus of valid messages. */
export function mutateMessagePack(r: Random, corpus: readonly unknown[]): Uint8Array {
  const seed = pick(r, corpus);
  if (r() < 0.5) return packr.pack(mutateValue(r, seed));
  return mutateBytes(r, packr.pack(seed), packr.pack(pick(r, corpus)));
}

/** One mutated JSON text from a corpus of valid bodies (structural or textual). */
export function mutateJson(r: Random, corpus: readonly unknown[]): string {
  const seed = pick(r, corpus);
  if (r() < 0.5) {
    try {
      return JSON.stringify(mutateValue(r, seed), (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v)) ?? 'null';
    } catch {
      return '{';
    }
  }
  return Buffer.from(mutateBytes(r, Buffer.from(JSON.stringify(seed)), Buffer.from(JSON.stringify(pick(r, corpus))))).toString('latin1');
}
