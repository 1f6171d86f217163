/**
 * V8's young-generation (semi-space) size for a server process, chosen by the operator with
 * `--young-gen-mib N` (env EDGE_OFFLOAD_YOUNG_GEN_MIB). V8 reads it only at start, so the
 * launcher starts the command again with `--max-semi-space-size=N` (relaunch.ts). Each role
 * decides its own default and says why: discovery/youngGeneration.ts (a larger semi-space for a
 * replica's short-lived garbage), edge-server/gcThreads.ts (a small one, so ArrayBuffers die in
 * the next scavenge instead of piling up as external memory that forces major GCs).
 */
import { ConfigError } from './ConfigError.js';
import { launchFlag } from './relaunch.js';

export const YOUNG_GEN_ENV = 'EDGE_OFFLOAD_YOUNG_GEN_MIB';

/** The size asked for by `--young-gen-mib` (argv), else the env, else `fallback`. 0: V8's default. */
export function youngGenerationMiB(argv: readonly string[], fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = launchFlag(argv, 'young-gen-mib', YOUNG_GEN_ENV, env);
  if (raw === undefined) return fallback;
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
 * The flag a re-launch needs for `--young-gen-mib` (empty when none: 0, or a semi-space flag this
 * process already runs with, which the operator chose and is left alone).
 */
export function semiSpaceLaunchFlags(argv: readonly string[], fallback: number): string[] {
  const mib = youngGenerationMiB(argv, fallback);
  return mib === 0 || semiSpaceChosen() ? [] : [`--max-semi-space-size=${mib}`];
}
