/**
 * A structural pass over untrusted MessagePack before anything is materialised.
 *
 * msgpackr registers its extensions (RegExp, Error, Set, typed arrays, records, structured-clone
 * references…) process-wide and decodes them by default; a peer could make us build any of them.
 * Rather than mutate msgpackr's global table (which would change behaviour for the host app),
 * we walk the bytes first: no extension type is allowed, map keys must be strings, and depth,
 * collection lengths and string sizes are capped before any allocation. Only then is the frame
 * handed to msgpackr. The walk skips over string/binary bodies, so it costs one step per token.
 */
import { ErrorCode, ProtocolError } from './errors.js';
import type { WireLimits } from './limits.js';

export function scanMessagePack(bytes: Uint8Array, limits: WireLimits): void {
  if (bytes.length === 0) throw new ProtocolError(ErrorCode.TRUNCATED, 'empty frame');
  scanner.bytes = bytes;
  scanner.limits = limits;
  scanner.pos = 0;
  try {
    scanner.value(0);
    if (scanner.pos !== bytes.length) throw new ProtocolError(ErrorCode.BAD_FRAME, `${bytes.length - scanner.pos} trailing bytes after the message`);
  } finally {
    scanner.bytes = EMPTY; // hold no peer's frame between calls
  }
}

const EMPTY = new Uint8Array(0);

/**
 * One reusable walker (the scan is synchronous, so calls never overlap): the scan runs on every
 * frame, and a closure set plus a DataView per call was garbage at the message rate.
 */
class Scanner {
  bytes: Uint8Array = EMPTY;
  limits!: WireLimits;
  pos = 0;

  need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new ProtocolError(ErrorCode.TRUNCATED, 'frame ends inside a MessagePack value');
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const b = this.bytes;
    const p = (this.pos += 2);
    return (b[p - 2]! << 8) | b[p - 1]!;
  }
  u32(): number {
    this.need(4);
    const b = this.bytes;
    const p = (this.pos += 4);
    return ((b[p - 4]! << 24) | (b[p - 3]! << 16) | (b[p - 2]! << 8) | b[p - 1]!) >>> 0;
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
  checkLength(n: number): void {
    if (n > this.limits.maxCollectionLength) {
      throw new ProtocolError(ErrorCode.TOO_LARGE, `collection of ${n} entries exceeds ${this.limits.maxCollectionLength}`);
    }
  }
  checkString(n: number): true {
    if (n > this.limits.maxStringBytes) throw new ProtocolError(ErrorCode.TOO_LARGE, `string of ${n} bytes exceeds ${this.limits.maxStringBytes}`);
    this.skip(n);
    return true;
  }

  /** Reads one value; true when it was a string (map keys must be). */
  value(depth: number): boolean {
    if (depth > this.limits.maxDepth) throw new ProtocolError(ErrorCode.TOO_LARGE, `nesting deeper than ${this.limits.maxDepth}`);
    const b = this.u8();
    if (b <= 0x7f || b >= 0xe0) return false; // fixint
    if (b <= 0x8f) return this.map(b & 0x0f, depth);
    if (b <= 0x9f) return this.list(b & 0x0f, depth);
    if (b <= 0xbf) return this.checkString(b & 0x1f);
    switch (b) {
      case 0xc0: case 0xc2: case 0xc3: return false;
      case 0xc4: this.skip(this.u8()); return false;
      case 0xc5: this.skip(this.u16()); return false;
      case 0xc6: this.skip(this.u32()); return false;
      case 0xca: this.skip(4); return false;
      case 0xcb: this.skip(8); return false;
      case 0xcc: case 0xd0: this.skip(1); return false;
      case 0xcd: case 0xd1: this.skip(2); return false;
      case 0xce: case 0xd2: this.skip(4); return false;
      case 0xcf: case 0xd3: this.skip(8); return false;
      case 0xd9: return this.checkString(this.u8());
      case 0xda: return this.checkString(this.u16());
      case 0xdb: return this.checkString(this.u32());
      case 0xdc: return this.list(this.u16(), depth);
      case 0xdd: return this.list(this.u32(), depth);
      case 0xde: return this.map(this.u16(), depth);
      case 0xdf: return this.map(this.u32(), depth);
      case 0xc1: throw new ProtocolError(ErrorCode.BAD_FRAME, 'reserved MessagePack byte 0xc1');
      default: // 0xc7–0xc9 ext, 0xd4–0xd8 fixext
        throw new ProtocolError(ErrorCode.FORBIDDEN_EXTENSION, `MessagePack extension (0x${b.toString(16)}) is not accepted from peers`);
    }
  }
  list(n: number, depth: number): false {
    this.checkLength(n);
    for (let i = 0; i < n; i++) this.value(depth + 1);
    return false;
  }
  map(n: number, depth: number): false {
    this.checkLength(n);
    for (let i = 0; i < n; i++) {
      if (!this.value(depth + 1)) throw new ProtocolError(ErrorCode.BAD_FRAME, 'map key is not a string');
      this.value(depth + 1);
    }
    return false;
  }
}

const scanner = new Scanner();
