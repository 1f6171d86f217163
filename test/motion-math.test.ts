import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { extrapolateConstantVelocity, quaternion, type PoseSample } from '../protocol/index.js';

const math = suite('motion math');
const deg = Math.PI / 180;
const close = (a: readonly number[], b: readonly number[], eps = 1e-9) => a.every((x, i) => Math.abs(x - b[i]!) < eps);

math('rotation vector ↔ quaternion round-trips, including tiny and near-π angles', () => {
  for (const v of [[0, 0, 0], [1e-9, 0, 0], [0.3, -0.2, 0.9], [0, Math.PI - 1e-6, 0]]) {
    assert.ok(close(quaternion.toRotationVector(quaternion.fromRotationVector(v)), v, 1e-6), String(v));
  }
});

math('slerp extrapolates along the great arc (t = 2 doubles the rotation)', () => {
  const a = quaternion.fromRotationVector([0, 10 * deg, 0]);
  const b = quaternion.fromRotationVector([0, 30 * deg, 0]);
  const c = quaternion.slerp(a, b, 2);
  assert.ok(Math.abs(quaternion.angleBetween(c, quaternion.fromRotationVector([0, 50 * deg, 0]))) < 1e-9);
});

math('constant velocity is exact on a constant-turn-rate, constant-velocity trajectory', () => {
  // 120°/s about a tilted axis, moving at (0.5, 0, -0.25) m/s, sampled at 90 Hz
  const axis = [0.3, 0.9, 0.3].map((x) => x / Math.hypot(0.3, 0.9, 0.3));
  const rate = 120 * deg;
  const at = (tUs: number): PoseSample => ({
    device: 'head',
    time: tUs,
    position: [0.5 * (tUs / 1e6), 1.6, -0.25 * (tUs / 1e6)],
    orientation: quaternion.fromRotationVector(axis.map((a) => (a * rate * tUs) / 1e6)),
  });
  const history = Array.from({ length: 20 }, (_, i) => at(Math.round((i * 1e6) / 90)));
  const latest = history[history.length - 1]!.time;
  for (const horizon of [20, 50, 100]) {
    const predicted = extrapolateConstantVelocity(history, horizon);
    const truth = at(latest + horizon * 1000);
    assert.ok(quaternion.angleBetween(predicted.orientation, truth.orientation) < 1e-6, `orientation at +${horizon} ms`);
    assert.ok(close(predicted.position, truth.position, 1e-6), `position at +${horizon} ms`);
  }
});

math('reported velocities win over finite differences; a single sample predicts standing still', () => {
  const one: PoseSample = { device: 'head', time: 0, position: [0, 0, 0], orientation: [0, 0, 0, 1] };
  assert.equal(extrapolateConstantVelocity([one], 50).position, [0, 0, 0]);
  const moving = { ...one, linearVelocity: [1, 0, 0] as [number, number, number], angularVelocity: [0, 0, 0] as [number, number, number] };
  assert.ok(close(extrapolateConstantVelocity([moving], 50).position, [0.05, 0, 0]));
});

math.run();
