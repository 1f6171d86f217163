/**
 * Per-key token buckets (one key per client IP). A bucket refills continuously at `ratePerSecond`
 * up to `burst`; the table is bounded so a flood of spoofed source addresses cannot grow it.
 */
export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

export class TokenBuckets {
  readonly #limit: RateLimit;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  /** @param maxKeys most keys tracked; the least recently used go first. Default 100,000. */
  constructor(limit: RateLimit, maxKeys = 100_000) {
    if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1)) throw new TypeError('rate limit needs ratePerSecond > 0 and burst >= 1');
    this.#limit = limit;
    this.#maxKeys = maxKeys;
  }

  /** Takes one token; returns 0 when allowed, else the seconds until a token is available. */
  take(key: string, now = performance.now()): number {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.#limit.burst, updated: now };
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    } else {
      this.#buckets.delete(key); // re-insert: Map order is recency order
      bucket.tokens = Math.min(this.#limit.burst, bucket.tokens + ((now - bucket.updated) / 1000) * this.#limit.ratePerSecond);
      bucket.updated = now;
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.#limit.ratePerSecond;
  }
}
