/**
 * Closes a session that has sent nothing for `idleMs` (issue #15, attack 1: sessions that said
 * hello and went silent held their slots forever). The SDK pings every few hundred ms, so a live
 * client is never idle for long; `touch()` on every frame costs one number store, not a timer
 * reset: the timer fires every `idleMs / 2` and checks the last touch.
 */
// long: the SDK keeps its warm cloud standby open without traffic, so a short default would cut
// it off (the viewer failover test did at 30 s); per-address caps bound silent sessions meanwhile
export const DEFAULT_IDLE_MS = 600_000;

export class IdleTimer {
  readonly idleMs: number;
  #last: number;
  readonly #timer: NodeJS.Timeout;
  readonly #now: () => number;

  constructor(idleMs: number, onIdle: (silentMs: number) => void, now: () => number = () => performance.now()) {
    if (!(idleMs > 0)) throw new TypeError('idleMs must be positive');
    this.idleMs = idleMs;
    this.#now = now;
    this.#last = now();
    this.#timer = setInterval(() => {
      const silent = this.#now() - this.#last;
      if (silent >= this.idleMs) {
        this.stop();
        onIdle(silent);
      }
    }, Math.max(1, Math.floor(idleMs / 2)));
    this.#timer.unref();
  }

  touch(): void {
    this.#last = this.#now();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
