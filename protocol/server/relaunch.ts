/**
 * Starting a server command again with V8 flags that V8 reads only at start (the young generation
 * size for discovery and an edge node, the GC threading of an edge node): the launcher spawns the
 * same command with the flags, forwards SIGINT/SIGTERM/SIGHUP/SIGUSR2 and ends as its child did
 * (the same exit code, or killed by the same signal). One extra process start; the launcher then
 * only waits. `v8.setFlagsFromString` is no substitute: a GC flag changed at run time crashed the
 * node as soon as a worker thread started its own isolate, and a semi-space size set at run time
 * does not resize the heap that is already there. Nor is NODE_OPTIONS (it accepts
 * `--max-semi-space-size`, but only a process started with it reads it: the one that would set it
 * is already running).
 *
 * What watches the started pid sees the launcher, so the re-launched process says who serves: the
 * command's `listening` line carries its `pid` (and `launcherPid`), and `relaunchedChild` finds it
 * from the launcher's pid for tooling that reads an older build's line without one. Node flags of
 * the launcher are passed on, `--cpu-prof` included: both processes then write a profile, each
 * named with its own pid (an explicit `--cpu-prof-name` would have the launcher, which exits last,
 * overwrite the node's: give `--cpu-prof-dir` alone and pick the serving pid's file).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';

/** Set in the re-launched process: it exits when its launcher is gone, and never re-launches. */
const RELAUNCHED_ENV = 'EDGE_OFFLOAD_RELAUNCHED';

/**
 * A launch flag's raw value, read before the command parses its arguments (the launcher decides
 * whether to re-launch first): `--name V` or `--name=V` in `argv` (the last wins), else the env
 * variable (set but empty counts as unset); undefined when neither is given.
 */
export function launchFlag(argv: readonly string[], name: string, envName: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  let raw: string | undefined = env[envName] || undefined;
  const flag = `--${name}`;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === flag) raw = argv[i + 1];
    else if (a.startsWith(`${flag}=`)) raw = a.slice(flag.length + 1);
  }
  return raw;
}

/** The launcher's pid in a process this module started, else undefined (no side effects: for the listening line). */
export function launcherPid(): number | undefined {
  return process.env[RELAUNCHED_ENV] === '1' ? process.ppid : undefined;
}

/**
 * The process this module started from the launcher `pid` (Linux: the child of `pid` whose
 * environment carries the re-launch mark, from /proc), else undefined: not re-launched, or no
 * /proc. For tooling that started a command and must watch the process that serves, when the
 * command does not say its pid itself (an older build's listening line).
 */
export function relaunchedChild(pid: number): number | undefined {
  let children: string[];
  try {
    children = readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean));
  } catch {
    return undefined;
  }
  for (const child of children) {
    try {
      if (readFileSync(`/proc/${child}/environ`, 'latin1').split('\0').includes(`${RELAUNCHED_ENV}=1`)) return Number(child);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return undefined;
}

/** True in a process this module started (call once, early): it then exits if its launcher dies. */
export function isRelaunched(): boolean {
  if (process.env[RELAUNCHED_ENV] !== '1') return false;
  // the launcher forwards signals; if it is killed outright, do not live on without it
  process.on('disconnect', () => process.exit(1));
  process.channel?.unref();
  return true;
}

/**
 * Runs this command again with `v8Flags` before the script; resolves its exit code. When a signal
 * killed it, the launcher kills itself with the same signal (whoever started the launcher sees what
 * they would have seen of the node: `kill -9` of the serving pid reads as SIGKILL, not as exit
 * 137), and resolves 128 + the signal's number only if it survives that (an ignored signal).
 */
export function relaunchWith(v8Flags: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...v8Flags, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [RELAUNCHED_ENV]: '1' },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  // SIGUSR2 too: a node run with --heapsnapshot-signal=SIGUSR2 writes its heap, not the launcher's
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR2'];
  for (const s of signals) process.on(s, forward);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      if (signal) {
        // the forwarders are off: the signal's default action ends the launcher as it ended the node
        try {
          process.kill(process.pid, signal);
        } catch {
          // not a signal this platform can send itself: the exit code says it
        }
      }
      // the shell's convention for a death by signal, should the launcher outlive its own
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 15));
    });
  });
}
