/**
 * Where a process's time went, from the kernel's scheduler statistics (`/proc/<pid>/task/<tid>/schedstat`:
 * ns on a CPU, ns runnable but waiting for one, timeslices): a slow request that used little CPU
 * either waited for a core (run delay) or for something else (a reply). Linux only; elsewhere the
 * readers return undefined and the benches leave the split out.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export interface SchedTimes {
  /** ns on a CPU. */
  cpuNs: number;
  /** ns runnable, waiting for a CPU. */
  waitNs: number;
}

function parse(text: string): SchedTimes | undefined {
  const [cpu, wait] = text.split(' ');
  const cpuNs = Number(cpu);
  const waitNs = Number(wait);
  return Number.isFinite(cpuNs) && Number.isFinite(waitNs) ? { cpuNs, waitNs } : undefined;
}

/** One thread's times (`tid` defaults to the main thread, which runs Node's and Redis's event loop). */
export function schedTimes(pid: number, tid = pid): SchedTimes | undefined {
  try {
    return parse(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1'));
  } catch {
    return undefined;
  }
}

/**
 * A reader of one thread's times that keeps its file open and re-reads it in place (pread at 0:
 * ~5 µs, no path lookup), for sampling around every request of a bench.
 */
export class SchedReader {
  readonly #fd: number;
  readonly #buf = Buffer.alloc(128);
  private constructor(fd: number) {
    this.#fd = fd;
  }
  /** Undefined where the kernel has no schedstat (not Linux, or built without it). */
  static open(pid: number | 'self', tid: number | undefined = pid === 'self' ? undefined : pid): SchedReader | undefined {
    try {
      return new SchedReader(openSync(pid === 'self' ? '/proc/thread-self/schedstat' : `/proc/${pid}/task/${tid}/schedstat`, 'r'));
    } catch {
      return undefined;
    }
  }
  read(): SchedTimes | undefined {
    try {
      return parse(this.#buf.toString('latin1', 0, readSync(this.#fd, this.#buf, 0, this.#buf.length, 0)));
    } catch {
      return undefined;
    }
  }
  close(): void {
    closeSync(this.#fd);
  }
}
