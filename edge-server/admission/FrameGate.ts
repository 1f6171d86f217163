/**
 * Bounded work per session per socket read (issue #15, attack 2): a session handles at most
 * `perRead` of its frames from one socket read before the other sessions get the event loop.
 *
 * Why: `ws` parses a whole socket read and emits its messages back to back. A session that sends
 * faster than the node answers has its frames arrive as one ~64 KiB read of ~2,500 predicts, and
 * the node handled all of them before reading any other socket: a bystander's predict waited
 * 79–401 ms behind them (bench attacks, attack 2).
 *
 * How: frames past `perRead` in one read are queued in order, the session's socket is paused
 * (TCP pushes back on that client, not on anyone else), and the queue is handled `perRead` at a
 * time, one batch per event-loop turn (`setImmediate`), with every other socket read in between.
 * When the queue is empty the socket resumes. Nothing is dropped: an honest burst gets every
 * answer, a turn or two later. The queue can only hold what was already read when the socket
 * paused (about one read), but it is bounded anyway: past `maxQueuedBytes` the session is closed
 * (`onOverflow`; the session closes it RATE_LIMITED).
 *
 * Queued frames count toward the session's budgets when handled, like any other frame (the rate
 * limit, in-flight requests, the send budget). Frames on a WebRTC data channel pass through a
 * gate of their own (edge-server/webrtc/RtcSignalling.ts): its reads are the event-loop turns in
 * which mediasoup hands messages over, and it cannot push back (pause is a no-op there), so its
 * queue is bounded by `maxQueuedBytes` alone.
 */
/**
 * [DEFAULT_FRAMES_PER_READ=2] frames of one session handled per socket read / event-loop turn.
 * Small: a turn costs about (sessions with input) × this × one frame's CPU, and that is what a
 * bystander waits. Under attack 2 (10 sessions asking 500 predicts/s each, ~200 µs of CPU per
 * predict, profiled) the node's core was 100 % busy for its first second: by that estimate a turn
 * took ~16 ms at 8 frames per session and ~4 ms at 2 (bench attacks measures the outcome).
 * An honest client's read holds one or two frames (pose+predict, a ping) and is not deferred.
 */
export const DEFAULT_FRAMES_PER_READ = 2;
/** [DEFAULT_MAX_QUEUED_BYTES=4 MiB] unhandled input one session may have waiting. */
export const DEFAULT_MAX_QUEUED_BYTES = 4 << 20;

/** What the gate needs of the WebSocket: `ws` fits (its pause/resume stop and restart socket reads). */
export interface PausableSource {
  pause(): void;
  resume(): void;
}

/** Where reads begin: the session's socket (`ws`), or anything that emits 'data' once per read. */
export interface ReadSource {
  prependListener(event: 'data', listener: () => void): unknown;
  off(event: 'data', listener: () => void): unknown;
}

export interface FrameGateOptions {
  /** Frames handled per socket read, and per turn while a backlog drains; 0: no bound. @default 2 */
  perRead?: number;
  /** Queued input above which `onOverflow` is called. @default 4 MiB */
  maxQueuedBytes?: number;
}

export class FrameGate {
  readonly perRead: number;
  readonly maxQueuedBytes: number;
  readonly #source: PausableSource;
  readonly #handle: (data: Buffer, isBinary: boolean) => void;
  readonly #onOverflow: (queuedBytes: number) => void;
  readonly #socket: ReadSource;
  readonly #resetCount = () => {
    this.#count = 0;
  };
  #count = 0;
  #queue: { data: Buffer; isBinary: boolean }[] = [];
  #head = 0;
  #queuedBytes = 0;
  #paused = false;
  #closed = false;
  /** Deferred batches so far (for tests and metrics). */
  deferred = 0;

  /**
   * `socket` is the session's raw socket (the one handed to the upgrade): each of its reads
   * starts a new count. `handle` is called for every frame, in arrival order.
   */
  constructor(socket: ReadSource, source: PausableSource, handle: (data: Buffer, isBinary: boolean) => void, onOverflow: (queuedBytes: number) => void, options: FrameGateOptions = {}) {
    this.perRead = options.perRead ?? DEFAULT_FRAMES_PER_READ;
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    if (!Number.isInteger(this.perRead) || this.perRead < 0) throw new TypeError('framesPerRead must be a whole number (0: no bound)');
    if (!Number.isInteger(this.maxQueuedBytes) || this.maxQueuedBytes < 1) throw new TypeError('maxQueuedBytes must be a positive integer');
    this.#socket = socket;
    this.#source = source;
    this.#handle = handle;
    this.#onOverflow = onOverflow;
    // before ws' own 'data' listener: the count is reset before ws parses and emits this read
    if (this.perRead > 0) socket.prependListener('data', this.#resetCount);
  }

  /** Frames waiting to be handled. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** A frame `ws` parsed: handled now, or queued behind this session's backlog. */
  receive(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    if (this.perRead === 0 || (this.#count < this.perRead && this.queued === 0)) {
      this.#count++;
      this.#handle(data, isBinary);
      return;
    }
    this.#queue.push({ data, isBinary });
    this.#queuedBytes += data.byteLength;
    if (this.#queuedBytes > this.maxQueuedBytes) {
      const bytes = this.#queuedBytes;
      this.close();
      this.#onOverflow(bytes);
      return;
    }
    if (!this.#paused) {
      this.#paused = true;
      this.#source.pause();
      setImmediate(this.#drain);
    }
  }

  /** Drops what is queued and stops (the session closed). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    this.#socket.off('data', this.#resetCount);
    // reads go on: the closing handshake needs the peer's close frame (later frames are ignored)
    if (this.#paused) {
      this.#paused = false;
      this.#source.resume();
    }
  }

  /** One batch of the backlog per turn; reads of every other socket run between batches. */
  readonly #drain = (): void => {
    if (this.#closed) return;
    this.deferred++;
    const end = Math.min(this.#queue.length, this.#head + this.perRead);
    while (this.#head < end && !this.#closed) {
      const { data, isBinary } = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as never; // let the buffer go
      this.#queuedBytes -= data.byteLength;
      this.#handle(data, isBinary);
    }
    if (this.#closed) return;
    if (this.queued > 0) {
      setImmediate(this.#drain);
      return;
    }
    this.#queue = [];
    this.#head = 0;
    this.#paused = false;
    // the next read starts a fresh count
    this.#count = 0;
    this.#source.resume();
  };
}
