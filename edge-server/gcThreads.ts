/**
 * V8's garbage-collector threads and young generation for an edge node: `edge --gc
 * auto|single|parallel` (env EDGE_OFFLOAD_GC; the mechanism, shared with discovery, is
 * protocol/server/gcThreads.ts) and `--young-gen-mib`.
 *
 * Why `--gc`: see protocol/server/gcThreads.ts. Measured for an edge node (issue #15, `bench
 * predict-load --node-args "--gc single" --compare-args "--gc parallel"`, node on core 0, 100
 * sessions × 90 Hz learned predicts): see edge-server/README.md. Every frame that arrives during a
 * scavenge waits in the kernel, so the pauses are in the clients' round-trip tail but not in the
 * node's own handling time.
 *
 * Why not on by default: the one A/B that would settle the gain did not run on a quiet machine
 * yet. It shares the young generation's re-launch (below), so asking for it costs no extra start.
 */
import cluster from 'node:cluster';
import { gcLaunchFlags, gcModeOr, type GcMode } from '../protocol/server/gcThreads.js';
import { isRelaunched, relaunchWith } from '../protocol/server/relaunch.js';
import { semiSpaceLaunchFlags } from '../protocol/server/youngGeneration.js';

export { currentGcThreads, GC_ENV, GC_MODES, singleThreadedGc, type GcMode } from '../protocol/server/gcThreads.js';

/** [DEFAULT_GC_MODE='parallel'] V8's own GC threads unless `--gc` or EDGE_OFFLOAD_GC says otherwise (see above). */
export const DEFAULT_GC_MODE: GcMode = 'parallel';

/** `--gc` from argv, else env EDGE_OFFLOAD_GC, else DEFAULT_GC_MODE; ConfigError CONFIG_BAD_VALUE for anything else. */
export function gcMode(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): GcMode {
  return gcModeOr(argv, DEFAULT_GC_MODE, env);
}

/**
 * [DEFAULT_EDGE_YOUNG_GEN_MIB=2] A 2 MiB semi-space unless `--young-gen-mib N` (env
 * EDGE_OFFLOAD_YOUNG_GEN_MIB) asks for another size; 0 keeps V8's own (which grows to 16 MiB). V8
 * reads the size only at start, so `edge-offload edge` starts the node again with
 * `--max-semi-space-size=N` (protocol/server/youngGeneration.ts), unless the process runs with a
 * semi-space flag already (node flags or NODE_OPTIONS: the operator's choice, left alone; it also
 * spares the re-launch).
 *
 * Why 2 MiB: every socket read, reassembled frame and infer answer is an ArrayBuffer, which V8
 * counts as external memory until a scavenge frees it. With V8's young generation grown to 16 MiB,
 * scavenges come seconds apart, the dead buffers pile up and push V8 into major GCs (1.8-2.1 a
 * second under two infer hogs, each holding the loop for ms of marking: issue #15's attack 4b, the
 * bystander's p99 x2.27-3.53 its unloaded value). With 2 MiB the buffers die in the next scavenge:
 * `bench attacks --only 4b` put the bystander's p99 within 2x in 4 of 4 runs with the flag
 * (x0.52-1.84) and 6 of 6 with this default (x0.98-1.98, no major GC; main x0.74-2.95), and `bench
 * predict-load` at 100 sessions measured the same CPU per frame (x0.96-1.05) with ~27 scavenges a
 * second of ~0.6 ms instead of 3-18 of 1-3 ms; its round-trip p99 over the raw echo's was within
 * run-to-run noise of V8's default on the shared VM (edge-server/README.md).
 *
 * The cost is the re-launch (one more Node start, ~0.2 s on the 2-core VM, and an idle launcher of
 * ~44 MiB RSS that only forwards signals and the exit code; Node 20 has no exec() that would keep
 * the pid, and NODE_OPTIONS reaches only a process not yet started). It is made transparent rather
 * than avoided: the listening
 * line and the admin health carry the serving process' `pid` (and `launcherPid`), SIGINT/SIGTERM/
 * SIGHUP reach the node, the launcher ends as the node did, and the node exits when its launcher
 * dies (relaunch.ts). Tooling that watches a pid (RSS, CPU, schedstat, pinning) reads `pid` from the
 * listening line, as the benches and bin/demo/NodeProcess.ts do.
 */
export const DEFAULT_EDGE_YOUNG_GEN_MIB = 2;

/**
 * Starts `edge` again with the V8 flags `--gc` and `--young-gen-mib` ask for (one re-launch for
 * both) when this process does not run with them; resolves that process' exit code, or undefined
 * when this process should run the node.
 */
export async function relaunchForGc(argv: readonly string[]): Promise<number | undefined> {
  // a cluster worker inherits its primary's flags (cluster.fork passes execArgv)
  if (cluster.isWorker || isRelaunched()) return undefined;
  if (argv.some((a) => a === '-h' || a === '--help' || a === '--print-config')) return undefined;
  const flags = [...gcLaunchFlags(gcMode(argv)), ...semiSpaceLaunchFlags(argv, DEFAULT_EDGE_YOUNG_GEN_MIB)];
  if (flags.length === 0 || process.argv[1] === undefined) return undefined;
  return relaunchWith(flags);
}
