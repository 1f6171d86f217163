/**
 * A session's outgoing binary messages as one socket write each: the WebSocket frame header and
 * the payload in one buffer, written straight onto the session's TCP socket.
 *
 * Why: `ws` writes a server frame as two buffers (header, payload) under cork/uncork, which Node
 * turns into a `writev` through its generic multi-chunk path. For the per-frame answers (a
 * prediction is ~150 bytes, at 90 Hz × hundreds of sessions) that path and its bookkeeping were a
 * measurable share of the node's CPU per frame (bench/predict-load.ts); one small copy and one
 * plain `write` cost less. Large payloads (rendered frames) keep `ws.send`: copying a megabyte
 * to save one iovec is no saving.
 *
 * Equivalent on the wire: an unfragmented, unmasked (server → client), uncompressed binary frame,
 * exactly what `ws` sends with `perMessageDeflate: false` (EdgeServer's setting). Ordering with
 * anything `ws` itself writes (close frames, pings) holds because both write to the same socket
 * in call order; it falls back to `ws.send` whenever `ws` holds queued data of its own (its
 * sender is busy with a Blob or compression) or exposes no socket.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { SendSink } from '../admission/index.js';

/** [DIRECT_MAX_BYTES=16 KiB] payloads up to this size go out as one copied buffer; larger via ws. */
export const DIRECT_MAX_BYTES = 16 * 1024;

/** The parts of ws' internals this relies on (ws 8: `_socket`, `_sender._bufferedBytes`). */
interface WsInternals {
  _socket?: Socket;
  _sender?: { _bufferedBytes?: number };
}

/** One complete binary WebSocket frame (FIN, opcode 2, no mask) holding `payload`. */
export function binaryFrame(payload: Uint8Array): Buffer {
  const length = payload.byteLength;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x82;
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  frame.set(payload, header);
  return frame;
}

export function frameSink(ws: WebSocket): SendSink {
  const internals = ws as unknown as WsInternals;
  return {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send(data) {
      const socket = internals._socket;
      // not OPEN: once ws sent (or is sending) a close frame no data frame may follow it; ws.send
      // knows what to do in every state
      if (ws.readyState !== ws.OPEN || data.byteLength > DIRECT_MAX_BYTES || !socket || socket.destroyed || internals._sender?._bufferedBytes !== 0) {
        ws.send(data, { binary: true });
        return;
      }
      socket.write(binaryFrame(data));
    },
  };
}
