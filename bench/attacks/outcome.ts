/** What every attack of `bench attacks` reports, and what the attack files share. */

export interface Outcome {
  attack: string;
  /** A new session from another subnet got its welcome while the attack ran. */
  admitted: boolean | null;
  /** The serving process' RSS; `launcher`: the launcher's, when the node was re-launched for V8 flags (it only waits). */
  rssMiB: { before: number; peak: number; after: number; launcher?: number } | null;
  /** When the node was re-launched for V8 flags: the process measured and the one started. */
  pids?: { serving: number; launcher: number };
  bystander: { unloadedP99: number; attackP99: number; ratio: number; failures: number } | null;
  /**
   * The node's own view, unloaded vs under attack: its CPU share (utime + stime over the window)
   * and event-loop lag p99 (prom-client's, reset at each scrape; under attack the worst of the
   * per-second values, detail.perSecondLagP99). On a shared machine the
   * bystander's round trip also carries the OS scheduler's delays; these do not.
   */
  node: { cpuShare: { unloaded: number; attack: number }; eventLoopLagP99Ms: { unloaded: number; attack: number } } | null;
  detail: Record<string, unknown>;
  /** With --compare-args or --compare-root: 'defaults' or the compared flags / checkout. */
  variant?: string;
  /** With --rounds: which round (0-based). */
  round?: number;
}

export const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The i-th of 20 loopback source addresses the attackers spread over (per-address caps see 20 clients). */
export const addr = (i: number) => `127.0.0.${2 + (i % 20)}`;
