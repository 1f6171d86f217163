/**
 * One direction of an emulated link: chunks go in, come out after serialisation (bandwidth),
 * propagation delay, jitter and loss stalls — in order. TCP never reorders bytes, so jitter only
 * stretches gaps: a chunk leaves no earlier than the one before it (what a real TCP receiver
 * delivers to the application after reassembly).
 *
 * Kept apart from the socket plumbing (as ws keeps its frame parser apart from the socket) so
 * the timing rules are read and tested in one place.
 */

export interface LinkParams {
  /** One-way propagation delay, ms (the RTT of a link emulated both ways is about 2×). */
  delayMs: number;
  /** Uniform extra delay in [0, jitterMs), drawn per chunk; never reorders. */
  jitterMs: number;
  /**
   * Probability a chunk is "lost". TCP retransmits, so the application sees no loss, only a stall:
   * the chunk (and everything behind it, head-of-line blocking) waits `lossStallMs` more.
   */
  lossRate: number;
  /** Extra wait of a lost chunk, ms: one retransmission timeout. */
  lossStallMs: number;
  /** Bytes per second each direction; 0 or Infinity for unlimited. */
  bandwidthBytesPerS: number;
}

export const DEFAULT_LINK: Readonly<LinkParams> = Object.freeze({
  delayMs: 0,
  jitterMs: 0,
  lossRate: 0,
  // Linux's minimum RTO: the shortest stall a real lost segment causes.
  lossStallMs: 200,
  bandwidthBytesPerS: 0,
});

export function validateLinkParams(params: Partial<LinkParams>, path = 'netem'): void {
  for (const key of ['delayMs', 'jitterMs', 'lossStallMs', 'bandwidthBytesPerS'] as const) {
    const value = params[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) throw new TypeError(`${path}.${key} must be a number >= 0`);
  }
  const loss = params.lossRate;
  if (loss !== undefined && (typeof loss !== 'number' || !(loss >= 0 && loss <= 1))) {
    throw new TypeError(`${path}.lossRate must be a probability in [0, 1]`);
  }
}

interface Pending {
  chunk: Buffer;
  releaseAt: number;
}

export interface DelayLineOptions {
  params: () => LinkParams;
  /** Called with each chunk when its time has come, in arrival order. */
  deliver: (chunk: Buffer) => void;
  /** Clock in ms; injectable so the timing rules can be checked without waiting. */
  now?: () => number;
  random?: () => number;
}

export class DelayLine {
  readonly #queue: Pending[] = [];
  readonly #params: () => LinkParams;
  readonly #deliver: (chunk: Buffer) => void;
  readonly #now: () => number;
  readonly #random: () => number;
  #timer: NodeJS.Timeout | undefined;
  /** When the link finishes serialising the last accepted chunk (bandwidth). */
  #wireFreeAt = 0;
  /** Release time of the last accepted chunk: later chunks never overtake it. */
  #lastReleaseAt = 0;
  #queuedBytes = 0;
  #closed = false;

  constructor(options: DelayLineOptions) {
    this.#params = options.params;
    this.#deliver = options.deliver;
    this.#now = options.now ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get idle(): boolean {
    return this.#queue.length === 0;
  }

  /** Accepts a chunk and returns when it will be delivered (ms on the line's clock). */
  push(chunk: Buffer): number {
    if (this.#closed) return Number.NaN;
    const p = this.#params();
    const now = this.#now();
    let sentAt = now;
    if (p.bandwidthBytesPerS > 0 && Number.isFinite(p.bandwidthBytesPerS)) {
      sentAt = Math.max(now, this.#wireFreeAt) + (chunk.byteLength / p.bandwidthBytesPerS) * 1000;
      this.#wireFreeAt = sentAt;
    }
    let releaseAt = sentAt + p.delayMs + (p.jitterMs > 0 ? this.#random() * p.jitterMs : 0);
    if (p.lossRate > 0 && this.#random() < p.lossRate) releaseAt += p.lossStallMs;
    releaseAt = Math.max(releaseAt, this.#lastReleaseAt);
    this.#lastReleaseAt = releaseAt;
    this.#queue.push({ chunk, releaseAt });
    this.#queuedBytes += chunk.byteLength;
    if (this.#queue.length === 1) this.#schedule();
    return releaseAt;
  }

  /** Drops everything queued and stops; nothing more is delivered. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }

  /** Called once the queue empties (for half-close and backpressure). */
  onIdle: (() => void) | undefined;

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    const head = this.#queue[0];
    if (!head) return;
    const wait = head.releaseAt - this.#now();
    if (wait <= 0) {
      // Flush synchronously: a zero-delay link must not add an event-loop hop per chunk.
      this.#flush();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, wait);
  }

  #flush(): void {
    const now = this.#now();
    // setTimeout may fire up to ~1 ms early on some platforms; allow half a millisecond of slack
    while (!this.#closed && this.#queue.length > 0 && this.#queue[0]!.releaseAt <= now + 0.5) {
      const { chunk } = this.#queue.shift()!;
      this.#queuedBytes -= chunk.byteLength;
      this.#deliver(chunk);
    }
    if (this.#closed) return;
    if (this.#queue.length === 0) this.onIdle?.();
    else this.#schedule();
  }
}
