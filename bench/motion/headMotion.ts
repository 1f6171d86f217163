/**
 * The two head-motion data sets, read from one root folder (default ../shared/data/head-motion):
 * - `seated`: `crom/sNN_tK.csv.gz`, neck exercises in an HMD, ~90 Hz (cromTraces.ts);
 * - `walking`: `eyenavgs/<site>_u<ID>_<scene>[_partK].csv.gz`, people standing and walking with a
 *   Meta Quest Pro, 36–72 Hz, `time_us,x,y,z,qx,qy,qz,qw` (its README).
 * Each is split by participant; the validation participants were fixed up front (the last ids of
 * each source), never chosen by looking at results. Only training and benches read traces.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { PoseSample } from '../../protocol/index.js';
import { VALIDATION_PARTICIPANTS as CROM_VALIDATION, loadTraces as loadCromTraces, type Trace } from './cromTraces.js';

export type DataSetName = 'seated' | 'walking';
export const DATA_SETS: readonly DataSetName[] = ['seated', 'walking'];

export interface DataSet {
  readonly name: DataSetName;
  readonly folder: string;
  /** Usable traces, sorted by name. */
  readonly traces: Trace[];
  readonly validationParticipants: readonly string[];
}

export const DEFAULT_DATA_ROOT = '../shared/data/head-motion';
const FOLDERS: Record<DataSetName, string> = { seated: 'crom', walking: 'eyenavgs' };

/** EyeNavGS: the last three participant ids of each site. */
export const WALKING_VALIDATION: readonly string[] = ['ru_u113', 'ru_u114', 'ru_u115', 'nthu_u015', 'nthu_u016', 'nthu_u017'];
const VALIDATION: Record<DataSetName, readonly string[]> = { seated: CROM_VALIDATION, walking: WALKING_VALIDATION };

/** The root holding `crom/` and/or `eyenavgs/`, or undefined. */
export function findDataRoot(explicit?: string): string | undefined {
  const abs = resolve(explicit ?? DEFAULT_DATA_ROOT);
  return Object.values(FOLDERS).some((f) => existsSync(join(abs, f))) ? abs : undefined;
}

export function parseEyeNavGs(name: string, csv: string): Trace {
  const lines = csv.split('\n');
  const poses: PoseSample[] = [];
  const dropped = { trigger: 0, duplicate: 0, nonMonotonic: 0, otherDevice: 0, malformed: 0 };
  let previous: PoseSample | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const c = line.split(',').map(Number);
    if (c.length !== 8 || !c.every(Number.isFinite) || Math.abs(Math.hypot(c[4]!, c[5]!, c[6]!, c[7]!) - 1) > 0.01) {
      dropped.malformed++;
      continue;
    }
    const sample: PoseSample = { device: 'head', time: c[0]!, position: [c[1]!, c[2]!, c[3]!], orientation: [c[4]!, c[5]!, c[6]!, c[7]!] };
    if (previous && sample.time <= previous.time) {
      dropped[sample.time === previous.time ? 'duplicate' : 'nonMonotonic']++;
      continue;
    }
    poses.push(sample);
    previous = sample;
  }
  const participant = name.replace(/^((?:ru|nthu)_u\d+)_.*$/, '$1');
  return { participant, name, poses, dropped, usable: poses.length > 100 };
}

function loadEyeNavGs(dir: string, onProgress?: (name: string) => void): Trace[] {
  return readdirSync(dir)
    .filter((f) => /^(ru|nthu)_u\d+_.+\.csv\.gz$/.test(f))
    .sort()
    .map((file) => {
      const name = file.replace('.csv.gz', '');
      onProgress?.(name);
      return parseEyeNavGs(name, gunzipSync(readFileSync(join(dir, file))).toString('utf8'));
    });
}

/** The data sets found under `root` (those named in `only`, default all). */
export function loadDataSets(root: string, only: readonly DataSetName[] = DATA_SETS, onProgress?: (name: string) => void): DataSet[] {
  const sets: DataSet[] = [];
  for (const name of only) {
    const folder = join(root, FOLDERS[name]);
    if (!existsSync(folder)) continue;
    const all = name === 'seated' ? loadCromTraces(folder, onProgress) : loadEyeNavGs(folder, onProgress);
    sets.push({ name, folder, traces: all.filter((t) => t.usable), validationParticipants: VALIDATION[name] });
  }
  return sets;
}

export function splitSet(set: DataSet): { train: Trace[]; validation: Trace[] } {
  return {
    train: set.traces.filter((t) => !set.validationParticipants.includes(t.participant)),
    validation: set.traces.filter((t) => set.validationParticipants.includes(t.participant)),
  };
}

export const MISSING_DATA_HELP = [
  'No head-motion traces found.',
  `Pass --data DIR: a folder holding crom/ (sNN_tK.csv.gz) and/or eyenavgs/ (<site>_u<ID>_<scene>.csv.gz),`,
  `or place this checkout next to the shared data folder so that ${DEFAULT_DATA_ROOT} exists.`,
].join('\n');
