/**
 * Jittered exponential backoff. When a node with many sessions dies, every one of them wants to
 * reconnect at the same instant; jitter spreads the attempts, the exponent thins them out
 * while the node stays away (ALVR's reconnect loops are the failure this prevents).
 */

export interface BackoffOptions {
  /** First delay, ms. @default 100 */
  initialMs?: number;
  /** Ceiling, ms. @default 5000 */
  maxMs?: number;
  /** @default 2 */
  factor?: number;
  /** Injectable for tests. */
  random?: () => number;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor({ initialMs = 100, maxMs = 5000, factor = 2, random = Math.random }: BackoffOptions = {}) {
    if (!(initialMs > 0) || !(maxMs >= initialMs) || !(factor >= 1)) throw new TypeError('backoff needs initialMs > 0, maxMs >= initialMs, factor >= 1');
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
    this.#factor = factor;
    this.#random = random;
  }

  get attempt(): number {
    return this.#attempt;
  }

  /**
   * The next delay: "equal jitter", uniform in [d/2, d) for the nominal d. Never faster than half
   * the nominal (a client cannot hammer a dead node) yet spread enough to break up herds.
   */
  next(): number {
    const nominal = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt);
    this.#attempt++;
    return nominal / 2 + (this.#random() * nominal) / 2;
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/** One backoff per key (node URL): a node that refused us is retried later, others at once. */
export class BackoffTable {
  readonly #entries = new Map<string, { backoff: Backoff; notBefore: number }>();
  readonly #options: BackoffOptions;
  readonly #now: () => number;

  constructor(options: BackoffOptions = {}, now: () => number = () => performance.now()) {
    this.#options = options;
    this.#now = now;
  }

  /** True when `key` may be tried now. */
  ready(key: string): boolean {
    const entry = this.#entries.get(key);
    return !entry || entry.notBefore <= this.#now();
  }

  /** Records a failure; returns the delay before `key` is ready again. */
  failed(key: string, minimumMs = 0): number {
    let entry = this.#entries.get(key);
    if (!entry) this.#entries.set(key, (entry = { backoff: new Backoff(this.#options), notBefore: 0 }));
    const delay = Math.max(minimumMs, entry.backoff.next());
    // a later, shorter backoff never cuts short a cooldown already in force (drain, over budget)
    entry.notBefore = Math.max(entry.notBefore, this.#now() + delay);
    return entry.notBefore - this.#now();
  }

  succeeded(key: string): void {
    this.#entries.delete(key);
  }

  /** Forgets keys no longer offered (so the table does not grow with every node ever seen). */
  retain(keys: Iterable<string>): void {
    const keep = new Set(keys);
    for (const key of this.#entries.keys()) if (!keep.has(key)) this.#entries.delete(key);
  }
}
