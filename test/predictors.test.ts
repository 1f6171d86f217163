import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, type PoseSample } from '../protocol/index.js';
import { angleBetween, fromRotationVector } from '../protocol/motion/quaternion.js';
import type { PredictorFactory } from '../protocol/motion/predictor.js';
import { BUNDLED_MODELS_DIR, HEAD_PREDICTOR_MODEL, ModelRegistry, constantVelocity, createDefaultPredictors, kalmanPredictor, loadTfBackend, noPrediction } from '../edge-server/inference/index.js';
import { constantMotion, DEG } from './support/motionFixtures.js';

const test = suite('predictors');

const distance = (a: readonly number[], b: readonly number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);

/** Feeds `history` through observe() like a session, then predicts. */
async function run(factory: PredictorFactory, history: PoseSample[], horizonMs: number): Promise<PoseSample> {
  const p = factory.create();
  for (const s of history) p.observe?.(s);
  return p.predict(history.slice(-32), horizonMs);
}

function errors(predicted: PoseSample, truth: PoseSample): { deg: number; mm: number } {
  return { deg: angleBetween(predicted.orientation, truth.orientation) / DEG, mm: distance(predicted.position, truth.position) * 1000 };
}

// yaw at 120°/s while walking at 0.5 m/s, and a turn about a tilted axis (not a principal one)
const yaw = constantMotion([0, 120 * DEG, 0], [0.5, 0, 0]);
const tilted = constantMotion([40 * DEG, 80 * DEG, -30 * DEG], [0, 0.1, -0.3], fromRotationVector([0.3, -1, 0.2]));

test('none returns the newest pose stamped at the horizon', async () => {
  const history = yaw.samples(0.5);
  const out = await run(noPrediction, history, 50);
  const last = history[history.length - 1]!;
  assert.equal([...out.orientation], [...last.orientation]);
  assert.equal(out.position, last.position);
  assert.is(out.time, last.time + 50_000);
});

test('constant velocity is exact on a constant turn + constant velocity trajectory', async () => {
  for (const traj of [yaw, tilted]) {
    const history = traj.samples(0.5);
    const last = history[history.length - 1]!;
    const out = await run(constantVelocity, history, 50);
    const e = errors(out, traj.at(last.time / 1e6 + 0.05));
    assert.ok(e.deg < 1e-3, `angular error ${e.deg}°`);
    assert.ok(e.mm < 1e-3, `position error ${e.mm} mm`);
  }
});

test('kalman converges to the true turn rate and velocity (error-state on the manifold)', async () => {
  const factory = kalmanPredictor();
  for (const traj of [yaw, tilted]) {
    const history = traj.samples(1);
    const last = history[history.length - 1]!;
    for (const h of [20, 50, 100]) {
      const out = await run(factory, history, h);
      const e = errors(out, traj.at(last.time / 1e6 + h / 1000));
      assert.ok(e.deg < 0.05 * (h / 20), `${h} ms: angular error ${e.deg}°`);
      assert.ok(e.mm < 0.5 * (h / 20), `${h} ms: position error ${e.mm} mm`);
      assert.ok(Math.abs(Math.hypot(...out.orientation) - 1) < 1e-9, 'unit quaternion');
    }
  }
});

test('kalman catches up from history when observe() was never called', async () => {
  const history = yaw.samples(1).slice(-32);
  const last = history[history.length - 1]!;
  const out = await kalmanPredictor().create().predict(history, 50);
  const e = errors(out, yaw.at(last.time / 1e6 + 0.05));
  assert.ok(e.deg < 0.5, `angular error ${e.deg}°`);
});

test('kalman restarts after a tracking gap instead of extrapolating stale velocity', async () => {
  const p = kalmanPredictor().create();
  for (const s of yaw.samples(0.5)) p.observe?.(s);
  const still = constantMotion([0, 0, 0], [0, 0, 0]);
  const after = still.samples(0.05).map((s) => ({ ...s, time: s.time + 5e6 }));
  for (const s of after) p.observe?.(s);
  const out = await p.predict(after, 50);
  assert.ok(angleBetween(out.orientation, after[after.length - 1]!.orientation) / DEG < 0.5);
});

test('predict without poses is a BAD_REQUEST, not a crash', async () => {
  for (const f of [kalmanPredictor()]) {
    try {
      await f.create().predict([], 50);
      assert.unreachable('should reject');
    } catch (err) {
      assert.is((err as { code?: string }).code, ErrorCode.BAD_REQUEST, f.name);
    }
  }
});

