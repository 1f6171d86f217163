/**
 * One direction of an emulated link: chunks go in, come out after serialisation (bandwidth),
 * propagation delay, jitter and loss. Two kinds of traffic share the one link model:
 * - `stream` (TCP): never reorders bytes, so jitter only stretches gaps: a chunk leaves no earlier
 *   than the one before it (what a real TCP receiver delivers after reassembly), and a lost chunk
 *   is a retransmission stall, not a hole.
 * - `datagram` (UDP): a lost datagram is gone, jitter may reorder datagrams (as netem does), and a
 *   full bottleneck queue drops what arrives (tail drop, as a router buffer does).
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
   * Probability a chunk is "lost". On a stream, TCP retransmits, so the application sees no loss,
   * only a stall: the chunk (and everything behind it, head-of-line blocking) waits `lossStallMs`
   * more. A lost datagram is dropped.
   */
  lossRate: number;
  /** Extra wait of a lost stream chunk, ms: one retransmission timeout (datagrams ignore it). */
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

/** Link parameters from partial options, defaults filled in and validated. */
export function resolveLinkParams(options: Partial<LinkParams>, path = 'netem'): LinkParams {
  validateLinkParams(options, path);
  return {
    delayMs: options.delayMs ?? DEFAULT_LINK.delayMs,
    jitterMs: options.jitterMs ?? DEFAULT_LINK.jitterMs,
    lossRate: options.lossRate ?? DEFAULT_LINK.lossRate,
    lossStallMs: options.lossStallMs ?? DEFAULT_LINK.lossStallMs,
    bandwidthBytesPerS: options.bandwidthBytesPerS ?? DEFAULT_LINK.bandwidthBytesPerS,
  };
}

/** Applies a partial update in place (validated first, so a bad update changes nothing). */
export function updateLinkParams(params: LinkParams, partial: Partial<LinkParams>, path = 'netem'): void {
  validateLinkParams(partial, path);
  for (const [key, value] of Object.entries(partial) as [keyof LinkParams, number | undefined][]) {
    if (value !== undefined && key in params) params[key] = value;
  }
}

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

export type TrafficKind = 'stream' | 'datagram';

export interface DelayLineOptions {
  params: () => LinkParams;
  /** `stream` (default): TCP rules; `datagram`: UDP rules (see the file comment). */
  kind?: TrafficKind;
  /**
   * Datagrams only: bytes the bottleneck queue holds before it drops arrivals (tail drop);
   * default Infinity. Streams get backpressure from their proxy instead.
   */
  maxQueuedBytes?: number;
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
  readonly #datagram: boolean;
  readonly #maxQueuedBytes: number;
  #timer: NodeJS.Timeout | undefined;
  /** Release time the pending timer was set for (datagrams may need an earlier one). */
  #timerAt = Number.POSITIVE_INFINITY;
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
    this.#datagram = options.kind === 'datagram';
    this.#maxQueuedBytes = options.maxQueuedBytes ?? Number.POSITIVE_INFINITY;
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

  /**
   * Accepts a chunk and returns when it will be delivered (ms on the line's clock), or NaN when
   * it never will (a dropped datagram, a closed line).
   */
  push(chunk: Buffer): number {
    if (this.#closed) return Number.NaN;
    const p = this.#params();
    if (this.#datagram) {
      // Lost on the wire, or no room in the bottleneck queue: gone, and it costs no link time.
      if (p.lossRate > 0 && this.#random() < p.lossRate) return Number.NaN;
      if (this.#queuedBytes + chunk.byteLength > this.#maxQueuedBytes) return Number.NaN;
    }
    const now = this.#now();
    let sentAt = now;
    if (p.bandwidthBytesPerS > 0 && Number.isFinite(p.bandwidthBytesPerS)) {
      sentAt = Math.max(now, this.#wireFreeAt) + (chunk.byteLength / p.bandwidthBytesPerS) * 1000;
      this.#wireFreeAt = sentAt;
    }
    let releaseAt = sentAt + p.delayMs + (p.jitterMs > 0 ? this.#random() * p.jitterMs : 0);
    if (this.#datagram) {
      this.#insertByRelease({ chunk, releaseAt });
    } else {
      if (p.lossRate > 0 && this.#random() < p.lossRate) releaseAt += p.lossStallMs;
      releaseAt = Math.max(releaseAt, this.#lastReleaseAt);
      this.#lastReleaseAt = releaseAt;
      this.#queue.push({ chunk, releaseAt });
    }
    this.#queuedBytes += chunk.byteLength;
    if (this.#queue[0]!.releaseAt < this.#timerAt) this.#reschedule();
    return releaseAt;
  }

  /** Datagrams leave in release order, so jitter can reorder them; equal times keep arrival order. */
  #insertByRelease(item: Pending): void {
    let i = this.#queue.length;
    while (i > 0 && this.#queue[i - 1]!.releaseAt > item.releaseAt) i--;
    this.#queue.splice(i, 0, item);
  }

  /** Drops everything queued and stops; nothing more is delivered. */
  close(): void {
    this.#closed = true;
    this.#clearTimer();
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }

  /** Called once the queue empties (for half-close and backpressure). */
  onIdle: (() => void) | undefined;

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /** Arms the timer for the head of the queue (replacing one set for a later head). */
  #reschedule(): void {
    this.#clearTimer();
    if (this.#closed) return;
    const head = this.#queue[0];
    if (!head) return;
    const wait = head.releaseAt - this.#now();
    if (wait <= 0) {
      // Flush synchronously: a zero-delay link must not add an event-loop hop per chunk.
      this.#flush();
      return;
    }
    this.#timerAt = head.releaseAt;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
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
    else this.#reschedule();
  }
}
