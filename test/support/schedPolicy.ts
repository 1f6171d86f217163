/**
 * Each thread's scheduling class and niceness as the kernel reports them (`/proc/<pid>/task/<tid>/stat`:
 * field 19 the niceness, field 41 the policy), to check what protocol/server/background.ts set.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const SCHED_OTHER = 0;
export const SCHED_FIFO = 1;
export const SCHED_IDLE = 5;

export interface ThreadSched {
  tid: number;
  policy: number;
  nice: number;
}

export function threadScheds(pid: number): ThreadSched[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // fields after the command name (which may hold spaces) start at field 3
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return [{ tid: Number(tid), nice: Number(fields[19 - 3]), policy: Number(fields[41 - 3]) }];
    } catch {
      return []; // ended meanwhile
    }
  });
}

/** Whether util-linux chrt is here (the idle class is set with it). */
export const chrtAvailable = (): boolean => spawnSync('chrt', ['--max'], { stdio: 'ignore' }).status === 0;
