/**
 * When a process waited for its core: its cumulative run-queue wait (/proc/<pid>/schedstat, the
 * time it was runnable but another task held the core) sampled every millisecond, so a slow frame
 * can be checked against the node having been ready and not running meanwhile. On a shared
 * machine that is other tenants' work on the pinned core; no code of ours can remove it.
 *
 * One pread of a small file per sample into a reused buffer (no allocation but the number); the
 * samples live in growable typed arrays.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export class RunWaitSampler {
  readonly #fd: number;
  readonly #buf = Buffer.alloc(128);
  #at = new Float64Array(1 << 14);
  #waitMs = new Float64Array(1 << 14);
  #count = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Undefined where the kernel keeps no schedstats. */
  static open(pid: number): RunWaitSampler | undefined {
    try {
      return new RunWaitSampler(openSync(`/proc/${pid}/schedstat`, 'r'));
    } catch {
      return undefined;
    }
  }

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Samples now and every `everyMs` until stop(); samples of earlier starts are kept. */
  start(everyMs = 1): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  close(): void {
    this.stop();
    closeSync(this.#fd);
  }

  /** Run-queue wait (ms) between performance.now() times `from` and `to`, from the nearest samples outside them. */
  waitedMs(from: number, to: number): number {
    const n = this.#count;
    if (n < 2) return NaN;
    const before = this.#indexAtOrBefore(from);
    let after = this.#indexAtOrBefore(to);
    if (after < n - 1 && this.#at[after]! < to) after++;
    return this.#waitMs[after]! - this.#waitMs[Math.max(0, before)]!;
  }

  #indexAtOrBefore(t: number): number {
    let lo = 0;
    let hi = this.#count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#at[mid]! <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  #sample(): void {
    let n: number;
    try {
      n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
    } catch {
      return this.stop(); // the process is gone
    }
    const line = this.#buf.toString('latin1', 0, n);
    const space = line.indexOf(' ');
    const wait = Number(line.slice(space + 1, line.indexOf(' ', space + 1))) / 1e6;
    if (this.#count === this.#at.length) {
      const at = new Float64Array(this.#at.length * 2);
      at.set(this.#at);
      this.#at = at;
      const w = new Float64Array(at.length);
      w.set(this.#waitMs);
      this.#waitMs = w;
    }
    this.#at[this.#count] = performance.now();
    this.#waitMs[this.#count++] = wait;
  }
}
