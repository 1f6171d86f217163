/**
 * Accuracy of every predictor on the held-out participants of the CROM head-motion traces:
 * angular error (deg) and position error (mm), mean and p95, at horizons 20/50/100 ms. All
 * predictors see identical cases (same history tails, same interpolated ground truth).
 *
 *   npm run bench -- motion-accuracy [--data DIR] [--stride 3] [--model DIR]
 * Writes bench/results/motion-accuracy.json and .svg. Without traces it exits non-zero and says
 * where to get them.
 */
import { angleBetween } from '../protocol/motion/quaternion.js';
import type { PredictorFactory } from '../edge-server/engines.js';
import { BUNDLED_MODELS_DIR, HEAD_PREDICTOR_MODEL, ModelRegistry, createDefaultPredictors, loadTfBackend } from '../edge-server/inference/index.js';
import { MISSING_TRACES_HELP, VALIDATION_PARTICIPANTS, findTraceDir, loadTraces, splitByParticipant } from './motion/cromTraces.js';
import { motionCases, type MotionCase } from './motion/windows.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';
import { quantile, summarize } from './lib/stats.js';

const HELP = `Usage: npm run bench -- motion-accuracy [options]

Angular (deg) and position (mm) error of each predictor on held-out participants
(${VALIDATION_PARTICIPANTS.join(', ')}) at horizons 20, 50, 100 ms.

Options:
  --data DIR     folder of CROM traces (default ../shared/data/head-motion when present)
  --model DIR    folder of model folders (default the shipped edge-server/inference/models)
  --stride N     use every N-th sample as "now" (default 3)
  -h, --help     this text`;

const HORIZONS = [20, 50, 100];
const HISTORY = 32;
type Errors = { angleDeg: number[]; positionMm: number[] };

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { data: { type: 'string' }, model: { type: 'string' }, stride: { type: 'string' } }, HELP);
  if (!args) return;
  const stride = intFlag(args.values.stride, 'stride', 1, 1000) ?? 3;
  const dir = findTraceDir(stringFlag(args.values.data));
  if (!dir) {
    console.error(MISSING_TRACES_HELP);
    process.exitCode = 2;
    return;
  }
  const runtime = await loadTfBackend();
  const registry = await ModelRegistry.load(runtime.tf, stringFlag(args.values.model) ?? BUNDLED_MODELS_DIR);
  const predictors = createDefaultPredictors(registry.get(HEAD_PREDICTOR_MODEL));
  const env = environment({ backend: runtime.backend, traces: dir, stride });
  printEnvironment(env);

  const all = loadTraces(dir);
  const usable = all.filter((t) => t.usable);
  const { validation } = splitByParticipant(usable);
  console.log(`validation runs: ${validation.map((t) => t.name).join(' ')} (skipped unusable: ${all.filter((t) => !t.usable).length} of ${all.length})`);

  const errors = new Map<string, Map<number, Errors>>();
  for (const p of predictors) errors.set(p.name, new Map(HORIZONS.map((h) => [h, { angleDeg: [], positionMm: [] }])));

  async function evaluate(factory: PredictorFactory): Promise<void> {
    for (const trace of validation) {
      for (const horizonMs of HORIZONS) {
        // a fresh predictor per trace and horizon, fed every sample in order, as a session would
        const predictor = factory.create();
        const cases: MotionCase[] = [...motionCases(trace, { historyLength: HISTORY, stride, minHistoryMs: 150, horizons: [horizonMs] })];
        let fed = 0;
        const pending: Promise<void>[] = [];
        for (const c of cases) {
          const now = c.history[c.history.length - 1]!;
          for (; fed < trace.poses.length && trace.poses[fed]!.time <= now.time; fed++) predictor.observe?.(trace.poses[fed]!);
          const bucket = errors.get(factory.name)!.get(horizonMs)!;
          const record = (pose: { position: readonly number[]; orientation: readonly number[] }) => {
            bucket.angleDeg.push((angleBetween(pose.orientation, c.truth.orientation) * 180) / Math.PI);
            bucket.positionMm.push(1000 * Math.hypot(pose.position[0]! - c.truth.position[0]!, pose.position[1]! - c.truth.position[1]!, pose.position[2]! - c.truth.position[2]!));
          };
          const out = predictor.predict(c.history, horizonMs);
          if (out instanceof Promise) pending.push(out.then(record));
          else record(out);
          if (pending.length >= 256) await Promise.all(pending.splice(0));
        }
        await Promise.all(pending);
        predictor.close?.();
      }
      process.stdout.write(`\r${factory.name}: ${trace.name} done        `);
    }
    process.stdout.write('\n');
  }

  for (const p of predictors) await evaluate(p);

  const results: Record<string, Record<string, unknown>> = {};
  console.log('\npredictor            horizon  angle mean / p95 (deg)   position mean / p95 (mm)   cases');
  for (const [name, byHorizon] of errors) {
    results[name] = {};
    for (const [h, e] of byHorizon) {
      const a = { ...summarize(e.angleDeg), p95: quantile([...e.angleDeg].sort((x, y) => x - y), 0.95) };
      const p = { ...summarize(e.positionMm), p95: quantile([...e.positionMm].sort((x, y) => x - y), 0.95) };
      results[name]![`${h}ms`] = { angleDeg: { mean: a.mean, p95: a.p95 }, positionMm: { mean: p.mean, p95: p.p95 }, cases: a.n };
      console.log(`${name.padEnd(20)} ${String(h).padStart(4)} ms   ${a.mean.toFixed(3).padStart(7)} / ${a.p95.toFixed(3).padStart(7)}        ${p.mean.toFixed(2).padStart(7)} / ${p.p95.toFixed(2).padStart(7)}     ${a.n}`);
    }
  }
  const p95 = (name: string, h: number) => ((results[name]?.[`${h}ms`] as { angleDeg: { p95: number } } | undefined)?.angleDeg.p95 ?? NaN);
  const verdicts = HORIZONS.map((h) => ({
    horizonMs: h,
    learnedVsConstantVelocityP95: results.learned ? 1 - p95('learned', h) / p95('constant-velocity', h) : null,
    kalmanVsConstantVelocityP95: 1 - p95('kalman', h) / p95('constant-velocity', h),
  }));
  const best50 = Object.keys(results).sort((a, b) => p95(a, 50) - p95(b, 50))[0];
  for (const v of verdicts) {
    console.log(`${v.horizonMs} ms: learned p95 angular error ${v.learnedVsConstantVelocityP95 === null ? 'n/a' : `${(v.learnedVsConstantVelocityP95 * 100).toFixed(1)}% lower`} than constant velocity (target at 50 ms: ≥ 30%); kalman ${(v.kalmanVsConstantVelocityP95 * 100).toFixed(1)}%`);
  }
  console.log(`best at 50 ms (p95 angular): ${best50}`);

  const names = Object.keys(results);
  writeResult(
    'motion-accuracy',
    {
      bench: 'motion-accuracy',
      environment: env,
      validationParticipants: VALIDATION_PARTICIPANTS,
      validationRuns: validation.map((t) => t.name),
      model: registry.get(HEAD_PREDICTOR_MODEL)?.metadata ?? null,
      stride,
      results,
      verdicts,
      bestAt50ms: best50,
    },
    barChart({
      title: 'p95 angular error on held-out participants (lower is better)',
      yLabel: 'degrees',
      categories: HORIZONS.map((h) => `${h} ms`),
      series: names.map((name) => ({ name, values: HORIZONS.map((h) => p95(name, h)) })),
    }),
  );
  registry.dispose();
}
