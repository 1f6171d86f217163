/**
 * Accuracy of every predictor on the held-out participants of each head-motion data set (seated
 * CROM, walking EyeNavGS): angular error (deg) mean / p95 / p99, position error (mm) mean, the
 * worst case (trace and time), and how many answers were fallbacks, at horizons 20/50/100 ms.
 * All predictors see identical cases (same history tails, same interpolated ground truth), fed
 * sample by sample as a session feeds them. Ends with the default-predictor verdict the product
 * uses (PREDICTOR_PREFERENCE in edge-server/inference/index.ts): which predictors are no worse
 * than the better baseline (p95) on every set and horizon.
 *
 *   npm run bench -- motion-accuracy [--data DIR] [--stride 3] [--model DIR] [--sets seated,walking]
 * Writes bench/results/motion-accuracy.json and .svg. Without traces it exits non-zero and says
 * where to get them.
 */
import { BUNDLED_MODELS_DIR, HEAD_PREDICTOR_MODEL, ModelRegistry, createDefaultPredictors, loadTfBackend } from '../edge-server/inference/index.js';
import { DATA_SETS, MISSING_DATA_HELP, findDataRoot, loadDataSets, splitSet, type DataSetName } from './motion/headMotion.js';
import { HORIZONS, compareToBaselines, evaluateAccuracy, printAccuracy } from './motion/accuracy.js';
import { intFlag, parseCommandArgs, stringFlag } from '../bin/commands/args.js';
import { barChart } from './lib/chart.js';
import { environment, printEnvironment } from './lib/environment.js';
import { writeResult } from './lib/results.js';

const HELP = `Usage: npm run bench -- motion-accuracy [options]

Angular (deg) and position (mm) error of each predictor on the held-out participants of each
head-motion data set (seated: CROM, walking: EyeNavGS) at horizons 20, 50, 100 ms.

Options:
  --data DIR     folder holding crom/ and eyenavgs/ (default ../shared/data/head-motion)
  --model DIR    folder of model folders (default the shipped edge-server/inference/models)
  --stride N     use every N-th sample as "now" (default 3)
  --sets LIST    comma-separated data sets (default seated,walking)
  -h, --help     this text`;

export async function main(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { data: { type: 'string' }, model: { type: 'string' }, stride: { type: 'string' }, sets: { type: 'string' } }, HELP);
  if (!args) return;
  const stride = intFlag(args.values.stride, 'stride', 1, 1000) ?? 3;
  const root = findDataRoot(stringFlag(args.values.data));
  const only = (stringFlag(args.values.sets)?.split(',') ?? DATA_SETS) as DataSetName[];
  if (only.some((s) => !DATA_SETS.includes(s))) throw new Error(`--sets takes ${DATA_SETS.join(', ')}`);
  if (!root) {
    console.error(MISSING_DATA_HELP);
    process.exitCode = 2;
    return;
  }
  const runtime = await loadTfBackend();
  const registry = await ModelRegistry.load(runtime.tf, stringFlag(args.values.model) ?? BUNDLED_MODELS_DIR);
  const predictors = createDefaultPredictors(registry.get(HEAD_PREDICTOR_MODEL));
  const env = environment({ backend: runtime.backend, data: root, stride });
  printEnvironment(env);
  const sets = loadDataSets(root, only);
  if (!sets.length) {
    console.error(MISSING_DATA_HELP);
    process.exitCode = 2;
    return;
  }

  const validationRuns = Object.fromEntries(sets.map((s) => [s.name, splitSet(s).validation.map((t) => t.name)]));
  for (const set of sets) console.log(`${set.name}: ${validationRuns[set.name]!.length} validation runs of ${set.validationParticipants.join(' ')}`);
  const results = await evaluateAccuracy(sets, predictors, stride);
  printAccuracy(results);
  const { ratios, qualifies, p95 } = compareToBaselines(results);
  const eligible = predictors.filter((p) => qualifies[p.name]).map((p) => p.name);
  console.log(`no worse than the better baseline on every set and horizon: ${eligible.join(', ') || 'none'}; default on this node: ${predictors[0]!.name}`);

  const series = predictors.map((p) => ({ name: p.name, values: sets.flatMap((s) => HORIZONS.map((h) => p95(s.name, p.name, h))) }));
  writeResult(
    'motion-accuracy',
    {
      bench: 'motion-accuracy',
      environment: env,
      validationParticipants: Object.fromEntries(sets.map((s) => [s.name, s.validationParticipants])),
      validationRuns,
      model: registry.get(HEAD_PREDICTOR_MODEL)?.metadata ?? null,
      stride,
      horizonsMs: HORIZONS,
      results,
      p95Ratios: ratios,
      noWorseThanBestBaseline: qualifies,
      defaultPredictor: predictors[0]!.name,
    },
    barChart({
      title: 'p95 angular error on held-out participants, per data set and horizon (lower is better)',
      yLabel: 'degrees',
      categories: sets.flatMap((s) => HORIZONS.map((h) => `${s.name} ${h} ms`)),
      series,
    }),
  );
  registry.dispose();
}
