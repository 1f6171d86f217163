/**
 * The one codec every side uses: bytes in, a validated message or a typed ProtocolError out.
 * Order matters (CONVENTIONS §Untrusted input): size cap, structural scan, unpack, schema.
 */
import { Packr, Unpackr } from 'msgpackr';
import { ErrorCode, ProtocolError, CloseCode } from './errors.js';
import { DEFAULT_LIMITS, SEND_LIMITS, type WireLimits } from './limits.js';
import { schemas, type Message, type MessageType } from './messages.js';
import { ValueError, isPlainObject } from './schema.js';
import { scanMessagePack } from './scan.js';
import { decodeHot } from './hotDecode.js';
import { encodePredictionHot } from './hotEncode.js';

// Plain MessagePack only: no records, no msgpackr type extensions, maps become plain objects.
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, structuredClone: false, int64AsType: 'number' });

/**
 * Encodes a message. The outgoing message goes through its schema too: it drops `undefined`
 * fields (msgpackr would write them as an extension our own decoder refuses) and catches our
 * own bugs before a peer has to.
 */
export function encode(message: Message, limits: WireLimits = SEND_LIMITS): Uint8Array {
  // the per-frame answer written directly when it passes as it is (hotEncode.ts); the general
  // path below normalises or refuses the rest
  if (message.t === 'prediction') {
    const hot = encodePredictionHot(message);
    if (hot !== undefined) return hot;
  }
  return encodeGeneral(message, limits);
}

/** Every message the general way: its schema, then msgpackr (what `encode` falls back to). */
export function encodeGeneral(message: Message, limits: WireLimits = SEND_LIMITS): Uint8Array {
  const schema = schemas[message.t];
  return packr.pack(schema.parse(message, message.t, limits));
}

export function decode(frame: Uint8Array, limits: WireLimits = DEFAULT_LIMITS): Message {
  if (frame.byteLength > limits.maxFrameBytes) {
    throw new ProtocolError(ErrorCode.TOO_LARGE, `frame of ${frame.byteLength} bytes exceeds ${limits.maxFrameBytes}`, CloseCode.TOO_BIG);
  }
  // ws may hand us a Buffer/Uint8Array subclass; the scan needs only the byte view
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  // the per-frame `predict`/`pose` in the shapes clients send them, read straight from the bytes
  // (hotDecode.ts: it takes only what the path below would accept unchanged)
  const hot = decodeHot(bytes, limits);
  return hot !== undefined ? hot : decodeGeneral(bytes, limits);
}

/** Every message the general way: structural scan, unpack, schema (what `decode` falls back to). */
export function decodeGeneral(bytes: Uint8Array, limits: WireLimits = DEFAULT_LIMITS): Message {
  scanMessagePack(bytes, limits);
  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch (err) {
    // the scan already proved the structure; anything left is a malformed UTF-8 string or similar
    const incomplete = (err as { incomplete?: boolean }).incomplete === true;
    throw new ProtocolError(incomplete ? ErrorCode.TRUNCATED : ErrorCode.BAD_FRAME, `undecodable frame: ${(err as Error).message}`);
  }
  return validate(value, limits);
}

/** Checks a decoded value against the schema its `t` names and returns a clean copy. */
export function validate(value: unknown, limits: WireLimits = DEFAULT_LIMITS): Message {
  if (!isPlainObject(value)) throw new ProtocolError(ErrorCode.BAD_MESSAGE, 'message is not a map');
  const type = value.t;
  if (typeof type !== 'string') throw new ProtocolError(ErrorCode.BAD_MESSAGE, 't is not a string');
  if (!Object.hasOwn(schemas, type)) throw new ProtocolError(ErrorCode.UNKNOWN_TYPE, `unknown message type '${type.slice(0, 64)}'`);
  try {
    return schemas[type as MessageType].parse(value, type, limits) as Message;
  } catch (err) {
    // a usable message with an unusable value: answer the request it came in, if it was one
    if (err instanceof ValueError && typeof value.id === 'number' && Number.isSafeInteger(value.id) && value.id >= 0) err.requestId = value.id;
    throw err;
  }
}
