/**
 * Starting a server command again with V8 flags that V8 reads only at start (the young generation
 * size for discovery, the GC threading of an edge node): the launcher spawns the same command
 * with the flags, forwards SIGINT/SIGTERM/SIGHUP and resolves the child's exit code. One extra
 * process start; the launcher then only waits. `v8.setFlagsFromString` is no substitute: a GC
 * flag changed at run time crashed the node as soon as a worker thread started its own isolate.
 */
import { spawn } from 'node:child_process';
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

/** True in a process this module started (call once, early): it then exits if its launcher dies. */
export function isRelaunched(): boolean {
  if (process.env[RELAUNCHED_ENV] !== '1') return false;
  // the launcher forwards signals; if it is killed outright, do not live on without it
  process.on('disconnect', () => process.exit(1));
  process.channel?.unref();
  return true;
}

/** Runs this command again with `v8Flags` before the script; resolves the exit code (128 + signal when killed). */
export function relaunchWith(v8Flags: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...v8Flags, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, [RELAUNCHED_ENV]: '1' },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, forward);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      for (const s of signals) process.off(s, forward);
      // killed by a signal: the shell's convention, 128 + its number
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 15));
    });
  });
}
