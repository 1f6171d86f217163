/**
 * Watches one node connection with its own ping loop and judges it: `lost` when pings stop
 * coming back (a wedged node or a pulled cable closes no socket), `overbudget` when RTT stays
 * above the budget. The interval changes with the link's role: fast on the active link, slow on
 * a standby that only has to stay warm.
 */
import type { NodeConnection } from './NodeConnection.js';

export interface LinkMonitorOptions {
  intervalMs: number;
  /** Consecutive intervals without a pong, beyond the usual RTT, before the link counts as lost. */
  missedPings: number;
  budgetMs: number;
  /** Consecutive pongs over budget before `overbudget` fires. */
  overBudgetPings: number;
  onRtt(rttMs: number): void;
  onLost(why: string): void;
  onOverBudget(rttMs: number): void;
}

export class LinkMonitor {
  readonly #conn: NodeConnection;
  readonly #options: LinkMonitorOptions;
  #intervalMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastPongAt = performance.now();
  /** Smoothed RTT (RFC 6298 style), the expected wait for a pong. */
  #srtt = Number.NaN;
  #overBudget = 0;
  #stopped = false;

  constructor(conn: NodeConnection, options: LinkMonitorOptions) {
    this.#conn = conn;
    this.#options = options;
    this.#intervalMs = options.intervalMs;
  }

  get srttMs(): number {
    return this.#srtt;
  }

  /** Seeds the smoothed RTT with a probe's measurement. */
  seed(rttMs: number): void {
    if (Number.isNaN(this.#srtt)) this.#srtt = rttMs;
  }

  start(intervalMs = this.#intervalMs): void {
    this.#intervalMs = intervalMs;
    this.#stopped = false;
    this.#lastPongAt = performance.now();
    this.#overBudget = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#tick();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    if (this.#stopped || this.#conn.closed) return;
    const silentMs = performance.now() - this.#lastPongAt;
    const expected = Number.isNaN(this.#srtt) ? 0 : this.#srtt;
    if (silentMs > this.#options.missedPings * this.#intervalMs + expected) {
      this.stop();
      this.#options.onLost(`no pong for ${Math.round(silentMs)} ms (${this.#options.missedPings} × ${this.#intervalMs} ms pings)`);
      return;
    }
    this.#conn
      .ping(Math.max(1000, 10 * this.#intervalMs))
      .then((rttMs) => this.#onPong(rttMs))
      .catch(() => {}); // a closed connection reports itself through 'close'; a late pong is just late
    this.#timer = setTimeout(() => this.#tick(), this.#intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #onPong(rttMs: number): void {
    if (this.#stopped) return;
    this.#lastPongAt = performance.now();
    this.#srtt = Number.isNaN(this.#srtt) ? rttMs : 0.875 * this.#srtt + 0.125 * rttMs;
    this.#options.onRtt(rttMs);
    if (rttMs > this.#options.budgetMs) {
      if (++this.#overBudget >= this.#options.overBudgetPings) {
        this.#overBudget = 0;
        this.#options.onOverBudget(rttMs);
      }
    } else {
      this.#overBudget = 0;
    }
  }
}
