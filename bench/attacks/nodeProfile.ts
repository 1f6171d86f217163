/**
 * `bench attacks --cpu-prof DIR`: each attacked node's V8 CPU profile, as DIR/attack-<n>.cpuprofile.
 *
 * Why not `--cpu-prof-name`: a node re-launched for V8 flags (its young generation, the edge's
 * default) gets its launcher's node flags, so both processes profile, and the launcher, exiting
 * last, would overwrite the node's file. Each writes into a folder of its own instead, named with
 * its pid, and the serving pid's file is the one kept.
 */
import { mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export class NodeProfile {
  readonly #dir = mkdtempSync(path.join(tmpdir(), 'attack-prof-'));

  /** Node flags that make the node (and a launcher) write its profile on a clean exit. */
  get flags(): string[] {
    return ['--cpu-prof', '--cpu-prof-dir', this.#dir];
  }

  /** Moves the profile of `pid` (the serving process) to `target`; says whether there was one. */
  keep(pid: number, target: string): boolean {
    const mine = readdirSync(this.#dir).find((f) => f.includes(`.${pid}.`));
    if (mine) renameSync(path.join(this.#dir, mine), target);
    rmSync(this.#dir, { recursive: true, force: true });
    return mine !== undefined;
  }
}
