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
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;

  const need = (n: number) => {
    if (pos + n > bytes.length) throw new ProtocolError(ErrorCode.TRUNCATED, 'frame ends inside a MessagePack value');
  };
  const u8 = () => (need(1), bytes[pos++]!);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4));
  const skip = (n: number) => (need(n), (pos += n));

  const checkLength = (n: number) => {
    if (n > limits.maxCollectionLength) {
      throw new ProtocolError(ErrorCode.TOO_LARGE, `collection of ${n} entries exceeds ${limits.maxCollectionLength}`);
    }
  };
  const checkString = (n: number) => {
    if (n > limits.maxStringBytes) throw new ProtocolError(ErrorCode.TOO_LARGE, `string of ${n} bytes exceeds ${limits.maxStringBytes}`);
    skip(n);
  };

  // Returns true when the value just read was a string (map keys must be).
  const value = (depth: number): boolean => {
    if (depth > limits.maxDepth) throw new ProtocolError(ErrorCode.TOO_LARGE, `nesting deeper than ${limits.maxDepth}`);
    const b = u8();
    if (b <= 0x7f || b >= 0xe0) return false; // fixint
    if (b <= 0x8f) return map(b & 0x0f, depth);
    if (b <= 0x9f) return list(b & 0x0f, depth);
    if (b <= 0xbf) return checkString(b & 0x1f), true;
    switch (b) {
      case 0xc0: case 0xc2: case 0xc3: return false;
      case 0xc4: skip(u8()); return false;
      case 0xc5: skip(u16()); return false;
      case 0xc6: skip(u32()); return false;
      case 0xca: skip(4); return false;
      case 0xcb: skip(8); return false;
      case 0xcc: case 0xd0: skip(1); return false;
      case 0xcd: case 0xd1: skip(2); return false;
      case 0xce: case 0xd2: skip(4); return false;
      case 0xcf: case 0xd3: skip(8); return false;
      case 0xd9: checkString(u8()); return true;
      case 0xda: checkString(u16()); return true;
      case 0xdb: checkString(u32()); return true;
      case 0xdc: return list(u16(), depth);
      case 0xdd: return list(u32(), depth);
      case 0xde: return map(u16(), depth);
      case 0xdf: return map(u32(), depth);
      case 0xc1: throw new ProtocolError(ErrorCode.BAD_FRAME, 'reserved MessagePack byte 0xc1');
      default: // 0xc7–0xc9 ext, 0xd4–0xd8 fixext
        throw new ProtocolError(ErrorCode.FORBIDDEN_EXTENSION, `MessagePack extension (0x${b.toString(16)}) is not accepted from peers`);
    }
  };
  const list = (n: number, depth: number) => {
    checkLength(n);
    for (let i = 0; i < n; i++) value(depth + 1);
    return false;
  };
  const map = (n: number, depth: number) => {
    checkLength(n);
    for (let i = 0; i < n; i++) {
      if (!value(depth + 1)) throw new ProtocolError(ErrorCode.BAD_FRAME, 'map key is not a string');
      value(depth + 1);
    }
    return false;
  };

  if (bytes.length === 0) throw new ProtocolError(ErrorCode.TRUNCATED, 'empty frame');
  value(0);
  if (pos !== bytes.length) throw new ProtocolError(ErrorCode.BAD_FRAME, `${bytes.length - pos} trailing bytes after the message`);
}
