/**
 * Reader for the CROM head-motion traces (`sNN_tK.csv.gz`: Sample, Time HH:mm:ss.ffff, Device,
 * X, Y, Z, qW, qX, qY, qZ). Keeps headset rows only, drops the all-zero `Trigger` marker rows and
 * the rows that repeat the previous pose under a new sample id (the recorder polled faster than
 * the tracker), and returns poses on a microsecond clock starting at 0, oldest first.
 *
 * Only training and the accuracy bench read traces; the server and tests never do.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { PoseSample, Quat } from '../../protocol/index.js';

export interface Trace {
  /** `s04` … */
  readonly participant: string;
  /** `s04_t2` … */
  readonly name: string;
  readonly poses: PoseSample[];
  /** Rows dropped while cleaning, by reason. */
  readonly dropped: { trigger: number; duplicate: number; nonMonotonic: number; otherDevice: number; malformed: number };
  /** False when most headset rows are malformed (see `parseTrace`); such traces are skipped. */
  readonly usable: boolean;
}

/** Where the traces live when this checkout sits next to the shared data folder. */
export const DEFAULT_TRACE_DIRS = ['../shared/data/head-motion/crom', '../shared/data/head-motion'];

/** The first folder holding `*.csv.gz` traces, or undefined. */
export function findTraceDir(explicit?: string): string | undefined {
  const candidates = explicit ? [explicit, join(explicit, 'crom')] : DEFAULT_TRACE_DIRS;
  for (const dir of candidates) {
    const abs = resolve(dir);
    if (existsSync(abs) && readdirSync(abs).some((f) => /^s\d+_t\d+\.csv\.gz$/.test(f))) return abs;
  }
  return undefined;
}

function parseClock(text: string): number {
  const [h, m, s] = text.split(':');
  return (Number(h) * 3600 + Number(m) * 60 + Number(s)) * 1e6;
}

export function parseTrace(name: string, csv: string): Trace {
  const lines = csv.split(/\r?\n/);
  const poses: PoseSample[] = [];
  const dropped = { trigger: 0, duplicate: 0, nonMonotonic: 0, otherDevice: 0, malformed: 0 };
  let start: number | undefined;
  let previous: PoseSample | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line) continue;
    const cols = line.split(',');
    if (cols[2] === 'Trigger') { dropped.trigger++; continue; }
    if (cols[2] !== 'H') { dropped.otherDevice++; continue; }
    const [x, y, z, qw, qx, qy, qz] = cols.slice(3, 10).map(Number) as [number, number, number, number, number, number, number];
    let time = parseClock(cols[1]!);
    if (time < (start ?? time) - 43_200e6) time += 86_400e6; // recording crossed midnight
    start ??= time;
    const orientation: Quat = [qx, qy, qz, qw];
    // About half of the published runs were exported with decimal commas and then split on commas:
    // "-1,426478,1,134479,-1,02727,-0" is X, Y, Z with the quaternion cut off. Their rows fail
    // these checks (positions of 10^5 m, non-unit quaternions), so the whole run is set aside.
    const norm = Math.hypot(qw, qx, qy, qz);
    if (![x, y, z, qw, qx, qy, qz].every(Number.isFinite) || Math.abs(norm - 1) > 0.01 || Math.max(Math.abs(x), Math.abs(y), Math.abs(z)) > 100) {
      dropped.malformed++;
      continue;
    }
    if (previous && previous.position[0] === x && previous.position[1] === y && previous.position[2] === z &&
        previous.orientation[3] === qw && previous.orientation[0] === qx && previous.orientation[1] === qy && previous.orientation[2] === qz) {
      dropped.duplicate++;
      continue;
    }
    const sample: PoseSample = { device: 'head', time: time - start, position: [x, y, z], orientation };
    if (previous && sample.time <= previous.time) { dropped.nonMonotonic++; continue; }
    poses.push(sample);
    previous = sample;
  }
  const usable = poses.length > 100 && dropped.malformed < poses.length;
  return { participant: name.split('_')[0]!, name, poses, dropped, usable };
}

/** Every trace in `dir`, sorted by name (unusable ones included, flagged `usable: false`). */
export function loadTraces(dir: string, onProgress?: (name: string) => void): Trace[] {
  return readdirSync(dir)
    .filter((f) => /^s\d+_t\d+\.csv\.gz$/.test(f))
    .sort()
    .map((file) => {
      const name = file.replace('.csv.gz', '');
      onProgress?.(name);
      return parseTrace(name, gunzipSync(readFileSync(join(dir, file))).toString('utf8'));
    });
}

/**
 * Held out from training, used by the accuracy bench. Chosen up front (the last three participant
 * ids), never by looking at results.
 */
export const VALIDATION_PARTICIPANTS: readonly string[] = ['s16', 's17', 's18'];

export function splitByParticipant(traces: readonly Trace[], validation: readonly string[] = VALIDATION_PARTICIPANTS): { train: Trace[]; validation: Trace[] } {
  return {
    train: traces.filter((t) => !validation.includes(t.participant)),
    validation: traces.filter((t) => validation.includes(t.participant)),
  };
}

export const MISSING_TRACES_HELP = [
  'No head-motion traces found.',
  'Pass --data DIR pointing at a folder of CROM traces (sNN_tK.csv.gz, headset rows at ~90 Hz),',
  'or place this checkout next to the shared data folder so that ../shared/data/head-motion/crom exists.',
].join('\n');
