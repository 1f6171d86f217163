/**
 * V8's young generation for a discovery replica, set by the `edge-offload discovery` launcher when
 * the operator asks (`--young-gen-mib N`); off by default (below: it measured worse on an idle VM).
 *
 * Why: a replica's garbage is short-lived (a ws frame and socket read per node pong, a status
 * parse per load push, a few hundred objects per query), and with V8's default semi-space
 * (starting at 1 MiB, grown only slowly) it ran ~2 young-generation scavenges a second at 8,000
 * nodes, each pausing every query in flight by several ms: most of the query tail under churn
 * (`bench scale`, discovery/README.md). A larger semi-space means fewer scavenges; each one costs
 * about the same (its work is the survivors, not the garbage). The cost is memory: V8 reserves
 * up to 3 × the semi-space for the young generation (64 MiB → ~192 MiB at most).
 *
 * Why off by default: the larger semi-space does cut scavenges (2.6-4.4× in every run), but each
 * one pauses longer, and on an idle VM at the end of the 2026-11-30 round the query p99 under
 * churn was worse with 64 MiB than with V8's default (memory 5.3 vs 3.9 ms, Redis 13.0 vs 9.4 ms;
 * max pause 22.8 vs 13.7 ms). Earlier runs on a loaded machine were mixed. Measure before you set it.
 *
 * V8 reads the size only at start, so the launcher starts discovery again with the flag (one
 * extra process start, then the parent only forwards signals and the exit code). An operator
 * who set a semi-space flag already (node flags or NODE_OPTIONS) is left alone; `--young-gen-mib
 * 0` (or env EDGE_OFFLOAD_YOUNG_GEN_MIB=0) keeps V8's default and does not re-launch.
 */
import { gcLaunchFlags } from '../protocol/server/gcThreads.js';
import { isRelaunched, relaunchWith } from '../protocol/server/relaunch.js';
import { discoveryGcMode } from './gcThreads.js';
import { semiSpaceLaunchFlags, youngGenerationMiB as youngGenerationOr } from '../protocol/server/youngGeneration.js';

export { semiSpaceFlags, YOUNG_GEN_ENV } from '../protocol/server/youngGeneration.js';

/** Semi-space size (MiB) the launcher gives a replica unless told otherwise: 0, V8's default (see above). */
export const DEFAULT_YOUNG_GEN_MIB = 0;

/** The size asked for by `--young-gen-mib` (argv), else the env, else the default. 0: V8's default. */
export function youngGenerationMiB(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  return youngGenerationOr(argv, DEFAULT_YOUNG_GEN_MIB, env);
}

/**
 * Re-launches this command with the young generation sized (see above) and the GC threads `--gc`
 * asks for (discovery/gcThreads.ts), in one re-launch, forwarding signals and the exit code. Resolves the child's exit code, or undefined when no re-launch is needed (the
 * caller then runs discovery in this process).
 */
export async function relaunchWithYoungGeneration(argv: readonly string[]): Promise<number | undefined> {
  if (isRelaunched()) return undefined;
  // keys, help and printing the limits are over in a moment: no replica, no garbage to size for
  if (argv[0] === 'keygen' || argv.some((a) => a === '-h' || a === '--help' || a === '--print-limits')) return undefined;
  const flags = [...gcLaunchFlags(discoveryGcMode(argv)), ...semiSpaceLaunchFlags(argv, DEFAULT_YOUNG_GEN_MIB)];
  if (flags.length === 0 || process.argv[1] === undefined) return undefined;
  return relaunchWith(flags);
}
