/**
 * Predictors on streams that break the usual assumptions, with known futures: a tracking reset
 * (3 m position jump), a 200 ms stall (no samples), and a stall whose queued poses arrive stamped
 * 1 ms apart (what the CROM recorder wrote). Every answer at 50 ms is checked, not an average.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, PREDICTION_FALLBACKS, decode, encode, validate, type Message, type PoseSample } from '../protocol/index.js';
import { angleBetween } from '../protocol/motion/quaternion.js';
import type { PredictorFactory } from '../protocol/motion/predictor.js';
import { PoseHistory } from '../protocol/motion/PoseHistory.js';
import { BUNDLED_MODELS_DIR, HEAD_PREDICTOR_MODEL, ModelRegistry, createDefaultPredictors, kalmanPredictor, loadTfBackend } from '../edge-server/inference/index.js';
import type { Prediction } from '../protocol/motion/predictor.js';
import { DEG, swayingWalk } from './support/motionFixtures.js';

const test = suite('predictors-robustness');
const walk = swayingWalk();
const H = 50;
const JUMP_S = 1.5;

let factories: PredictorFactory[] = [];
let dispose = () => {};
test.before(async () => {
  const runtime = await loadTfBackend({ log: () => {} });
  const registry = await ModelRegistry.load(runtime.tf, BUNDLED_MODELS_DIR, { log: () => {} });
  factories = createDefaultPredictors(registry.get(HEAD_PREDICTOR_MODEL));
  dispose = () => registry.dispose();
});
test.after(() => dispose());

/** The recorded pose at `time` µs, interpolated in `recorded` (the known future). */
function truthAt(recorded: readonly PoseSample[], time: number): PoseSample | undefined {
  const j = recorded.findIndex((s) => s.time >= time);
  if (j <= 0) return j === 0 ? recorded[0] : undefined;
  const a = recorded[j - 1]!, b = recorded[j]!;
  // poses here are < 2° apart, so component-wise blending is accurate enough for a 10° bound
  const f = (time - a.time) / (b.time - a.time);
  const mix = (x: readonly number[], y: readonly number[]) => x.map((v, i) => v + (y[i]! - v) * f);
  const q = mix(a.orientation, b.orientation.map((c) => (a.orientation.reduce((s, v, i) => s + v * b.orientation[i]!, 0) < 0 ? -c : c)));
  const n = Math.hypot(...q);
  return { device: 'head', time, position: mix(a.position, b.position) as PoseSample['position'], orientation: q.map((c) => c / n) as PoseSample['orientation'] };
}

interface Answer {
  time: number;
  deg: number;
  mm: number;
  out: Prediction;
  latest: PoseSample;
}

/** Streams `stream` through a session-like history, predicting H ms ahead after every sample. */
async function replay(factory: PredictorFactory, stream: readonly PoseSample[], recorded = stream): Promise<Answer[]> {
  const history = new PoseHistory();
  const predictor = factory.create();
  const answers: Answer[] = [];
  for (const sample of stream) {
    if (!history.push(sample)) continue;
    predictor.observe?.(history.latest!);
    if (sample.time < 200_000) continue; // let filters settle at the start
    const truth = truthAt(recorded, sample.time + H * 1000);
    if (!truth) continue;
    const out = (await predictor.predict(history.samples, H)) as Prediction;
    answers.push({
      time: sample.time,
      deg: angleBetween(out.orientation, truth.orientation) / DEG,
      mm: 1000 * Math.hypot(...out.position.map((v, i) => v - truth.position[i]!)),
      out,
      latest: sample,
    });
  }
  return answers;
}

const worst = (answers: readonly Answer[]) => answers.reduce((w, a) => (a.deg > w.deg ? a : w));

test('a 3 m position jump (tracking reset) never gives more than 10° at 50 ms; the answers after it say reset, then recover', async () => {
  const stream = walk.samples(3).map((s) => (s.time >= JUMP_S * 1e6 ? { ...s, position: [s.position[0] + 3, s.position[1], s.position[2]] as PoseSample['position'] } : s));
  for (const factory of factories) {
    const answers = await replay(factory, stream);
    const w = worst(answers);
    assert.ok(w.deg <= 10, `${factory.name}: ${w.deg.toFixed(1)}° at t=${w.time / 1e6} s`);
    if (factory.name !== 'kalman' && factory.name !== 'learned') continue;
    const justAfter = answers.filter((a) => a.time >= JUMP_S * 1e6 && a.time < JUMP_S * 1e6 + 50_000);
    assert.ok(justAfter.length > 2 && justAfter.every((a) => a.out.fallback === 'reset'), `${factory.name}: answers right after the jump are marked reset`);
    const later = answers.filter((a) => a.time > JUMP_S * 1e6 + 200_000);
    assert.ok(later.every((a) => a.out.fallback === undefined), `${factory.name}: no fallback once settled`);
    // the restarted position filter follows the new frame, not the old one
    assert.ok(later.every((a) => a.mm < 20), `${factory.name}: worst position error after settling ${Math.max(...later.map((a) => a.mm)).toFixed(1)} mm`);
    assert.ok(answers.filter((a) => a.time < JUMP_S * 1e6 - 100_000).every((a) => a.out.fallback === undefined), `${factory.name}: no fallback before the jump`);
  }
});

