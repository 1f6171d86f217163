/**
 * Where a process's time went, from the kernel's scheduler statistics (`/proc/<pid>/task/<tid>/schedstat`:
 * ns on a CPU, ns runnable but waiting for one, timeslices): a slow request that used little CPU
 * either waited for a core (run delay) or for something else (a reply). Linux only; elsewhere the
 * readers return undefined and the benches leave the split out.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

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

/**
 * Every thread of a process read together (each thread's SchedReader, opened once): what the
 * threads beside a request's own ran meanwhile (V8's platform workers, libuv's pool, a child
 * process's threads). Threads started after open() are not seen; one that ended reads as 0.
 */
export class ThreadsReader {
  readonly pid: number;
  readonly tids: number[];
  readonly #readers: (SchedReader | undefined)[];
  private constructor(pid: number, tids: number[]) {
    this.pid = pid;
    this.tids = tids;
    this.#readers = tids.map((tid) => SchedReader.open(pid, tid));
  }
  /** Undefined off Linux (no /proc/<pid>/task). */
  static open(pid: number): ThreadsReader | undefined {
    try {
      return new ThreadsReader(pid, readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => a - b));
    } catch {
      return undefined;
    }
  }
  /** ns on a CPU so far, per thread in `tids` order (0 for one gone). */
  read(): number[] {
    return this.#readers.map((r) => r?.read()?.cpuNs ?? 0);
  }
  /** Each thread's niceness (field 19 of /proc/<pid>/task/<tid>/stat), NaN when unreadable. */
  nice(): number[] {
    return this.tids.map((tid) => {
      try {
        const stat = readFileSync(`/proc/${this.pid}/task/${tid}/stat`, 'latin1');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      } catch {
        return NaN;
      }
    });
  }
  close(): void {
    for (const r of this.#readers) r?.close();
  }
}

/** One CPU's time from /proc/stat, ms (the kernel counts it in clock ticks: 10 ms at USER_HZ 100). */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}
const CPU_FIELDS = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
/** Clock ticks per second of /proc/stat (USER_HZ; 100 on every Linux ABI Node runs on). */
const USER_HZ = 100;

/**
 * One CPU's line of /proc/stat, re-read in place (pread at 0): who used the core (user, niced
 * processes, the kernel, interrupts, softirqs, the hypervisor) around each request. Tick-grained
 * (10 ms): meaningful summed over many requests, not for one.
 */
export class CpuStatReader {
  readonly #fd: number;
  readonly #prefix: string;
  readonly #buf = Buffer.alloc(16 * 1024);
  private constructor(fd: number, cpu: number) {
    this.#fd = fd;
    this.#prefix = `\ncpu${cpu} `;
  }
  static open(cpu: number): CpuStatReader | undefined {
    try {
      return new CpuStatReader(openSync('/proc/stat', 'r'), cpu);
    } catch {
      return undefined;
    }
  }
  read(): CpuTimes | undefined {
    try {
      const text = this.#buf.toString('latin1', 0, readSync(this.#fd, this.#buf, 0, this.#buf.length, 0));
      const at = text.indexOf(this.#prefix);
      if (at < 0) return undefined;
      const fields = text.slice(at + this.#prefix.length, text.indexOf('\n', at + 1)).trim().split(/\s+/).map(Number);
      return Object.fromEntries(CPU_FIELDS.map((f, i) => [f, ((fields[i] ?? 0) * 1000) / USER_HZ])) as unknown as CpuTimes;
    } catch {
      return undefined;
    }
  }
  close(): void {
    closeSync(this.#fd);
  }
}
