/**
 * Every byte a node sends to one session goes through its SendBudget, so no send path queues
 * without limit (issue #15, attack 2: a session that stops reading and keeps asking grew the
 * node's RSS by 1.3 MB/s; only renders checked `bufferedAmount`).
 *
 * - `droppable` messages (frames, predictions, pongs, non-fatal errors: each is worth nothing
 *   once a newer one exists, and the client times its requests out) are dropped while the
 *   socket holds more than `softBytes` unsent, or when they would take it past `hardBytes`.
 * - `required` messages (welcome, drain, fatal errors) are queued, but one that would take the
 *   backlog past `hardBytes` closes the session with `SLOW_CONSUMER`: a reader that far behind
 *   is not coming back.
 * - The caps bound the backlog, not one message: onto an empty socket any message goes (a
 *   32 MiB raw frame to a client that reads is fine; the next one waits for it to drain).
 * - A session that keeps the socket over `softBytes` for `stallMs` (it reads nothing, so every
 *   answer is dropped) is closed too, so it stops costing the node CPU for answers nobody reads.
 * - `canTake(bytes)` lets expensive producers (render) skip work whose result would be dropped.
 * - `wantsAnswer()` lets cheap but frequent producers (predict) skip computing an answer while
 *   more than `skipAboveBytes` wait unsent (a small threshold: an honest client's backlog is a
 *   few answers), counting each; `maxSkipped` skipped in a row (nothing was read meanwhile)
 *   closes the session `SLOW_CONSUMER` within a few frames instead of after `stallMs`. A
 *   non-reader is only seen here once the kernel's socket buffers are full (on loopback several
 *   MB: tcp_wmem plus the peer's receive window); until then its answers cost what a reader's do.
 */
export interface SendBudgetOptions {
  /** Unsent bytes above which droppable messages are dropped. @default 1 MiB (env EDGE_OFFLOAD_SEND_SOFT_BYTES) */
  softBytes?: number;
  /** Unsent bytes above which the session is closed. @default 8 MiB (env EDGE_OFFLOAD_SEND_HARD_BYTES) */
  hardBytes?: number;
  /** Longest time the socket may stay above `softBytes` before the session is closed. @default 10000 */
  stallMs?: number;
  /** Unsent bytes above which `wantsAnswer()` says skip (predictions are not computed). @default 64 KiB, at most `softBytes` */
  skipAboveBytes?: number;
  /** Answers skipped in a row after which the session is closed (SLOW_CONSUMER). @default 256 */
  maxSkipped?: number;
  /** Clock in ms. @default performance.now */
  now?: () => number;
}

/** What the budget needs of a socket: `ws`'s WebSocket fits. */
export interface SendSink {
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
}

export type SendPriority = 'droppable' | 'required';
export type SendOutcome = 'sent' | 'dropped' | 'closed';

export const DEFAULT_SEND_SOFT_BYTES = 1 << 20;
export const DEFAULT_SEND_HARD_BYTES = 8 << 20;
export const DEFAULT_SEND_STALL_MS = 10_000;
export const DEFAULT_SEND_SKIP_ABOVE_BYTES = 64 << 10;
// ~3 s of a 90 Hz client's predictions, ~0.5 s of a flood at 500/s: a reader that is only
// momentarily behind reads some of its backlog long before this many are skipped
export const DEFAULT_SEND_MAX_SKIPPED = 256;

export interface SendBudgetStats {
  sent: number;
  sentBytes: number;
  dropped: number;
  droppedBytes: number;
  /** Answers not computed (`wantsAnswer()` false). */
  skipped: number;
}

export class SendBudget {
  readonly softBytes: number;
  readonly hardBytes: number;
  readonly stallMs: number;
  readonly skipAboveBytes: number;
  readonly maxSkipped: number;
  #skippedInARow = 0;
  readonly #sink: SendSink;
  readonly #onExceeded: (why: string) => void;
  readonly #now: () => number;
  #overSince: number | undefined;
  #exceeded = false;
  readonly #stats: SendBudgetStats = { sent: 0, sentBytes: 0, dropped: 0, droppedBytes: 0, skipped: 0 };

