/**
 * Busy-polling while a reply is awaited: the event loop keeps turning (setImmediate, so libuv
 * polls its sockets with a zero timeout) instead of sleeping in epoll until the reply wakes it,
 * for at most `maxMs` per wait. The thread never sleeps, so the reply is read without a wake-up.
 *
 * Why: a woken thread waits for its core. On a VM an idle core's vCPU is halted, and the host
 * takes its time to run it again: `bench wake-latency` measured a woken task's p99 at 1.4-3.9 ms
 * on this project's 2-core VM with nothing else on its core, and 0.7 ms when a SCHED_IDLE busy
 * loop kept the core running. On one core shared with a channel process (discovery's
 * `--node-channels process`), the thread that sleeps also hands the core to the child, whose
 * kernel work (socket writes) is not preempted at once: the woken thread waits for it. A thread
 * that polls is never off its core while its reply is due. Low-latency servers poll for the same
 * reason (SO_BUSY_POLL, poll-mode drivers).
 *
 * Cost: the core is busy for the whole wait (~1 ms a Redis query), CPU the channel process and
 * other tenants of the core do not get; bounded by `maxMs` per wait, and nothing when idle.
 */
export class BusyPoll {
  readonly maxMs: number;
  #pending = 0;
  #until = 0;
  #polling = false;

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
      setImmediate(this.#poll);
    }
    return reply.finally(() => void this.#pending--);
  }

  /** Whether the loop is polling now (tests). */
  get polling(): boolean {
    return this.#polling;
  }

  // Each turn spins about SLICE_US in JS before it lets the loop poll again (a reply waits at most
  // that much longer to be read). One setImmediate per turn (every ~3 µs) doubled a replica's
  // scavenges under bench scale's churn (15 → 30 in 15 s), and a spin that read the clock to end
  // its slice (performance.now() allocates) doubled them again: the slice is counted in loop
  // iterations, calibrated once, and the clock is read once a turn.
  readonly #poll = (): void => {
    if (this.#pending === 0 || performance.now() >= this.#until) {
      this.#polling = false;
      return;
    }
    spinSink ^= spin((iterationsPerSlice ??= calibrate()));
    setImmediate(this.#poll);
  };
}

const SLICE_US = 25;
let iterationsPerSlice: number | undefined;
/** Written by every slice, so the spin loop has an effect and is not optimised away. */
let spinSink = 0;

function spin(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x ^= i;
  return x;
}

/** Iterations of `spin` in SLICE_US on this machine, measured once (after a warm-up, ~10 ms). */
function calibrate(): number {
  spinSink ^= spin(1e6) ^ spin(1e6);
  const t = performance.now();
  spinSink ^= spin(1e7);
  return Math.max(1, Math.round((1e7 * SLICE_US) / ((performance.now() - t) * 1000)));
}