test('learned (committed model) tracks a constant turn and keeps orientations unit length', async () => {
  const runtime = await loadTfBackend({ log: () => {} });
  const registry = await ModelRegistry.load(runtime.tf, BUNDLED_MODELS_DIR, { log: () => {} });
  const learned = createDefaultPredictors(registry.get(HEAD_PREDICTOR_MODEL)).find((p) => p.name === 'learned');
  assert.ok(learned, 'learned predictor built from the committed model');
  const slow = constantMotion([0, 60 * DEG, 0], [0.2, 0, 0]);
  const history = slow.samples(0.5);
  const last = history[history.length - 1]!;
  const out = await run(learned!, history, 50);
  const truth = slow.at(last.time / 1e6 + 0.05);
  const e = errors(out, truth);
  const none = errors(await run(noPrediction, history, 50), truth);
  // it must capture ≥ 90% of the 3° turn and the 10 mm step in 50 ms (none misses all of it);
  // the committed model leaves ~0.07° and ~0.14 mm
  assert.ok(e.deg < 0.1 * none.deg, `learned ${e.deg}° vs none ${none.deg}°`);
  assert.ok(e.mm < 0.1 * none.mm, `learned ${e.mm} mm vs none ${none.mm} mm`);
  assert.ok(Math.abs(Math.hypot(...out.orientation) - 1) < 1e-6);
  // concurrent requests from many sessions batch and answer each session its own pose
  const sessions = [0, 1, 2, 3].map((k) => constantMotion([0, (30 + 20 * k) * DEG, 0], [0, 0, 0]).samples(0.3));
  const answers = await Promise.all(sessions.map((h) => learned!.create().predict(h, 50)));
  answers.forEach((a, k) => {
    const yawDeg = 2 * Math.asin(a.orientation[1]) / DEG;
    const lastYaw = (30 + 20 * k) * 0.3;
    assert.ok(yawDeg > lastYaw, `session ${k} predicted forward motion`);
  });
  registry.dispose();
});

test('learned answers finite unit-quaternion poses for edge cases: one sample, duplicates, horizon 0 and past its training range', async () => {
  const runtime = await loadTfBackend({ log: () => {} });
  const registry = await ModelRegistry.load(runtime.tf, BUNDLED_MODELS_DIR, { log: () => {} });
  const learned = createDefaultPredictors(registry.get(HEAD_PREDICTOR_MODEL)).find((p) => p.name === 'learned')!;
  const samples = yaw.samples(0.2);
  const duplicated = samples.flatMap((s) => [s, { ...s }]);
  for (const [history, h] of [[samples.slice(-1), 50], [duplicated, 50], [samples, 0], [samples, 400]] as const) {
    const out = await learned.create().predict(history, h);
    assert.ok([...out.position, ...out.orientation].every(Number.isFinite), `finite for ${history.length} samples at ${h} ms`);
    assert.ok(Math.abs(Math.hypot(...out.orientation) - 1) < 1e-6);
    assert.is(out.time, history[history.length - 1]!.time + h * 1000);
  }
  // horizon 0 is the newest pose (up to the model's small bias)
  const now = await learned.create().predict(samples, 0);
  assert.ok(angleBetween(now.orientation, samples[samples.length - 1]!.orientation) / DEG < 0.2);
  registry.dispose();
});

test('every predictor answers in the hemisphere of the newest sample on a sign-flipping stream, and as accurately', async () => {
  const runtime = await loadTfBackend({ log: () => {} });
  const registry = await ModelRegistry.load(runtime.tf, BUNDLED_MODELS_DIR, { log: () => {} });
  const factories = createDefaultPredictors(registry.get(HEAD_PREDICTOR_MODEL));
  assert.ok(factories.some((f) => f.name === 'learned'), 'learned is among them');
  const traj = tilted;
  const clean = traj.samples(1.5);
  // flips in runs of 1–9 samples, like a HoloLens stream: −q for the same rotation
  const flipped = clean.map((s, i) => (Math.floor(i / (1 + (i % 9))) % 2 ? { ...s, orientation: s.orientation.map((c) => -c) as typeof s.orientation } : s));
  assert.ok(flipped.filter((s, i) => s.orientation[3] !== clean[i]!.orientation[3]).length > clean.length / 4, 'a good share of samples flipped');
  for (const factory of factories) {
    const onClean = factory.create();
    const onFlipped = factory.create();
    let answers = 0;
    let wrongSign = 0;
    for (let i = 0; i < flipped.length; i++) {
      onClean.observe?.(clean[i]!);
      onFlipped.observe?.(flipped[i]!);
      if (i < 45) continue; // filters settle
      const latest = flipped[i]!;
      const out = await onFlipped.predict(flipped.slice(Math.max(0, i - 31), i + 1), 50);
      const ref = await onClean.predict(clean.slice(Math.max(0, i - 31), i + 1), 50);
      answers++;
      const d = out.orientation.reduce((sum, c, k) => sum + c * latest.orientation[k]!, 0);
      if (d < 0) wrongSign++;
      // the sign of the input must not change the rotation predicted
      const drift = angleBetween(out.orientation, ref.orientation) / DEG;
      assert.ok(drift < 0.05, `${factory.name}: sample ${i} flipped input moved the answer by ${drift}°`);
    }
    assert.ok(answers > 50);
    assert.is(wrongSign, 0, `${factory.name}: ${wrongSign} of ${answers} answers in the other hemisphere from the newest sample`);
  }
  registry.dispose();
});

test.run();
