/**
 * `bench scale --queries-only --sched-trace`: the kernel's own scheduler trace of the replica's
 * core over each query window (tracefs: sched_switch and sched_wakeup on that core only), and for
 * the queries asked about, who held the core while the query thread was runnable but not running.
 *
 * Why a trace: reading CPU times around each query (round 25's per-query /proc sampling) says how
 * much another thread ran, not why it ran first. The trace has each switch and its reason: a
 * woken thread that waited, or a running one switched out while still runnable (prev_state R:
 * preempted). Round 26 read there that the query thread was switched out at the end of its slice
 * for its own V8 compiler threads and its SCHED_IDLE channel process, each then holding the core
 * until a tick (discovery/queryThread.ts).
 *
 * Needs root and tracefs (mounted at /sys/kernel/tracing here if it is not). The trace stays in
 * the kernel's buffer during the window (no reads, no cost to the replica beyond the events); its
 * text is parsed after. The tracer's settings are put back after each window.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

const TRACEFS = '/sys/kernel/tracing';
const SETTINGS = ['tracing_cpumask', 'buffer_size_kb', 'trace_clock', 'set_event'] as const;
/** Per-core buffer: a 15 s churn window is ~40k events on the replica's core (~10 MB of records). */
const BUFFER_KB = 65536;

const SWITCH = /\s(\d+\.\d+): sched_switch: prev_comm=.* prev_pid=(\d+) .*prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d+)/;
const WAKEUP = /\s(\d+\.\d+): sched_wakeup: comm=.* pid=(\d+) /;

/** Who held the core, per query (mean ms over the queries asked about). */
export interface CoreHolders {
  queries: number;
  /** The query thread runnable but not running. */
  waitedMs: number;
  /** Of that wait, who ran: the replica's other threads, the channel process, the idle task, or a kernel thread or process by name. */
  holders: Record<string, number>;
  /** How many of those waits began with the query thread switched out while still runnable (not woken late). */
  preempted: number;
}

type Run = [start: number, end: number, pid: number, label: string];

export class SchedTrace {
  readonly #saved: Map<string, string>;
  readonly #offsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  /** Who ran on the core, in order (from stop()). */
  #runs: Run[] = [];
  /** When the query thread was runnable but not running, and whether that began with a preemption (from stop()). */
  #waits: [start: number, end: number, preempted: boolean][] = [];

  private constructor(saved: Map<string, string>) {
    this.#saved = saved;
  }

