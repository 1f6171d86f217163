/** Round-trip times over a sliding window, with the percentiles the latency budget is judged by. */
export interface RttSummary {
  /** Median of the window, ms (NaN before the first sample). */
  p50: number;
  p99: number;
  /** The latest sample, ms. */
  last: number;
  /** Samples in the window. */
  count: number;
}

export class RttStats {
  readonly #window: number[] = [];
  readonly #size: number;
  #next = 0;
  #last = Number.NaN;

  constructor(size = 128) {
    this.#size = size;
  }

  add(rttMs: number): void {
    this.#last = rttMs;
    if (this.#window.length < this.#size) this.#window.push(rttMs);
    else this.#window[this.#next] = rttMs;
    this.#next = (this.#next + 1) % this.#size;
  }

  /** Keeps only the newest `count` samples (after a switch to another node, say). */
  reset(): void {
    this.#window.length = 0;
    this.#next = 0;
    this.#last = Number.NaN;
  }

  summary(): RttSummary {
    const sorted = [...this.#window].sort((a, b) => a - b);
    return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), last: this.#last, count: sorted.length };
  }
}

/** Linear-interpolated quantile of an ascending array; NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}
