/**
 * Grid search for the Kalman predictor's noise settings on the TRAINING participants only (the
 * validation participants stay unseen, for bench/motion-accuracy). Scores p95 angular error at
 * 50 ms, position p95 as tie-break. The defaults in KalmanPredictor.ts come from this search.
 *
 *   node dist/bench/tune-kalman.js [--data DIR] [--stride 6]
 */
import { parseArgs } from 'node:util';
import { angleBetween } from '../protocol/motion/quaternion.js';
import { kalmanPredictor } from '../protocol/motion/KalmanPredictor.js';
import { MISSING_DATA_HELP, findDataRoot, loadDataSets, splitSet } from './motion/headMotion.js';
import { motionCases } from './motion/windows.js';
import { quantile } from './lib/stats.js';

const { values: args } = parseArgs({ options: { data: { type: 'string' }, stride: { type: 'string', default: '6' }, help: { type: 'boolean', short: 'h' } } });
if (args.help) {
  console.log('Usage: node dist/bench/tune-kalman.js [--data DIR] [--stride N]\n  --data DIR  folder holding crom/ and eyenavgs/ (default ../shared/data/head-motion)\nGrid-searches Kalman noise settings on the training participants (50 ms, p95 angular error).');
  process.exit(0);
}
const root = findDataRoot(args.data);
if (!root) {
  console.error(MISSING_DATA_HELP);
  process.exit(2);
}
// both data sets' training participants (seated and walking), never the validation ones
const train = loadDataSets(root).flatMap((set) => splitSet(set).train);
const results: { rotationNoise: number; rotationMeasurementStd: number; positionNoise: number; angleP95: number; positionP95: number }[] = [];
for (const rotationNoise of [100, 400, 1600, 6400]) {
  for (const rotationMeasurementStd of [0.0005, 0.002, 0.005]) {
    for (const positionNoise of [1, 4, 16]) {
      const factory = kalmanPredictor({ rotationNoise, rotationMeasurementStd, positionNoise });
      const angles: number[] = [];
      const positions: number[] = [];
      for (const trace of train) {
        const p = factory.create();
        let fed = 0;
        for (const c of motionCases(trace, { historyLength: 32, stride: Number(args.stride), minHistoryMs: 150, horizons: [50] })) {
          const now = c.history[c.history.length - 1]!;
          for (; fed < trace.poses.length && trace.poses[fed]!.time <= now.time; fed++) p.observe?.(trace.poses[fed]!);
          const out = p.predict(c.history, 50) as { position: number[]; orientation: number[] };
          angles.push((angleBetween(out.orientation, c.truth.orientation) * 180) / Math.PI);
          positions.push(1000 * Math.hypot(out.position[0]! - c.truth.position[0]!, out.position[1]! - c.truth.position[1]!, out.position[2]! - c.truth.position[2]!));
        }
      }
      const r = { rotationNoise, rotationMeasurementStd, positionNoise, angleP95: quantile95(angles), positionP95: quantile95(positions) };
      results.push(r);
      console.log(JSON.stringify(r));
    }
  }
}
/** The same p95 bench/motion-accuracy.ts reports, so tuning ranks by what the bench shows. */
function quantile95(values: number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.95);
}
results.sort((a, b) => a.angleP95 - b.angleP95 || a.positionP95 - b.positionP95);
console.log('best:', JSON.stringify(results[0]));