  /** Tracing core `cpu` from now; undefined where tracefs is not there or not writable (not root). */
  static start(cpu: number): SchedTrace | undefined {
    try {
      if (!existsSync(`${TRACEFS}/tracing_on`)) spawnSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'ignore' });
      const saved = new Map(SETTINGS.map((f) => [f, readFileSync(`${TRACEFS}/${f}`, 'utf8').trim()]));
      // as read: "[local] global …" (the one in brackets), "7 (expanded: 1408)"
      saved.set('trace_clock', /\[(\w+)\]/.exec(saved.get('trace_clock')!)?.[1] ?? 'local');
      saved.set('buffer_size_kb', /expanded: (\d+)/.exec(saved.get('buffer_size_kb')!)?.[1] ?? /^\d+/.exec(saved.get('buffer_size_kb')!)?.[0] ?? '1408');
      const write = (f: string, v: string) => writeFileSync(`${TRACEFS}/${f}`, v);
      write('tracing_on', '0');
      write('trace', '');
      write('tracing_cpumask', (1 << cpu).toString(16));
      write('buffer_size_kb', String(BUFFER_KB));
      write('trace_clock', 'mono'); // CLOCK_MONOTONIC, as process.hrtime
      write('set_event', 'sched:sched_switch sched:sched_wakeup');
      write('tracing_on', '1');
      return new SchedTrace(saved);
    } catch {
      return undefined;
    }
  }

  /**
   * Stops tracing, puts the tracer's settings back, and reads the trace once: who ran on the core,
   * and when the thread `queryTid` waited for it. `channelPid`: the replica's channel process,
   * named as such.
   */
  stop(queryTid: number, channelPid: number | undefined): void {
    const write = (f: string, v: string) => writeFileSync(`${TRACEFS}/${f}`, v);
    write('tracing_on', '0');
    let text: string;
    try {
      text = readFileSync(`${TRACEFS}/trace`, 'utf8');
    } finally {
      write('trace', '');
      for (const [f, v] of this.#saved) write(f, f === 'set_event' ? v.split('\n').join(' ') : v);
    }
    const own = new Set(tidsOf(process.pid));
    const channel = new Set(channelPid ? tidsOf(channelPid) : []);
    const label = (pid: number, comm: string) =>
      pid === 0 ? 'idle' : own.has(pid) ? "replica's other threads" : channel.has(pid) ? 'channel process' : comm.split('/')[0]!; // kworker/0:1 → kworker
    const runs: Run[] = (this.#runs = []);
    const waits: [number, number, boolean][] = (this.#waits = []);
    let current: { pid: number; label: string; since: number } | undefined;
    let waitingSince: number | undefined;
    let preempted = false;
    for (const line of text.split('\n')) {
      const s = SWITCH.exec(line);
      if (s) {
        const t = Number(s[1]) * 1000;
        const prev = Number(s[2]);
        const next = Number(s[5]);
        if (current) runs.push([current.since, t, current.pid, current.label]);
        current = { pid: next, label: label(next, s[4]!), since: t };
        if (prev === queryTid && s[3]!.startsWith('R')) [waitingSince, preempted] = [t, true];
        if (next === queryTid && waitingSince !== undefined) {
          waits.push([waitingSince, t, preempted]);
          waitingSince = undefined;
        }
        continue;
      }
      const w = WAKEUP.exec(line);
      if (w && Number(w[2]) === queryTid && current?.pid !== queryTid && waitingSince === undefined) [waitingSince, preempted] = [Number(w[1]) * 1000, false];
    }
  }

  /**
   * For each span [start, end) (performance.now() ms) during which the query thread worked on a
   * query: how long it waited for the core, and who held it meanwhile, as means over the spans.
   */
  holders(spans: [number, number][]): CoreHolders {
    const runs = this.#runs;
    const waits = this.#waits;
    const total: Record<string, number> = {};
    let waited = 0;
    let preemptedWaits = 0;
    let r = 0;
    let wi = 0;
    for (const [from, to] of spans.map(([a, b]) => [a + this.#offsetMs, b + this.#offsetMs] as const).sort((x, y) => x[0] - y[0])) {
      while (wi < waits.length && waits[wi]![1] <= from) wi++;
      for (let j = wi; j < waits.length && waits[j]![0] < to; j++) {
        const [a, b, byPreemption] = waits[j]!;
        const lo = Math.max(a, from);
        const hi = Math.min(b, to);
        if (hi <= lo) continue;
        waited += hi - lo;
        if (byPreemption) preemptedWaits++;
        while (r > 0 && runs[r - 1]![1] > lo) r--;
        while (r < runs.length && runs[r]![1] <= lo) r++;
        for (let k = r; k < runs.length && runs[k]![0] < hi; k++) {
          const [ra, rb, , name] = runs[k]!;
          const overlap = Math.min(rb, hi) - Math.max(ra, lo);
          if (overlap > 0) total[name] = (total[name] ?? 0) + overlap;
        }
      }
    }
    const n = Math.max(1, spans.length);
    const mean = (v: number) => +(v / n).toFixed(3);
    return {
      queries: spans.length,
      waitedMs: mean(waited),
      holders: Object.fromEntries(Object.entries(total).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, mean(v)])),
      preempted: preemptedWaits,
    };
  }
}

function tidsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}
