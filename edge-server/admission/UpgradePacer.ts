/**
 * Bounded handshake work per event-loop turn (issue #15, attack 1: 1,000 hellos from 20 addresses
 * at once held a bystander's predicts 100-280 ms while the node set them up).
 *
 * Why: every pending connection is accepted, parsed and handed to the `upgrade` handler in the
 * turn its bytes arrive, and what the handler then does (the WebSocket handshake: a SHA-1, the
 * 101 response, a `ws` object; then a Session with its guards, predictors and seals, and its
 * `hello` — a signed welcome — a turn later) was done for all of them back to back: hundreds of
 * handshakes in one turn, each ~0.3-0.5 ms of CPU (profiled), and every live session's frames
 * waited behind them.
 *
 * How: the caps are decided at once, in arrival order (a refusal is a status line written on the
 * socket: cheap), and an admitted upgrade's handshake is queued; at most `perTurn` queued
 * handshakes run per event-loop turn (one `setImmediate` batch), with every socket's reads in
 * between. Past
 * `maxPending` waiting, an upgrade is refused 503 with `retry-after` (`UPGRADES_QUEUED`): a
 * storm's tail is told to come back, not held. A socket that closes while waiting is skipped.
 * Since a client says `hello` only after its handshake, hellos are paced the same way.
 */

/** [DEFAULT_UPGRADES_PER_TURN=8] handshakes per event-loop turn: a turn of them costs ~3-4 ms, what a bystander then waits. */
export const DEFAULT_UPGRADES_PER_TURN = 8;
/** [DEFAULT_MAX_PENDING_UPGRADES=512] handshakes waiting their turn; beyond, 503 (the queue drains in ~64 turns). */
export const DEFAULT_MAX_PENDING_UPGRADES = 512;

export interface UpgradePacerOptions {
  /** WebSocket handshakes (and the sessions they start) per event-loop turn; 0: no bound. @default 8 */
  perTurn?: number;
  /** Handshakes waiting their turn, beyond which an upgrade is refused 503 (`UPGRADES_QUEUED`). @default 512 */
  maxPending?: number;
}

/** What waits: the handshake itself, and whether its socket is still worth it. */
export interface PendingUpgrade {
  alive(): boolean;
  run(): void;
  /** The pacer closed before its turn: let the socket go. */
  cancel(): void;
}

export class UpgradePacer {
  readonly perTurn: number;
  readonly maxPending: number;
  #queue: PendingUpgrade[] = [];
  #head = 0;
  #scheduled = false;
  /** Handshakes that waited past the first batch, turns with handshakes, the most in one turn, refusals (tests, /admin/health). */
  readonly #stats = { deferred: 0, turns: 0, mostInOneTurn: 0, refused: 0 };

  constructor(options: UpgradePacerOptions = {}) {
    this.perTurn = options.perTurn ?? DEFAULT_UPGRADES_PER_TURN;
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_UPGRADES;
    if (!Number.isInteger(this.perTurn) || this.perTurn < 0) throw new TypeError('upgrades.perTurn must be a whole number (0: no bound)');
    if (!Number.isInteger(this.maxPending) || this.maxPending < 1) throw new TypeError('upgrades.maxPending must be a positive integer');
  }

  get pending(): number {
    return this.#queue.length - this.#head;
  }

  stats(): { pending: number; deferred: number; turns: number; mostInOneTurn: number; refused: number } {
    return { pending: this.pending, ...this.#stats };
  }

  /**
   * Queues `upgrade` for the next turn's batch (honest clients wait one `setImmediate`: microseconds
   * on an idle node). False when the queue is full: the caller refuses the upgrade.
   */
  submit(upgrade: PendingUpgrade): boolean {
    if (this.perTurn === 0) {
      upgrade.run();
      return true;
    }
    if (this.pending >= this.maxPending) {
      this.#stats.refused++;
      return false;
    }
    this.#queue.push(upgrade);
    if (this.pending > this.perTurn) this.#stats.deferred++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#drain);
    }
    return true;
  }

  /** Cancels what waits (the server closes). */
  close(): void {
    const waiting = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    for (const upgrade of waiting) upgrade.cancel();
  }

  /** One batch per turn; every socket's reads run between batches. */
  readonly #drain = (): void => {
    let ran = 0;
    while (ran < this.perTurn && this.#head < this.#queue.length) {
      const next = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as never;
      if (!next.alive()) continue;
      ran++;
      next.run();
    }
    if (ran > 0) {
      this.#stats.turns++;
      this.#stats.mostInOneTurn = Math.max(this.#stats.mostInOneTurn, ran);
    }
    if (this.#head >= this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      this.#scheduled = false;
    } else {
      setImmediate(this.#drain);
    }
  };
}
