/**
 * V8's garbage-collector threads for a server process, one mechanism for both roles: `--gc
 * auto|single|parallel` (env EDGE_OFFLOAD_GC) on `edge-offload edge` and `edge-offload discovery`.
 * `parallel` is V8's own; `single` runs the process with `--single-threaded-gc`; `auto` does that
 * when the process may run on one core only (taskset, a cpuset: `os.availableParallelism()` is 1).
 * Each role picks its default and says why (edge-server/gcThreads.ts, discovery/gcThreads.ts).
 *
 * Why: V8 sizes its GC helper threads by the machine's cores, not the process' affinity. On a
 * process pinned to one core the helpers (concurrent marking, parallel scavenge, concurrent
 * sweeping) only take turns with the main thread on that core: each scavenge pauses longer, the
 * hand-offs cost CPU, and a request that arrives while a helper runs waits for the core in the
 * kernel's run queue, where no pause timer of V8's sees it.
 *
 * V8 reads these flags only at start (set at run time, they crashed a node when a worker thread
 * started its isolate), so the launcher starts the command again with the flag
 * (protocol/server/relaunch.ts), sharing the re-launch the young generation may need. A process
 * started with the flag already is left as it is.
 */
import { availableParallelism } from 'node:os';
import { ConfigError } from './ConfigError.js';
import { launchFlag } from './relaunch.js';

export const GC_MODES = ['auto', 'single', 'parallel'] as const;
export type GcMode = (typeof GC_MODES)[number];
export const GC_ENV = 'EDGE_OFFLOAD_GC';
export const SINGLE_THREADED_GC_FLAG = '--single-threaded-gc';

/** `--gc` from argv, else env EDGE_OFFLOAD_GC, else `fallback` (the role's default); ConfigError CONFIG_BAD_VALUE for anything else. */
export function gcModeOr(argv: readonly string[], fallback: GcMode, env: NodeJS.ProcessEnv = process.env): GcMode {
  const raw = launchFlag(argv, 'gc', GC_ENV, env);
  if (raw === undefined) return fallback;
  if (!(GC_MODES as readonly string[]).includes(raw)) throw new ConfigError('CONFIG_BAD_VALUE', `--gc (or ${GC_ENV}) must be one of ${GC_MODES.join(', ')}, got '${raw}'`);
  return raw as GcMode;
}

/** Whether `mode` means single-threaded GC on a process that may use `cores` cores. */
export function singleThreadedGc(mode: GcMode, cores: number = availableParallelism()): boolean {
  return mode === 'single' || (mode === 'auto' && cores <= 1);
}

/** What this process runs with: 'single' when started with --single-threaded-gc. */
export function currentGcThreads(execArgv: readonly string[] = process.execArgv): 'single' | 'parallel' {
  return execArgv.includes(SINGLE_THREADED_GC_FLAG) ? 'single' : 'parallel';
}

/**
 * The V8 flags a re-launch needs for `mode` on a process that may use `cores` cores (empty when
 * none: V8's own threads, or this process runs single-threaded already).
 */
export function gcLaunchFlags(mode: GcMode, cores: number = availableParallelism(), execArgv: readonly string[] = process.execArgv): string[] {
  return singleThreadedGc(mode, cores) && currentGcThreads(execArgv) !== 'single' ? [SINGLE_THREADED_GC_FLAG] : [];
}
