/**
 * Lowers the priority of the helper threads heavy work runs on but the heavy worker did not start.
 *
 * Why: a heavy worker thread lowers its own nice value and the threads it starts inherit it
 * (llvmpipe's, TensorFlow's), but sharp's JPEG encode and texture decode run on libvips' own
 * worker threads, started from libuv's thread pool, which the process's main thread started at
 * nice 0. On a node pinned to one core that encode (545 ms of CPU per 2×2048² frame on llvmpipe,
 * as much as the render) competed as an equal with the event loop that answers every session's
 * `predict` (issue #15, attack 4: render hogs pushed a bystander's predict p99 to 4.6×).
 *
 * How: after each heavy job, the threads of this process (Linux: /proc/self/task) are listed; a
 * thread not seen before whose name is one of `names` gets `niceness`. Only new threads' names
 * are read, so a steady pool costs one directory listing per job (~50 µs). Where
 * /proc is missing or renicing is not permitted, nothing changes (the threads keep nice 0).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Thread names (`/proc/<pid>/task/<tid>/comm`) of libvips' pool: sharp's encode and decode. */
export const HELPER_THREAD_NAMES: readonly string[] = ['libvips worker'];

export class HelperThreads {
  readonly niceness: number;
  readonly #names: ReadonlySet<string>;
  /** Threads already looked at (reniced or not ours to renice). */
  readonly #seen = new Set<string>();
  #disabled: boolean;
  /** Threads reniced so far. */
  reniced = 0;

  constructor(niceness: number, names: readonly string[] = HELPER_THREAD_NAMES) {
    this.niceness = niceness;
    this.#names = new Set(names);
    this.#disabled = niceness === 0 || process.platform !== 'linux';
  }

  /** Renices helper threads that appeared since the last call. */
  apply(): void {
    if (this.#disabled) return;
    let tids: string[];
    try {
      tids = readdirSync('/proc/self/task');
    } catch {
      this.#disabled = true; // no /proc: nothing to do, ever
      return;
    }
    for (const tid of tids) {
      if (this.#seen.has(tid)) continue;
      this.#seen.add(tid);
      try {
        if (!this.#names.has(readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim())) continue;
        setPriority(Number(tid), this.niceness);
        this.reniced++;
      } catch {
        // the thread ended meanwhile, or renicing is not permitted here: it keeps its priority
      }
    }
    // forget threads that ended, so a recycled id is looked at again
    if (this.#seen.size > tids.length) {
      const live = new Set(tids);
      for (const tid of this.#seen) if (!live.has(tid)) this.#seen.delete(tid);
    }
  }
}
