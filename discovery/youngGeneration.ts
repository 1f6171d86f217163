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
import { ConfigError } from '../protocol/server/ConfigError.js';
import { isRelaunched, launchFlag, relaunchWith } from '../protocol/server/relaunch.js';

/** Semi-space size (MiB) the launcher gives a replica unless told otherwise: 0, V8's default (see above). */
export const DEFAULT_YOUNG_GEN_MIB = 0;
export const YOUNG_GEN_ENV = 'EDGE_OFFLOAD_YOUNG_GEN_MIB';

/** The size asked for by `--young-gen-mib` (argv), else the env, else the default. 0: V8's default. */
export function youngGenerationMiB(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  const raw = launchFlag(argv, 'young-gen-mib', YOUNG_GEN_ENV, env);
  if (raw === undefined) return DEFAULT_YOUNG_GEN_MIB;
  const mib = Number(raw);
  if (!Number.isInteger(mib) || mib < 0 || mib > 1024) throw new ConfigError('CONFIG_BAD_VALUE', `--young-gen-mib (or ${YOUNG_GEN_ENV}) must be an integer 0-1024 (MiB; 0 keeps V8's default), got '${raw}'`);
  return mib;
}

/** The semi-space flags this process runs with (node flags, then NODE_OPTIONS); empty: V8's default. */
export function semiSpaceFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  return [...execArgv, ...nodeOptions.split(/\s+/)].filter((f) => /^--(max|min)[-_]semi[-_]space[-_]size\b/.test(f));
}

/** Whether this process already runs with a semi-space size chosen by someone (node flags or NODE_OPTIONS). */
export function semiSpaceChosen(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  return semiSpaceFlags(execArgv, nodeOptions).length > 0;
}

/**
 * Re-launches this command with the young generation sized (see above), forwarding signals and
 * the exit code. Resolves the child's exit code, or undefined when no re-launch is needed (the
 * caller then runs discovery in this process).
 */
export async function relaunchWithYoungGeneration(argv: readonly string[]): Promise<number | undefined> {
  if (isRelaunched()) return undefined;
  // keys, help and printing the limits are over in a moment: no replica, no garbage to size for
  if (argv[0] === 'keygen' || argv.some((a) => a === '-h' || a === '--help' || a === '--print-limits')) return undefined;
  const mib = youngGenerationMiB(argv);
  if (mib === 0 || semiSpaceChosen() || process.argv[1] === undefined) return undefined;
  return relaunchWith([`--max-semi-space-size=${mib}`]);
}
