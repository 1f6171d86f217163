/** Summary statistics for latency samples (ms); shared by `measure` and the benches. */
import { quantile } from '../../client-sdk/link/RttStats.js';

export interface Summary {
  n: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  return {
    n,
    mean: n ? sorted.reduce((a, b) => a + b, 0) / n : Number.NaN,
    min: sorted[0] ?? Number.NaN,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[n - 1] ?? Number.NaN,
  };
}

export { quantile };

/** `1.234 ms`-style formatting for console tables. */
export function ms(value: number, digits = 3): string {
  return `${value.toFixed(digits)} ms`;
}
