import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** Pins `pid` (all its threads) to `cpu` when taskset and a second core exist; says whether it did. */
export function pinProcess(pid: number, cpu: number): boolean {
  if (os.availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
