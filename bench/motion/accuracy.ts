/**
 * The accuracy evaluation shared by bench/motion-accuracy.ts and the training script's final
 * check: every predictor, fed the validation traces sample by sample as a session feeds them,
 * predicting at fixed horizons from identical cases; angular error mean / p95 / p99, position
 * error mean, worst case, fallback counts.
 */
import { angleBetween } from '../../protocol/motion/quaternion.js';
import type { PredictorFactory } from '../../protocol/motion/predictor.js';
import type { Prediction } from '../../protocol/motion/predictor.js';
import { quantile } from '../lib/stats.js';
import type { DataSet } from './headMotion.js';
import { splitSet } from './headMotion.js';
import { motionCases } from './windows.js';

export const HORIZONS = [20, 50, 100];
const HISTORY = 32;

interface Bucket {
  angleDeg: number[];
  positionMm: number[];
  worst: { deg: number; trace: string; timeS: number };
  fallbacks: Record<string, number>;
}

export interface SetResult {
  angleDeg: { mean: number; p95: number; p99: number };
  positionMm: { mean: number };
  worst: { deg: number; trace: string; timeS: number };
  fallbacks: Record<string, number>;
  cases: number;
}

function summarizeBucket(b: Bucket): SetResult {
  const sorted = Float64Array.from(b.angleDeg).sort();
  const mean = (v: ArrayLike<number>) => {
    let sum = 0;
    for (let i = 0; i < v.length; i++) sum += v[i]!;
    return sum / v.length;
  };
  return {
    angleDeg: { mean: mean(sorted), p95: quantile(sorted as unknown as number[], 0.95), p99: quantile(sorted as unknown as number[], 0.99) },
    positionMm: { mean: mean(b.positionMm) },
    worst: b.worst,
    fallbacks: b.fallbacks,
    cases: sorted.length,
  };
}


/** set → predictor → `${h}ms` → result, on each set's validation participants. */
export type AccuracyResults = Record<string, Record<string, Record<string, SetResult>>>;

export async function evaluateAccuracy(sets: readonly DataSet[], predictors: readonly PredictorFactory[], stride: number, horizons: readonly number[] = HORIZONS): Promise<AccuracyResults> {
  const results: AccuracyResults = {};
  for (const set of sets) {
    const { validation } = splitSet(set);
    results[set.name] = {};
    for (const factory of predictors) {
      const buckets = new Map<number, Bucket>(horizons.map((h) => [h, { angleDeg: [], positionMm: [], worst: { deg: -1, trace: '', timeS: 0 }, fallbacks: {} }]));
      for (const trace of validation) {
        for (const horizonMs of horizons) {
          // a fresh predictor per trace and horizon, fed every sample in order, as a session would
          const predictor = factory.create();
          const bucket = buckets.get(horizonMs)!;
          let fed = 0;
          for (const c of motionCases(trace, { historyLength: HISTORY, stride, minHistoryMs: 150, horizons: [horizonMs] })) {
            const now = c.history[c.history.length - 1]!;
            for (; fed < trace.poses.length && trace.poses[fed]!.time <= now.time; fed++) predictor.observe?.(trace.poses[fed]!);
            const out = (await predictor.predict(c.history, horizonMs)) as Prediction;
            const deg = (angleBetween(out.orientation, c.truth.orientation) * 180) / Math.PI;
            bucket.angleDeg.push(deg);
            bucket.positionMm.push(1000 * Math.hypot(out.position[0] - c.truth.position[0]!, out.position[1] - c.truth.position[1]!, out.position[2] - c.truth.position[2]!));
            if (deg > bucket.worst.deg) bucket.worst = { deg, trace: trace.name, timeS: now.time / 1e6 };
            if (out.fallback) bucket.fallbacks[out.fallback] = (bucket.fallbacks[out.fallback] ?? 0) + 1;
          }
          predictor.close?.();
        }
      }
      results[set.name]![factory.name] = Object.fromEntries([...buckets].map(([h, b]) => [`${h}ms`, summarizeBucket(b)]));
    }
  }
  return results;
}

export function printAccuracy(results: AccuracyResults): void {
  for (const [set, byPredictor] of Object.entries(results)) {
    console.log(`\n${set}\npredictor            horizon  angle mean / p95 / p99 (deg)   pos mean (mm)  worst (deg, trace @ s)        fallbacks`);
    for (const [name, byH] of Object.entries(byPredictor)) {
      for (const [h, r] of Object.entries(byH)) {
        const f = Object.entries(r.fallbacks).map(([k, v]) => `${k} ${v}`).join(', ') || '-';
        console.log(`${name.padEnd(20)} ${h.padStart(6)}   ${r.angleDeg.mean.toFixed(3).padStart(7)} / ${r.angleDeg.p95.toFixed(3).padStart(7)} / ${r.angleDeg.p99.toFixed(2).padStart(6)}   ${r.positionMm.mean.toFixed(2).padStart(8)}     ${r.worst.deg.toFixed(1).padStart(6)} ${r.worst.trace} @ ${r.worst.timeS.toFixed(2)}   ${f}`);
      }
    }
  }
}

/**
 * p95 ratios against the baselines, and whether each predictor is no worse than the better of
 * Kalman and constant velocity (p95, 0.5% tolerance for the quantile's sampling noise) on every
 * set and horizon: the rule the default predictor is chosen by.
 */
export function compareToBaselines(results: AccuracyResults, horizons: readonly number[] = HORIZONS) {
  const p95 = (set: string, name: string, h: number) => results[set]?.[name]?.[`${h}ms`]?.angleDeg.p95 ?? NaN;
  const ratios: Record<string, Record<string, { vsConstantVelocity: number; vsKalman: number; vsBestBaseline: number }>> = {};
  const qualifies: Record<string, boolean> = {};
  const names = new Set(Object.values(results).flatMap((r) => Object.keys(r)));
  for (const name of names) {
    let ok = true;
    for (const set of Object.keys(results)) {
      for (const h of horizons) {
        const cv = p95(set, 'constant-velocity', h);
        const kf = p95(set, 'kalman', h);
        const own = p95(set, name, h);
        (ratios[name] ??= {})[`${set} ${h}ms`] = { vsConstantVelocity: own / cv, vsKalman: own / kf, vsBestBaseline: own / Math.min(cv, kf) };
        if (!(own <= Math.min(cv, kf) * 1.005)) ok = false;
      }
    }
    qualifies[name] = ok;
  }
  console.log('\np95 ratios (vs constant velocity / vs kalman / vs the better of the two):');
  for (const [name, byKey] of Object.entries(ratios)) {
    console.log(`${name.padEnd(20)} ${Object.entries(byKey).map(([k, r]) => `${k} ${r.vsConstantVelocity.toFixed(3)}/${r.vsKalman.toFixed(3)}/${r.vsBestBaseline.toFixed(3)}`).join('  ')}`);
  }
  return { ratios, qualifies, p95 };
}
