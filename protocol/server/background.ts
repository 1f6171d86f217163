/**
 * Puts threads that must not delay a request in the background (Linux): a discovery replica's
 * channel process (SCHED_IDLE where it may be lifted again) and helper threads (niceness), beside
 * the query thread on the replica's core.
 *
 * Niceness alone no longer does this. Since Linux 6.6 the scheduler (EEVDF) lets the task that is
 * running finish its slice (0.7 ms × (1 + log2 cores): 1.4 ms on 2 cores) before a task that just
 * woke, whatever their niceness. Niceness changes their shares of the core, not how long a woken
 * query waits. Measured on this project's 2-core VM (kernel 6.18): a process was woken every
 * 1-6 ms on a core where another ran 2.5 ms of every 10. Its wake-up wait, p50 / p99:
 * - the other at nice 0: 0.10 / 2.5 ms;
 * - at nice 10: 0.09 / 2.4 ms;
 * - SCHED_BATCH at nice 10: 0.09 / 2.4 ms;
 * - SCHED_IDLE: 0.08 / **0.15 ms**.
 *
 * A SCHED_IDLE thread gives the core up the moment something wakes. It is still picked when the
 * thread that runs has used its slice and is owed no more time than the idle one (EEVDF's
 * eligibility, whatever the weights), and it then keeps the core until a tick: up to ~5.5 ms at
 * 250 Hz (round 26's scheduler trace, discovery/queryThread.ts, which puts the query thread in
 * SCHED_FIFO for that). The price of the idle class is its floor: on a core kept 100 % busy it
 * gets ~0.3 % (nice 10: ~10 %). A channel process put there at start-up on a core two busy loops
 * held never started (CI under two CPU hogs: 30 s, CHANNEL_TIMEOUT). So it is used only for a process that is
 * already running, by a caller that may lift it back out (`mayLeaveIdle`): entering SCHED_IDLE
 * needs no privilege, leaving it needs CAP_SYS_NICE (`foregroundProcess`).
 * It is set with util-linux `chrt`, because Node has no call for it. Where `chrt` is missing or
 * refuses, the threads get `fallbackNice` instead (the pre-EEVDF way), and the caller is told.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** What the threads got: the idle class, a niceness, or nothing (no /proc: not Linux). */
export type Background = 'idle' | 'nice' | 'none';

/** The scheduling classes this project sets (chrt's names): SCHED_IDLE, SCHED_OTHER, SCHED_FIFO. */
export type SchedClass = 'idle' | 'other' | 'fifo';

/**
 * Every thread of process `pid` in `cls` at `priority` (0 but for fifo: 1-99), with util-linux
 * `chrt` (threads it starts later inherit it from their creator). `thread`: only the thread whose
 * id is `pid` (a process's main thread has its pid). `resetOnFork`: threads and processes it
 * starts later begin in SCHED_OTHER instead (SCHED_RESET_ON_FORK). Says whether it took: leaving
 * SCHED_IDLE and entering SCHED_FIFO need CAP_SYS_NICE.
 */
export function setSchedClass(pid: number, cls: SchedClass, priority = 0, how: { thread?: boolean; resetOnFork?: boolean } = {}): boolean {
  if (process.platform !== 'linux') return false;
  const args = [`--${cls}`, ...(how.resetOnFork ? ['--reset-on-fork'] : []), ...(how.thread ? [] : ['--all-tasks']), '--pid', String(priority), String(pid)];
  return spawnSync('chrt', args, { stdio: 'ignore', timeout: 5000 }).status === 0;
}

function threadsOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

function niceAll(tids: readonly number[], nice: number): number {
  let done = 0;
  for (const tid of tids) {
    try {
      setPriority(tid, nice);
      done++;
    } catch {
      // ended meanwhile
    }
  }
  return done;
}

/**
 * Every thread of process `pid` in SCHED_IDLE (threads it starts later inherit it from their
 * creator), else at `fallbackNice`.
 */
export function backgroundProcess(pid: number, fallbackNice: number): Background {
  return setSchedClass(pid, 'idle') ? 'idle' : niceProcess(pid, fallbackNice);
}

/** Every thread of process `pid` at niceness `nice` (Linux niceness is per thread). */
export function niceProcess(pid: number, nice: number): Background {
  const tids = threadsOf(pid);
  return niceAll(tids.length > 0 ? tids : [pid], nice) > 0 ? 'nice' : 'none';
}

/**
 * This process's threads but the main one at niceness `nice` (V8's platform workers, libuv's pool,
 * Node's helpers), and how many took it. Not SCHED_IDLE: libuv's pool does the process's own file
 * and DNS work, and in the idle class any other task on the core (a neighbour's batch job, a CI
 * run's busy loop) would stall it without a floor. Threads started later inherit the main
 * thread's niceness, not this one.
 */
export function niceHelperThreads(nice: number): number {
  return niceAll(threadsOf(process.pid).filter((tid) => tid !== process.pid), nice);
}

/**
 * Whether this process may take a thread back out of SCHED_IDLE (CAP_SYS_NICE in its effective
 * capabilities, /proc/self/status): only then is the idle class safe to use, because a thread
 * starved there can be lifted again (ChannelProcess #starved).
 */
export function mayLeaveIdle(): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex !== undefined && (BigInt('0x' + hex) & (1n << CAP_SYS_NICE)) !== 0n;
  } catch {
    return false;
  }
}
const CAP_SYS_NICE = 23n;

/**
 * Every thread of process `pid` back in the normal class at niceness `nice`. Only a process with
 * CAP_SYS_NICE may do this to a thread in SCHED_IDLE. Says whether it took.
 */
export function foregroundProcess(pid: number, nice: number): boolean {
  return setSchedClass(pid, 'other') && niceAll(threadsOf(pid), nice) > 0;
}
