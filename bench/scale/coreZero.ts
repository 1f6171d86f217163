/**
 * `bench scale --queries-only`: who ran on the replica's core while each query waited for it
 * (issue #13: the slowest 1 % were mostly the query thread runnable but off the core). Around each
 * query it reads, from the kernel's per-thread schedstat, the CPU of the replica's other threads
 * (V8's platform workers: concurrent marking, parallel scavenge, background compilation; libuv's
 * pool; Node's own) and of the channel process's threads (main and others), and the core's line of
 * /proc/stat (user, niced, system, irq, softirq, steal: whoever else ran there, the kernel's
 * interrupts included). The rest of the query thread's wait, `elsewhereMs`, is what none of those
 * threads explain: other processes on the core, or kernel work counted to no task.
 *
 * The reads cost ~5 µs a thread (pread of an open file) outside the timed stretch; at 200 queries
 * a second and ~20 threads that is ~4 % of the core, the same in every variant of this build.
 */
import { CpuStatReader, ThreadsReader, type CpuTimes } from '../lib/schedstat.js';

interface Sample {
  replicaOthersNs: number;
  channelMainNs: number;
  channelOthersNs: number;
  cpu: CpuTimes;
}

const sum = (v: number[], skip: number) => v.reduce((a, b, i) => (i === skip ? a : a + b), 0);
const minus = (a: CpuTimes, b: CpuTimes): CpuTimes => Object.fromEntries(Object.keys(a).map((k) => [k, a[k as keyof CpuTimes] - b[k as keyof CpuTimes]])) as unknown as CpuTimes;

export class CoreSampler {
  readonly #core: number;
  readonly #replica: ThreadsReader;
  readonly #channel: ThreadsReader | undefined;
  readonly #cpu: CpuStatReader;
  readonly #samples: Sample[] = [];
  #r0: number[] = [];
  #c0: number[] = [];
  #t0: CpuTimes | undefined;
  readonly #rStart: number[];
  readonly #cStart: number[];
  readonly #started = performance.now();

  private constructor(core: number, replica: ThreadsReader, channel: ThreadsReader | undefined, cpu: CpuStatReader) {
    this.#core = core;
    this.#replica = replica;
    this.#channel = channel;
    this.#cpu = cpu;
    this.#rStart = replica.read();
    this.#cStart = channel?.read() ?? [];
  }

  /** Undefined off Linux. `channelPid`: the replica's channel process, if it has one. */
  static open(core: number, channelPid: number | undefined): CoreSampler | undefined {
    const replica = ThreadsReader.open(process.pid);
    const cpu = CpuStatReader.open(core);
    if (!replica || !cpu) return undefined;
    return new CoreSampler(core, replica, channelPid ? ThreadsReader.open(channelPid) : undefined, cpu);
  }

  before(): void {
    this.#r0 = this.#replica.read();
    this.#c0 = this.#channel?.read() ?? [];
    this.#t0 = this.#cpu.read();
  }

  after(): void {
    const r = this.#replica.read().map((v, i) => v - (this.#r0[i] ?? v));
    const c = (this.#channel?.read() ?? []).map((v, i) => v - (this.#c0[i] ?? v));
    const t = this.#cpu.read();
    const cpu = t && this.#t0 ? minus(t, this.#t0) : minus(this.#zero(), this.#zero());
    this.#samples.push({ replicaOthersNs: sum(r, this.#replica.tids.indexOf(process.pid)), channelMainNs: c[this.#channelMain()] ?? 0, channelOthersNs: sum(c, this.#channelMain()), cpu });
  }

  #channelMain(): number {
    return this.#channel ? this.#channel.tids.indexOf(this.#channel.pid) : -1;
  }

  #zero(): CpuTimes {
    return { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };
  }

  /**
   * Means over the queries `idx` (ms per query; means, not medians, so the parts add up): the
   * query thread's wait for the core and who ran meanwhile.
   */
  split(idx: number[], waitNs: (i: number) => number) {
    const n = Math.max(1, idx.length);
    const mean = (f: (s: Sample, i: number) => number) => +(idx.reduce((a, i) => a + f(this.#samples[i]!, i), 0) / n).toFixed(3);
    const waitMs = mean((_, i) => waitNs(i) / 1e6);
    const replicaOthersMs = mean((s) => s.replicaOthersNs / 1e6);
    const channelMainMs = mean((s) => s.channelMainNs / 1e6);
    const channelOthersMs = mean((s) => s.channelOthersNs / 1e6);
    const core = Object.fromEntries(Object.keys(this.#zero()).map((k) => [`${k}Ms`, mean((s) => s.cpu[k as keyof CpuTimes])]));
    return {
      queries: idx.length,
      queryWaitingForCoreMs: waitMs,
      replicaOtherThreadsCpuMs: replicaOthersMs,
      channelMainThreadCpuMs: channelMainMs,
      channelOtherThreadsCpuMs: channelOthersMs,
      /** The wait none of the threads above explain: other processes on the core, or the kernel. */
      elsewhereMs: +(waitMs - replicaOthersMs - channelMainMs - channelOthersMs).toFixed(3),
      /** The core's /proc/stat over these queries (tick-grained: 10 ms, read as a mean over many). */
      [`cpu${this.#core}`]: core,
    };
  }

  /** Over the whole window: each thread's share of a core (tid order, main first), and the channel threads' niceness. */
  window() {
    const seconds = (performance.now() - this.#started) / 1000;
    const shares = (now: number[], start: number[]) => now.map((v, i) => +((v - (start[i] ?? 0)) / 1e9 / seconds).toFixed(4));
    return {
      replicaThreads: { tids: this.#replica.tids, coreShare: shares(this.#replica.read(), this.#rStart), nice: this.#replica.nice() },
      ...(this.#channel ? { channelThreads: { tids: this.#channel.tids, coreShare: shares(this.#channel.read(), this.#cStart), nice: this.#channel.nice() } } : {}),
    };
  }

  close(): void {
    this.#replica.close();
    this.#channel?.close();
    this.#cpu.close();
  }
}
