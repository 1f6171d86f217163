/**
 * Simulated time for running the SDK's real probing code (client-sdk/placement/probe.ts) against
 * simulated nodes without sleeping: timers and simulated pings are events on one queue; `run`
 * lets every microtask settle, then jumps the clock to the next event. The straggler cut-off
 * therefore fires exactly when it would in real time, and the bench measures the shipped logic.
 */
import type { ProbeClock } from '../../client-sdk/placement/probe.js';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class VirtualClock implements ProbeClock {
  #now = 0;
  #seq = 0;
  readonly #queue: Event[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const event: Event = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#queue.push(event);
    return event;
  }

  clearTimeout(handle: unknown): void {
    if (handle) (handle as Event).cancelled = true;
  }

  /** Resolves after `ms` of simulated time. */
  delay(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Drives simulated time until `promise` settles. */
  async run<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    const settled = promise.finally(() => {
      done = true;
    });
    settled.catch(() => {});
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve)); // every microtask has run
      if (done) return settled;
      let next = -1;
      for (let i = 0; i < this.#queue.length; i++) {
        const e = this.#queue[i]!;
        if (e.cancelled) continue;
        const best = this.#queue[next];
        if (!best || e.at < best.at || (e.at === best.at && e.seq < best.seq)) next = i;
      }
      if (next < 0) throw new Error('simulation stalled: the probe waits on nothing the clock can fire');
      const [event] = this.#queue.splice(next, 1);
      this.#now = Math.max(this.#now, event!.at);
      event!.fn();
    }
  }
}
