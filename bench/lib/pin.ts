import { execFileSync } from 'node:child_process';
import os from 'node:os';

/**
 * Pins `pid` (all its threads) to `cpu` when taskset and a second core exist; says whether it did.
 * `taskset -a` walks the process's threads and gives up at the first that ended meanwhile (a
 * process starting up makes and ends threads), leaving the rest unpinned: it is tried again.
 */
export function pinProcess(pid: number, cpu: number, tries = 5): boolean {
  // the machine's cores, not this process's: availableParallelism() follows our own affinity, and
  // once the bench pinned itself to one core every later pin (the node's!) was skipped, so the
  // node inherited the bench's core and ran beside the attackers and the bystander
  if (os.cpus().length < 2) return false;
  for (let i = 0; i < tries; i++) {
    try {
      execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
      return true;
    } catch {
      // a thread ended mid-walk (or no taskset / no such core: every try fails alike)
    }
  }
  return false;
}
