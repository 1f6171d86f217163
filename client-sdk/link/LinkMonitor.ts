/**
 * Watches one node connection with its own ping loop and judges it: `lost` when pings stop
 * coming back (a wedged node or a pulled cable closes no socket), `overbudget` when RTT stays
 * above the budget. The interval changes with the link's role: fast on the active link, slow on
 * a standby that only has to stay warm.
 */
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { NodeConnection } from './NodeConnection.js';

export interface LinkMonitorOptions {
  intervalMs: number;
  /** Consecutive intervals without a pong, beyond the usual RTT, before the link counts as lost. */
  missedPings: number;
  budgetMs: number;
  /** Consecutive pongs over budget before `overbudget` fires. */
  overBudgetPings: number;
}

export type LinkMonitorEvents = {
  /** A pong came back, ms. */
  rtt: [rttMs: number];
  /** Pongs stopped coming back; the monitor has stopped. */
  lost: [why: string];
  /** `overBudgetPings` pongs in a row were over the budget. */
  overbudget: [rttMs: number];
};

export class LinkMonitor extends EnhancedEventEmitter<LinkMonitorEvents> {
  readonly #conn: NodeConnection;
  readonly #options: LinkMonitorOptions;
  #intervalMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastPongAt = performance.now();
  /** Smoothed RTT and its variation (RFC 6298), the expected wait for a pong and its spread. */
  #srtt = Number.NaN;
  #rttvar = 0;
  /**
   * Extra patience, ms: the owner raises it on a link it has no alternative to, where declaring
   * the link lost would only trade a slow answer for none.
   */
  graceMs = 0;
  #overBudget = 0;
  #stopped = false;

  constructor(conn: NodeConnection, options: LinkMonitorOptions) {
    super();
    this.#conn = conn;
    this.#options = options;
    this.#intervalMs = options.intervalMs;
  }

  get srttMs(): number {
    return this.#srtt;
  }

  /** Seeds the smoothed RTT with a probe's measurement. */
  seed(rttMs: number): void {
    if (!Number.isNaN(this.#srtt)) return;
    this.#srtt = rttMs;
    this.#rttvar = rttMs / 2;
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
    // a pong is due one RTT after its ping; the variation term keeps a jittery but alive link
    // (a busy client, a 60 ms cloud) from being declared lost
    const expected = Number.isNaN(this.#srtt) ? 0 : this.#srtt + 4 * this.#rttvar;
    if (silentMs > this.#options.missedPings * this.#intervalMs + expected + this.graceMs) {
      this.stop();
      this.safeEmit('lost', `no pong for ${Math.round(silentMs)} ms (${this.#options.missedPings} × ${this.#intervalMs} ms pings)`);
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
    if (Number.isNaN(this.#srtt)) {
      this.#srtt = rttMs;
      this.#rttvar = rttMs / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rttMs);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rttMs;
    }
    this.safeEmit('rtt', rttMs);
    if (rttMs > this.#options.budgetMs) {
      if (++this.#overBudget >= this.#options.overBudgetPings) {
        this.#overBudget = 0;
        this.safeEmit('overbudget', rttMs);
      }
    } else {
      this.#overBudget = 0;
    }
  }
}
