/**
 * Core pinning for the load benches, one mechanism: a running process (this one included) is
 * pinned with `taskset -a -pc`, a child is started under `taskset -c` so it never runs a single
 * instruction on the wrong core.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** A taskset core list: a core number or a list such as "0" or "0,1" or "2-3". */
export type Cores = number | string;

/**
 * Pins `pid` (all its threads) to `cores` when taskset and a second core exist; says whether it did.
 * `taskset -a` walks the process's threads and gives up at the first that ended meanwhile (a
 * process starting up makes and ends threads), leaving the rest unpinned: it is tried again.
 */
export function pinProcess(pid: number, cores: Cores, tries = 5): boolean {
  // the machine's cores, not this process's: availableParallelism() follows our own affinity, and
  // once the bench pinned itself to one core every later pin (the node's!) was skipped, so the
  // node inherited the bench's core and ran beside the attackers and the bystander
  if (os.cpus().length < 2) return false;
  for (let i = 0; i < tries; i++) {
    try {
      execFileSync('taskset', ['-a', '-pc', String(cores), String(pid)], { stdio: 'ignore' });
      return true;
    } catch {
      // a thread ended mid-walk (or no taskset / no such core: every try fails alike)
    }
  }
  return false;
}

/**
 * Pins this process (the load generator) to `cores`, or throws: a load bench whose generator may
 * share the node's core measures the generator.
 */
export function pinSelf(cores: Cores, bench: string): void {
  if (!pinProcess(process.pid, cores)) throw new Error(`${bench} pins the node and the load generator to different cores: it needs taskset (util-linux) and 2 cores`);
}

/** Starts `node args…` pinned to `cores` from its first instruction (`taskset -c`). */
export function spawnPinned(cores: Cores, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn('taskset', ['-c', String(cores), process.execPath, ...args], options);
}

/**
 * Moves the kernel's movable background threads (children of kthreadd allowed on more than one
 * core: on this project's VM chiefly kdamond, the hypervisor's memory monitor, 1-4 % of a core
 * under a large bench) to `core`, and returns how to put them back. The kernel runs them in
 * kernel mode without preemption points for milliseconds (PREEMPT_NONE), at nice 0, on whichever
 * core: a request on a core that one of them took waits for it, and no process of the bench's
 * explains the wait. Per-core kernel threads (ksoftirqd, per-core kworkers) and those the kernel
 * will not move stay where they are. Needs privilege; without it nothing moves and `moved` is empty.
 */
export function moveKernelThreads(core: number): { moved: string[]; restore: () => void } {
  const moved: { pid: number; comm: string; cores: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cores = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1];
      if (parent !== 2 || cores === undefined || /^\d+$/.test(cores)) continue;
      execFileSync('taskset', ['-pc', String(core), name], { stdio: 'ignore' });
      moved.push({ pid: Number(name), comm: readFileSync(`/proc/${name}/comm`, 'utf8').trim(), cores });
    } catch {
      // gone meanwhile, not movable (PF_NO_SETAFFINITY), or no privilege
    }
  }
  return {
    moved: moved.map((m) => m.comm),
    restore: () => {
      for (const m of moved) {
        try {
          execFileSync('taskset', ['-pc', m.cores, String(m.pid)], { stdio: 'ignore' });
        } catch {
          // ended meanwhile
        }
      }
    },
  };
}
