/**
 * V8's GC threads for a discovery replica: `edge-offload discovery --gc auto|single|parallel` (env
 * EDGE_OFFLOAD_GC), the edge node's mechanism (protocol/server/gcThreads.ts). The launcher
 * (discovery/youngGeneration.ts) starts the replica again with `--single-threaded-gc` when the
 * mode asks for it, in the same re-launch as the young generation's; the replica's channel
 * process (discovery/channels/ChannelProcess.ts) runs with the replica's choice.
 *
 * [DEFAULT_DISCOVERY_GC_MODE='auto'] Why auto: a replica given one core (taskset, a cpuset) is the
 * layout issue #13 measures (`bench scale --queries-only`, replica alone on core 0): there V8's
 * helper threads, sized by the machine's cores, run on the query thread's core, and a query that
 * arrives while one runs waits for the core. A replica that may use more cores keeps V8's own
 * threads (auto changes nothing there). `os.availableParallelism()` follows the affinity mask, not
 * a CPU quota: a container limited by `--cpus=1` alone still counts the host's cores (give it a
 * cpuset, or `--gc single`). Measured: discovery/README.md (issue #13).
 *
 * A replica run single-threaded (auto on one core, or single) also runs its other threads at
 * HELPER_THREADS_NICE once it listens (settleReplicaThreads): single-threaded GC leaves V8's
 * platform workers their background compilation (still ~1 ms of the core during a slow query in
 * `bench scale`), and libuv's pool is there too. Not SCHED_IDLE: the pool does the replica's own
 * file and DNS work (protocol/server/background.ts niceHelperThreads). The channel process goes
 * further, to SCHED_IDLE where the replica may lift it back (ChannelProcess).
 */
import { currentGcThreads, gcModeOr, type GcMode } from '../protocol/server/gcThreads.js';
import { niceHelperThreads } from '../protocol/server/background.js';

export const DEFAULT_DISCOVERY_GC_MODE: GcMode = 'auto';

/** `--gc` from argv, else env EDGE_OFFLOAD_GC, else DEFAULT_DISCOVERY_GC_MODE; ConfigError CONFIG_BAD_VALUE for anything else. */
export function discoveryGcMode(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): GcMode {
  return gcModeOr(argv, DEFAULT_DISCOVERY_GC_MODE, env);
}

/** [HELPER_THREADS_NICE=10] The niceness of a single-threaded replica's helper threads (above); the channel process's too. */
export const HELPER_THREADS_NICE = 10;

/**
 * Once the replica listens (its threads started): when it runs single-threaded GC, its helper
 * threads at HELPER_THREADS_NICE. Returns how many threads were reniced (0: not single-threaded).
 */
export function settleReplicaThreads(execArgv: readonly string[] = process.execArgv): number {
  return currentGcThreads(execArgv) === 'single' ? niceHelperThreads(HELPER_THREADS_NICE) : 0;
}

/**
 * [BUSY_POLL_AUTO_MS=3] What `--busy-poll-ms auto` (the default) gives a replica that runs
 * single-threaded GC (auto on one core, or single): its query thread polls for Redis's replies up
 * to this long instead of sleeping (RedisLayoutOptions.busyPollMs, protocol/server/busyPoll.ts). A
 * search reply takes ~0.3-1 ms under churn; 3 ms covers its slow ones. A replica with more cores
 * sleeps (0): its core is not the one its channel process and V8's helpers share.
 */
export const BUSY_POLL_AUTO_MS = 3;

/** `--busy-poll-ms` (auto or 0-1000 ms) for this replica; TypeError for anything else. */
export function replicaBusyPollMs(value: string | undefined, execArgv: readonly string[] = process.execArgv): number {
  if (value === undefined || value === 'auto') return currentGcThreads(execArgv) === 'single' ? BUSY_POLL_AUTO_MS : 0;
  const ms = Number(value);
  if (value.trim() === '' || !(ms >= 0 && ms <= 1000)) throw new TypeError(`--busy-poll-ms must be auto or 0-1000 (ms), got '${value}'`);
  return ms;
}
