/** A token bucket: `ratePerSecond` sustained, `burst` back to back. */
export class TokenBucket {
  #tokens: number;
  #last: number;
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#tokens = burst;
    this.#last = now();
  }

  take(count = 1): boolean {
    const t = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.ratePerSecond);
    this.#last = t;
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }
}
