/**
 * The query thread of a one-core replica in SCHED_FIFO: `edge-offload discovery --query-thread
 * auto|fifo|other` (env EDGE_OFFLOAD_QUERY_THREAD).
 *
 * Why. On one core the query thread shares the core with the replica's channel process
 * (SCHED_IDLE) and its own helper threads (V8's background compilers, at nice 10). The kernel's
 * scheduler trace of a `bench scale` churn window (discovery/README.md, round 26) showed who held
 * the core while a slow query waited for it: those same tasks, for 2-7 ms at a time. Under EEVDF
 * (Linux 6.6+) a task runs only while it is owed time (lag ≥ 0). Once the query thread has run
 * its slice (~1.5 ms here), any other runnable task with lag to claim is picked instead, however
 * low its weight. With a 250 Hz tick that task then keeps the core until a tick ends its slice:
 * up to ~5.5 ms. A query thread that polls for Redis's reply (busy poll) runs such stretches on
 * every query. Niceness and SCHED_IDLE change shares, not this. A real-time class does: no
 * fair-class task preempts a SCHED_FIFO thread (ours, the kernel's softirq thread, a neighbour's),
 * and the query thread sleeps between queries, so they run then.
 *
 * What keeps it safe:
 * - Only the main thread. Its helpers stay where they are, and threads and processes it starts
 *   later begin in SCHED_OTHER (SCHED_RESET_ON_FORK): a restarted channel process is never
 *   real-time.
 * - The valve. The channel process says when it could not run for a liveness interval
 *   (ChannelProcess 'starved': queries saturate the core). The query thread goes back to
 *   SCHED_OTHER at once, and to SCHED_FIFO again when the channel process goes back to SCHED_IDLE
 *   (its idle retry, 'idle'). `auto` uses SCHED_FIFO only where that valve exists.
 * - The kernel keeps a share of every second for the fair class (RT throttling / the fair server).
 *
 * Entering SCHED_FIFO needs CAP_SYS_NICE: root, `setcap cap_sys_nice+ep` on node, systemd
 * `AmbientCapabilities=CAP_SYS_NICE`, or `docker run --cap-add SYS_NICE`. Without it the thread
 * stays SCHED_OTHER and the banner says so.
 */
import { Logger } from '../protocol/Logger.js';
import { mayLeaveIdle, setSchedClass } from '../protocol/server/background.js';
import { currentGcThreads } from '../protocol/server/gcThreads.js';
import { ChannelProcess } from './channels/ChannelProcess.js';
import type { NodeChannelHost } from './channels/NodeChannelHost.js';

const logger = new Logger('discovery:query-thread');

export type QueryThreadMode = 'auto' | 'fifo' | 'other';
export const DEFAULT_QUERY_THREAD_MODE: QueryThreadMode = 'auto';
export const QUERY_THREAD_ENV = 'EDGE_OFFLOAD_QUERY_THREAD';
/** [QUERY_THREAD_FIFO_PRIORITY=1] The lowest real-time priority: above every fair-class task, below the kernel's real-time threads. */
export const QUERY_THREAD_FIFO_PRIORITY = 1;

/** `--query-thread` (else env EDGE_OFFLOAD_QUERY_THREAD, else auto); TypeError for anything else. */
export function queryThreadMode(value: string | undefined, env: NodeJS.ProcessEnv = process.env): QueryThreadMode {
  const mode = value ?? (env[QUERY_THREAD_ENV] || DEFAULT_QUERY_THREAD_MODE);
  if (mode === 'auto' || mode === 'fifo' || mode === 'other') return mode;
  throw new TypeError(`--query-thread must be auto, fifo or other (env ${QUERY_THREAD_ENV}), got '${mode}'`);
}

/**
 * Whether `mode` puts this replica's query thread in SCHED_FIFO. auto: on a one-core replica
 * (single-threaded GC, discovery/gcThreads.ts) whose node channels run in a channel process that
 * may be lifted out of SCHED_IDLE (CAP_SYS_NICE): the layout the valve above protects.
 */
export function wantsFifo(mode: QueryThreadMode, channels: NodeChannelHost, execArgv: readonly string[] = process.execArgv): boolean {
  if (mode !== 'auto') return mode === 'fifo';
  return currentGcThreads(execArgv) === 'single' && channels instanceof ChannelProcess && mayLeaveIdle();
}

/** This process's main thread: SCHED_FIFO when wanted and allowed, SCHED_OTHER while its channel process starves. */
export class QueryThread {
  readonly wanted: boolean;
  #fifo = false;
  /** How often it went back to SCHED_OTHER because the channel process starved. */
  yielded = 0;

  constructor(wanted: boolean) {
    this.wanted = wanted;
  }

  get schedClass(): 'fifo' | 'other' {
    return this.#fifo ? 'fifo' : 'other';
  }

  /** Into SCHED_FIFO when wanted; says whether it is there (false: not wanted, or no CAP_SYS_NICE). */
  raise(): boolean {
    if (this.wanted && !this.#fifo) this.#fifo = setSchedClass(process.pid, 'fifo', QUERY_THREAD_FIFO_PRIORITY, { thread: true, resetOnFork: true });
    return this.#fifo;
  }

  /** Back to SCHED_OTHER (nice unchanged). Leaving a real-time class needs no privilege. */
  lower(): void {
    if (this.#fifo && setSchedClass(process.pid, 'other', 0, { thread: true, resetOnFork: true })) this.#fifo = false;
  }

  /**
   * The valve: back to SCHED_OTHER when `channels` says it starved, SCHED_FIFO again when it goes
   * back to SCHED_IDLE (its idle retry, or a restarted channel process idle once ready). Returns
   * the call that stops following.
   */
  follow(channels: ChannelProcess): () => void {
    const starved = (ms: number) => {
      if (!this.#fifo) return;
      this.lower();
      if (this.#fifo) return; // chrt refused (leaving a real-time class needs no privilege)
      this.yielded++;
      logger.warn('the channel process could not run for %d ms: the query thread left SCHED_FIFO until the channel process goes back to SCHED_IDLE', Math.round(ms));
    };
    const idle = () => {
      if (!this.#fifo && this.raise()) logger.info('the query thread is back in SCHED_FIFO');
    };
    const ready = () => {
      if (channels.background === 'idle') idle();
    };
    channels.on('starved', starved);
    channels.on('idle', idle);
    channels.on('ready', ready);
    return () => {
      channels.off('starved', starved);
      channels.off('idle', idle);
      channels.off('ready', ready);
    };
  }
}

/** Once the replica listens: its query thread raised as `mode` says, following its channel process. */
export function settleQueryThread(mode: QueryThreadMode, channels: NodeChannelHost, execArgv: readonly string[] = process.execArgv): QueryThread {
  const thread = new QueryThread(wantsFifo(mode, channels, execArgv));
  thread.raise();
  if (channels instanceof ChannelProcess) thread.follow(channels);
  return thread;
}
