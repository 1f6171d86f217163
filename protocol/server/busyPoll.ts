/**
 * Busy-polling while a reply is awaited: the event loop keeps turning (setImmediate, so libuv
 * polls its sockets with a zero timeout) instead of sleeping in epoll until the reply wakes it,
 * for at most `maxMs` per wait. The thread never sleeps, so the reply is read without a wake-up.
 *
 * Why: a woken thread waits for its core. On a VM an idle core's vCPU is halted, and the host
 * takes its time to run it again: `bench wake-latency` measured a woken task's p99 at 1.4-3.9 ms
 * on this project's 2-core VM with nothing else on its core, and 0.7 ms when a SCHED_IDLE busy
 * loop kept the core running. A thread that polls is never off its core by its own choice while
 * its reply is due. Low-latency servers poll for the same reason (SO_BUSY_POLL, poll-mode
 * drivers). A thread that runs that long also uses up its scheduler slice: on a core it shares,
 * the kernel may then hand the core to a neighbour until the next tick (EEVDF), which is why a
 * one-core replica's query thread also runs in SCHED_FIFO (discovery/queryThread.ts).
 *
 * Cost: the core is busy for the whole wait (~1 ms a Redis query), CPU the channel process and
 * other tenants of the core do not get; bounded by `maxMs` per wait, and nothing when idle.
 */
export class BusyPoll {
  readonly maxMs: number;
  #pending = 0;
  #until = 0;
  #polling = false;
  /** When the running turn began (performance.now()). */
  #turnStart = -Infinity;

  /** `maxMs` 0: waits sleep as usual. */
  constructor(maxMs: number) {
    if (!(maxMs >= 0)) throw new RangeError(`busy-poll time must be 0 or more ms, got ${maxMs}`);
    this.maxMs = maxMs;
  }

  /** `reply`, with the loop polling until it settles or maxMs pass (one poller for any number of waits). */
  wait<T>(reply: Promise<T>): Promise<T> {
    if (this.maxMs === 0) return reply;
    this.#pending++;
    this.#until = Math.max(this.#until, performance.now() + this.maxMs);
    if (!this.#polling) {
      this.#polling = true;
      this.#turnStart = -Infinity; // no turn to measure before the first
      setImmediate(this.#poll);
    }
    return reply.finally(() => void this.#pending--);
  }

  /** Whether the loop is polling now (tests). */
  get polling(): boolean {
    return this.#polling;
  }

  // Each turn spins about a slice (SLICE_MS, 25 µs) in JS before it lets the loop poll again (a
  // reply waits at most that much longer to be read). One setImmediate per turn (every ~3 µs) doubled a replica's
  // scavenges under bench scale's churn (15 → 30 in 15 s), and a spin that read the clock to end
  // its slice (performance.now() allocates) doubled them again: the slice is counted in loop
  // iterations and the clock is read once a turn. The count adapts: a turn shorter than half a
  // slice doubles it. A count measured once, up front, was 18× too small on a real-time query
  // thread (discovery/queryThread.ts): V8 compiles spin() on a helper thread, which gets the
  // core only when the real-time thread sleeps, so the measure timed the unoptimised loop
  // (1.5 µs slices, 17× the turns and their garbage: 64 KB a query instead of 46).
  readonly #poll = (): void => {
    const now = performance.now();
    if (this.#pending === 0 || now >= this.#until) {
      this.#polling = false;
      return;
    }
    if (now - this.#turnStart < SLICE_MS / 2 && iterationsPerSlice < MAX_ITERATIONS) iterationsPerSlice *= 2;
    this.#turnStart = now;
    spinSink ^= spin(iterationsPerSlice);
    setImmediate(this.#poll);
  };
}

const SLICE_MS = 0.025;
/** Loop iterations a slice spins: starts low, doubled by turns that end too soon (shared: one machine, one JIT). */
let iterationsPerSlice = 1024;
const MAX_ITERATIONS = 2 ** 26;
/** Written by every slice, so the spin loop has an effect and is not optimised away. */
let spinSink = 0;

function spin(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x ^= i;
  return x;
}
