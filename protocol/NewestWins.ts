/**
 * Newest-wins pacing, the one pacer both sides use: at most one job runs, at most one value waits,
 * and a newer value replaces the waiting one. A headset wants the frame for its newest pose, never
 * a backlog of old ones, so the client's frame stream paces its render requests with it and the
 * edge session paces each session's renders with it (the GPU queue then only has to be fair
 * between sessions).
 *
 *   const pacer = new NewestWins<Pose>((pose) => session.render(pose), (stale) => countDropped(stale));
 *   pacer.offer(pose); // runs now, or waits for the running job, replacing anything waiting
 */
export class NewestWins<T> {
  readonly #run: (value: T) => Promise<unknown>;
  readonly #onSuperseded: ((value: T) => void) | undefined;
  #running = false;
  #waiting: { value: T } | undefined;
  #closed = false;

  /**
   * `run` does one job; its promise settling (either way) starts the next. Its rejection is its
   * own business: handle it inside `run`. `onSuperseded` hears every value that was replaced
   * before it ran (the edge answers such a request `SUPERSEDED`).
   */
  constructor(run: (value: T) => Promise<unknown>, onSuperseded?: (value: T) => void) {
    this.#run = run;
    this.#onSuperseded = onSuperseded;
  }

  /** Runs `value` now if idle, else makes it the one waiting value. Ignored once closed. */
  offer(value: T): void {
    if (this.#closed) return;
    if (!this.#running) {
      this.#start(value);
      return;
    }
    const stale = this.#waiting;
    this.#waiting = { value };
    if (stale) this.#onSuperseded?.(stale.value);
  }

  /** A job is running. */
  get busy(): boolean {
    return this.#running;
  }

  /** A value is waiting for the running job to finish. */
  get pending(): boolean {
    return this.#waiting !== undefined;
  }

  /** Stops starting jobs and hands back the waiting value (if any) for the owner to answer. */
  close(): T | undefined {
    this.#closed = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    return waiting?.value;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #start(value: T): void {
    this.#running = true;
    let settled: Promise<unknown>;
    try {
      settled = this.#run(value);
    } catch (error) {
      settled = Promise.reject(error);
    }
    settled.then(this.#next, this.#next);
  }

  readonly #next = (): void => {
    this.#running = false;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting && !this.#closed) this.#start(waiting.value);
  };
}
