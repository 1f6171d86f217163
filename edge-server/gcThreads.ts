/**
 * V8's garbage-collector threads for an edge node: `edge --gc auto|single|parallel` (env
 * EDGE_OFFLOAD_GC). `parallel` (the default) is V8's own; `single` runs the node with
 * `--single-threaded-gc`; `auto` does that when the node may run on one core only (taskset, a
 * cpuset: `os.availableParallelism()` is 1).
 *
 * Why: V8 sizes its GC helper threads by the machine's cores, not the process' affinity. On a
 * node pinned to one core the helpers only take turns with the main thread on that core, so each
 * young-generation scavenge pauses longer and the threads' hand-offs cost CPU. Measured (issue
 * #15, `bench predict-load --node-args "--gc single" --compare-args "--gc parallel"`, node on core
 * 0, 100 sessions × 90 Hz learned predicts): see edge-server/README.md. Every frame that arrives
 * during a scavenge waits in the kernel, so the pauses are in the clients' round-trip tail but
 * not in the node's own handling time.
 *
 * V8 reads these flags only at start (set at run time, they crashed the node when a worker
 * thread started its isolate), so the CLI starts the node again with `--single-threaded-gc`
 * (protocol/server/relaunch.ts). A node started with the flag already is left as it is.
 *
 * Why not on by default: the re-launched node is a child of the process that was started, so
 * whatever watches that pid (benches reading its RSS and CPU, `bench attacks` pinning it, an
 * operator's tooling) sees the launcher; and the one A/B that would settle the gain did not run
 * on a quiet machine yet. Measure with it before you set it, as for discovery's --young-gen-mib.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../protocol/server/ConfigError.js';
import { isRelaunched, launchFlag, relaunchWith } from '../protocol/server/relaunch.js';

export const GC_MODES = ['auto', 'single', 'parallel'] as const;
export type GcMode = (typeof GC_MODES)[number];
export const GC_ENV = 'EDGE_OFFLOAD_GC';
const SINGLE = '--single-threaded-gc';

/** [DEFAULT_GC_MODE='parallel'] V8's own GC threads unless `--gc` or EDGE_OFFLOAD_GC says otherwise (see above). */
export const DEFAULT_GC_MODE: GcMode = 'parallel';

/** `--gc` from argv, else env EDGE_OFFLOAD_GC, else DEFAULT_GC_MODE; ConfigError CONFIG_BAD_VALUE for anything else. */
export function gcMode(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): GcMode {
  const raw = launchFlag(argv, 'gc', GC_ENV, env);
  if (raw === undefined) return DEFAULT_GC_MODE;
  if (!(GC_MODES as readonly string[]).includes(raw)) throw new ConfigError('CONFIG_BAD_VALUE', `--gc (or ${GC_ENV}) must be one of ${GC_MODES.join(', ')}, got '${raw}'`);
  return raw as GcMode;
}

/** Whether `mode` means single-threaded GC on a process that may use `cores` cores. */
export function singleThreadedGc(mode: GcMode, cores: number = availableParallelism()): boolean {
  return mode === 'single' || (mode === 'auto' && cores <= 1);
}

/** What this process runs with: 'single' when started with --single-threaded-gc. */
export function currentGcThreads(execArgv: readonly string[] = process.execArgv): 'single' | 'parallel' {
  return execArgv.includes(SINGLE) ? 'single' : 'parallel';
}

/**
 * Starts `edge` again with single-threaded GC when `--gc` asks for it and this process does not
 * run with it; resolves that process' exit code, or undefined when this process should run the node.
 */
export async function relaunchForGc(argv: readonly string[]): Promise<number | undefined> {
  // a cluster worker inherits its primary's flags (cluster.fork passes execArgv)
  if (cluster.isWorker || isRelaunched()) return undefined;
  if (argv.some((a) => a === '-h' || a === '--help' || a === '--print-config')) return undefined;
  if (!singleThreadedGc(gcMode(argv)) || currentGcThreads() === 'single' || process.argv[1] === undefined) return undefined;
  return relaunchWith([SINGLE]);
}
