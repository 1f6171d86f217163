import { execFileSync } from 'node:child_process';
import os from 'node:os';

/**
 * Pins `pid` (all its threads) to `cpu` when taskset and a second core exist; says whether it did.
 * The machine's cores, not `availableParallelism()`: that follows this process's own affinity, so
 * a caller that pinned itself first could no longer pin anything else.
 */
export function pinProcess(pid: number, cpu: number): boolean {
  if (os.cpus().length < 2) return false;
  try {
    execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
