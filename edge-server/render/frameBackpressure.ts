/**
 * Socket-side backpressure for frames. A rendered frame is worth sending only if it can reach the
 * client soon: when the socket already holds more than `maxBufferedBytes` unsent (a slow or stalled
 * client), the frame is dropped and the request answered with a small `FRAME_DROPPED` error instead,
 * so the client's next request is served from its newest pose rather than behind a backlog.
 * Other sessions are unaffected: each has its own socket and buffer.
 */
import { ErrorCode, type ErrorMessage } from '../../protocol/index.js';

/** What we need of a ws WebSocket. */
export interface FrameSocket {
  readonly bufferedAmount: number;
}

export interface FrameBackpressureOptions {
  /** Unsent bytes on a session's socket above which frames are dropped. Default 1 MiB (~10 JPEG stereo frames at 640²). */
  maxBufferedBytes?: number;
}

export const DEFAULT_MAX_BUFFERED_BYTES = 1 << 20;

export class FrameBackpressure {
  readonly maxBufferedBytes: number;
  #dropped = 0;

  constructor(options: FrameBackpressureOptions = {}) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    if (!(this.maxBufferedBytes >= 0)) throw new TypeError('maxBufferedBytes must be a non-negative number');
  }

  /** True when a frame may be sent now; otherwise counts a drop (answer with `droppedError`). */
  admit(socket: FrameSocket): boolean {
    if (socket.bufferedAmount <= this.maxBufferedBytes) return true;
    this.#dropped++;
    return false;
  }

  droppedError(requestId: number, socket: FrameSocket): ErrorMessage {
    return {
      t: 'error',
      id: requestId,
      code: ErrorCode.FRAME_DROPPED,
      message: `frame dropped: ${socket.bufferedAmount} bytes still unsent on this connection (limit ${this.maxBufferedBytes})`,
      fatal: false,
    };
  }

  get dropped(): number {
    return this.#dropped;
  }
}
