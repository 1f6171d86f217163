/**
 * Drives `streams` frame streams at `hz` from one 1 ms timer, each on its own absolute schedule:
 * stream i's frame k is due at start + i·period/streams + k·period.
 *
 * Why not one setInterval per stream: Node re-arms an interval from when its callback ran, so
 * streams delayed together by one event-loop hiccup stay together, and after a few hiccups the
 * "independent" headsets send in clumps a real fleet never would; the clumps, not the node,
 * then set the tail. Here a late frame goes out at the next tick and the schedule does not move.
 * A frame more than one period late is skipped (a headset renders the next frame rather than
 * catching up) and counted.
 */
export class FrameClock {
  readonly #period: number;
  readonly #due: Float64Array;
  readonly #onFrame: (stream: number, dueMs: number) => void;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Frames dropped because they were over a period late. */
  skipped = 0;
  /** How late each sent frame left, ms (timer granularity plus event-loop delay). */
  readonly lateness: number[] = [];

  constructor(streams: number, hz: number, onFrame: (stream: number, dueMs: number) => void) {
    this.#period = 1000 / hz;
    this.#due = new Float64Array(streams);
    this.#onFrame = onFrame;
  }

  start(): void {
    const start = performance.now();
    const n = this.#due.length;
    for (let i = 0; i < n; i++) this.#due[i] = start + (i * this.#period) / n;
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), 1);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const now = performance.now();
    for (let i = 0; i < this.#due.length; i++) {
      let due = this.#due[i]!;
      if (due > now) continue;
      while (now - due > this.#period) {
        due += this.#period;
        this.skipped++;
      }
      this.lateness.push(now - due);
      this.#onFrame(i, due);
      this.#due[i] = due + this.#period;
    }
  }
}
