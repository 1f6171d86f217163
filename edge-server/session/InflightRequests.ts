/**
 * The requests one session has running on the engines (async predicts, infers, scene uploads):
 * a bound on how many, and the pending set the session settles when it closes.
 *
 * As in mediasoup's `Channel`, closing rejects every pending request with `InvalidStateError`
 * at once, so its handler's error path runs now and a late engine answer is dropped instead of
 * reaching a session that no longer exists. Nothing goes on the wire for them: the socket is
 * closing, and the client's own pending table fails them when it sees the close.
 */
import { InvalidStateError } from '../../protocol/index.js';

interface Pending {
  onError: (err: unknown) => void;
}

export class InflightRequests {
  /** Most requests in flight at once; the next is answered `BUSY`. */
  readonly max: number;
  readonly #pending = new Set<Pending>();
  #closed = false;

  constructor(max: number) {
    this.max = max;
  }

  get size(): number {
    return this.#pending.size;
  }

  get full(): boolean {
    return this.#pending.size >= this.max;
  }

  /**
   * Runs `onValue` or `onError` when `work` settles, unless the session closed first (then
   * `onError` has already heard `InvalidStateError`).
   */
  track<T>(work: Promise<T>, onValue: (value: T) => void, onError: (err: unknown) => void): void {
    if (this.#closed) {
      onError(new InvalidStateError('session closed'));
      return;
    }
    const entry: Pending = { onError };
    this.#pending.add(entry);
    work.then(
      (value) => this.#pending.delete(entry) && onValue(value),
      (err: unknown) => this.#pending.delete(entry) && onError(err),
    );
  }

  /** Rejects every pending request with InvalidStateError; later tracks are rejected at once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const entry of pending) entry.onError(new InvalidStateError('session closed'));
  }
}