  /** `onExceeded` is called once, when the session must be closed with `SLOW_CONSUMER`. */
  constructor(sink: SendSink, onExceeded: (why: string) => void, options: SendBudgetOptions = {}) {
    this.#sink = sink;
    this.#onExceeded = onExceeded;
    this.softBytes = options.softBytes ?? envBytes('EDGE_OFFLOAD_SEND_SOFT_BYTES', DEFAULT_SEND_SOFT_BYTES);
    this.hardBytes = options.hardBytes ?? envBytes('EDGE_OFFLOAD_SEND_HARD_BYTES', DEFAULT_SEND_HARD_BYTES);
    this.stallMs = options.stallMs ?? DEFAULT_SEND_STALL_MS;
    this.skipAboveBytes = options.skipAboveBytes ?? Math.min(DEFAULT_SEND_SKIP_ABOVE_BYTES, this.softBytes);
    this.maxSkipped = options.maxSkipped ?? DEFAULT_SEND_MAX_SKIPPED;
    this.#now = options.now ?? (() => performance.now());
    if (!(this.softBytes > 0 && this.hardBytes >= this.softBytes)) throw new TypeError('send budget: need 0 < softBytes <= hardBytes');
    if (!(this.skipAboveBytes > 0 && this.skipAboveBytes <= this.hardBytes)) throw new TypeError('send budget: need 0 < skipAboveBytes <= hardBytes');
    if (!Number.isInteger(this.maxSkipped) || this.maxSkipped < 1) throw new TypeError('send budget: maxSkipped must be a positive integer');
  }

  /**
   * Whether a droppable answer is worth computing now: false (and counted) while more than
   * `skipAboveBytes` wait unsent; the `maxSkipped`-th in a row closes the session.
   */
  wantsAnswer(): boolean {
    if (this.#exceeded) return false;
    const buffered = this.#sink.bufferedAmount;
    if (buffered <= this.skipAboveBytes) {
      this.#skippedInARow = 0;
      return true;
    }
    this.#stats.skipped++;
    if (++this.#skippedInARow >= this.maxSkipped) this.#exceed(`${this.#skippedInARow} answers skipped in a row, ${buffered} bytes unsent`);
    return false;
  }

  get exceeded(): boolean {
    return this.#exceeded;
  }

  /** Whether a droppable message of `bytes` would be sent now (skip rendering a frame that would not). */
  canTake(bytes = 0): boolean {
    const buffered = this.#sink.bufferedAmount;
    return !this.#exceeded && (buffered === 0 || (buffered <= this.softBytes && buffered + bytes <= this.hardBytes));
  }

  send(data: Uint8Array, priority: SendPriority = 'droppable'): SendOutcome {
    if (this.#exceeded) return 'closed';
    const buffered = this.#sink.bufferedAmount;
    // the caps are on the backlog: a message larger than a cap still goes out onto an empty
    // socket (one message in flight is how a client makes progress), never onto a full one
    if (buffered > this.softBytes) {
      const t = this.#now();
      this.#overSince ??= t;
      if (t - this.#overSince >= this.stallMs) return this.#exceed(`${buffered} bytes unsent for ${Math.round(t - this.#overSince)} ms`);
    } else {
      this.#overSince = undefined;
    }
    const overHard = buffered > 0 && buffered + data.byteLength > this.hardBytes;
    if (priority === 'droppable' && (buffered > this.softBytes || overHard)) {
      this.#stats.dropped++;
      this.#stats.droppedBytes += data.byteLength;
      return 'dropped';
    }
    if (overHard) return this.#exceed(`${buffered} bytes unsent, over the cap of ${this.hardBytes}`);
    this.#sink.send(data);
    this.#stats.sent++;
    this.#stats.sentBytes += data.byteLength;
    return 'sent';
  }

  stats(): SendBudgetStats {
    return { ...this.#stats };
  }

  #exceed(why: string): 'closed' {
    if (!this.#exceeded) {
      this.#exceeded = true;
      this.#onExceeded(why);
    }
    return 'closed';
  }
}

function envBytes(name: string, fallback: number): number {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
