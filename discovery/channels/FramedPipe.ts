/**
 * The calls and replies between the replica and its channel process, on a pipe of their own
 * (fd 4 of the child), length-prefixed V8-serialised frames.
 *
 * Why not Node's IPC channel, which carries the sockets: every message on it waits behind a
 * socket being handed over until the child acknowledges that handle, so when thousands of nodes
 * connect at once the replies to the child's `register` calls queued behind thousands of sockets
 * and timed out (the 8,000-node bench never converged). Here calls never wait for a socket.
 *
 * A frame's length is checked before it is buffered (`maxFrameBytes`); a frame over it, or one
 * that does not deserialise, means the stream cannot be trusted any more: `onBroken` is called
 * once (the replica restarts the child; the child exits) and the rest is ignored.
 */
import type { Duplex } from 'node:stream';
import { deserialize, serialize } from 'node:v8';

/** Default cap on one frame: a liveness round's batch is ~64 B per node; 100,000 ids fit many times over. */
export const DEFAULT_MAX_FRAME_BYTES = 64 << 20;

export class FramedPipe {
  readonly #stream: Duplex;
  readonly #maxFrameBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Length of the frame being read, or -1 while its header is not complete. */
  #frameBytes = -1;
  #broken = false;

  constructor(stream: Duplex, onMessage: (m: unknown) => void, onBroken: (why: string) => void, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.#stream = stream;
    this.#maxFrameBytes = maxFrameBytes;
    const broken = (why: string) => {
      if (this.#broken) return;
      this.#broken = true;
      this.#pending = [];
      onBroken(why);
    };
    stream.on('error', (err) => broken(err.message));
    stream.on('data', (chunk: Buffer) => {
      if (this.#broken) return;
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      for (;;) {
        if (this.#frameBytes < 0) {
          if (this.#pendingBytes < 4) return;
          this.#frameBytes = this.#take(4).readUInt32LE(0);
          if (this.#frameBytes === 0 || this.#frameBytes > this.#maxFrameBytes) return broken(`a frame of ${this.#frameBytes} bytes (at most ${this.#maxFrameBytes})`);
        }
        if (this.#pendingBytes < this.#frameBytes) return;
        const body = this.#take(this.#frameBytes);
        this.#frameBytes = -1;
        let message: unknown;
        try {
          message = deserialize(body);
        } catch (err) {
          return broken(`a frame that does not deserialise: ${(err as Error).message}`);
        }
        onMessage(message);
        if (this.#broken) return;
      }
    });
  }

  /** False once the pipe is broken or closed (the other process is gone); a full pipe queues. */
  send(message: unknown): boolean {
    if (this.#broken || this.#stream.destroyed || !this.#stream.writable) return false;
    const body = serialize(message);
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32LE(body.length, 0);
    this.#stream.cork();
    this.#stream.write(header);
    this.#stream.write(body);
    this.#stream.uncork();
    return true;
  }

  /** Flushes what was sent, then calls `done`. */
  end(done: () => void): void {
    this.#stream.end(done);
  }

  destroy(): void {
    this.#broken = true;
    this.#stream.destroy();
  }

  /** The first `n` buffered bytes, as one Buffer (copied only when they span chunks). */
  #take(n: number): Buffer {
    this.#pendingBytes -= n;
    const first = this.#pending[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#pending.shift();
      else this.#pending[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#pending[0]!;
      const used = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, used);
      at += used;
      if (used === chunk.length) this.#pending.shift();
      else this.#pending[0] = chunk.subarray(used);
    }
    return out;
  }
}