test('a 200 ms stall (no samples) never gives more than 10° at 50 ms; the first answers after it say stall', async () => {
  const stream = walk.samples(3).filter((s) => s.time <= JUMP_S * 1e6 || s.time >= JUMP_S * 1e6 + 200_000);
  for (const factory of factories) {
    const answers = await replay(factory, stream);
    const w = worst(answers);
    assert.ok(w.deg <= 10, `${factory.name}: ${w.deg.toFixed(1)}° at t=${w.time / 1e6} s`);
    if (factory.name !== 'kalman' && factory.name !== 'learned') continue;
    const first = answers.find((a) => a.time > JUMP_S * 1e6)!;
    assert.is(first.out.fallback, 'stall', factory.name);
    assert.ok(answers.filter((a) => a.time > JUMP_S * 1e6 + 400_000).every((a) => a.out.fallback === undefined), `${factory.name}: settles`);
  }
});

test('a stall whose queued poses arrive stamped 1 ms apart: no velocity blow-up, and accurate again once samples are regular', async () => {
  const real = walk.samples(3);
  const stallStart = JUMP_S * 1e6;
  const stallEnd = stallStart + 200_000;
  let k = 0;
  // the poses tracked during the stall, written when it ends, 1 ms apart (as in the CROM source)
  const stream = real.map((s) => (s.time > stallStart && s.time < stallEnd ? { ...s, time: stallEnd + 1000 * k++ } : s.time >= stallEnd ? { ...s, time: s.time + 1000 * k } : s));
  assert.ok(k > 15, 'a burst of queued poses');
  const peakTurnDeg = 94 * (H / 1000); // the trajectory's fastest turn over one horizon
  for (const factory of factories.filter((f) => f.name === 'kalman' || f.name === 'learned')) {
    const answers = await replay(factory, stream);
    const burst = answers.filter((a) => a.time > stallEnd && a.time <= stallEnd + 1000 * k);
    for (const a of burst) {
      const turn = angleBetween(a.out.orientation, a.latest.orientation) / DEG;
      assert.ok(turn <= 1.5 * peakTurnDeg, `${factory.name}: predicted a ${turn.toFixed(1)}° turn in ${H} ms from a burst row (head turns ≤ ${peakTurnDeg.toFixed(1)}°)`);
      assert.is(a.out.fallback, 'stall');
    }
    const settled = answers.filter((a) => a.time > stallEnd + 1000 * k + 150_000);
    const w = worst(settled);
    assert.ok(w.deg <= 2, `${factory.name}: ${w.deg.toFixed(2)}° at t=${w.time / 1e6} s after the burst`);
  }
});

test('guard thresholds: ordinary fast motion and 36 Hz sampling with jitter raise no fallback', async () => {
  // 36 Hz with ±2 ms stamp jitter, a 300°/s turn while walking: a fast but real head
  const fast = swayingWalk();
  const stream = fast.samples(3, 36).map((s, i) => ({ ...s, time: s.time + ((i * 7919) % 5 - 2) * 1000 }));
  const p = kalmanPredictor().create();
  const history = new PoseHistory();
  let marked = 0;
  for (const s of stream) {
    if (!history.push(s)) continue;
    p.observe(history.latest!);
    if (p.predict(history.samples, H).fallback) marked++;
  }
  assert.is(marked, 0);
  assert.equal({ ...p.guardCounts }, { reset: 0, stall: 0 });
});

test('learned answers beyond its trained horizon from the filter and says out-of-range; fallback values are in the protocol', async () => {
  const learned = factories.find((f) => f.name === 'learned');
  assert.ok(learned, 'the shipped model loads');
  const history = new PoseHistory();
  const p = learned!.create();
  for (const s of walk.samples(1)) {
    history.push(s);
    p.observe?.(history.latest!);
  }
  const near = (await p.predict(history.samples, 50)) as Prediction;
  assert.is(near.fallback, undefined);
  const far = (await p.predict(history.samples, 400)) as Prediction;
  assert.is(far.fallback, 'out-of-range');
  for (const f of [far.fallback]) assert.ok((PREDICTION_FALLBACKS as readonly string[]).includes(f!));
});

test('the prediction message carries fallback through the codec; unknown values are refused with a code', () => {
  const pose = { device: 'head', time: 1, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] };
  const base = { t: 'prediction', id: 1, pose, predictor: 'learned', horizonMs: 50, computeMs: 0.01 };
  for (const fallback of PREDICTION_FALLBACKS) {
    const back = decode(encode({ ...base, fallback } as Message)) as Extract<Message, { t: 'prediction' }>;
    assert.is(back.fallback, fallback);
  }
  assert.is((decode(encode(base as Message)) as Extract<Message, { t: 'prediction' }>).fallback, undefined);
  try {
    validate({ ...base, fallback: 'panic' });
    assert.unreachable('an unknown fallback must not pass');
  } catch (err) {
    assert.is((err as { code?: string }).code, ErrorCode.BAD_MESSAGE);
  }
});

test.run();
