/**
 * Core pinning for the load benches, one mechanism: a running process (this one included) is
 * pinned with `taskset -a -pc`, a child is started under `taskset -c` so it never runs a single
 * instruction on the wrong core.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
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
