import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PoseHistory } from '../edge-server/index.js';
import { snapshot } from '../protocol/motion/PoseHistory.js';
import type { PoseSample } from '../protocol/index.js';

const history = suite('pose history');

const at = (ms: number, extra: Partial<PoseSample> = {}): PoseSample => ({
  device: 'head',
  time: ms * 1000,
  position: [ms, 2 * ms, 3 * ms],
  orientation: [0, 0, 2, 0], // not unit: the history normalises
  ...extra,
});

history('keeps a time-ordered window: duplicates and reordered samples are dropped, old ones age out', () => {
  const h = new PoseHistory({ maxAgeMs: 50 });
  assert.ok(h.push(at(0)));
  assert.not.ok(h.push(at(0)), 'a repeated time is dropped');
  for (let ms = 10; ms <= 100; ms += 10) assert.ok(h.push(at(ms)));
  assert.not.ok(h.push(at(95)), 'an older time is dropped');
  assert.equal(h.samples.map((s) => s.time / 1000), [50, 60, 70, 80, 90, 100]);
  assert.equal(h.latest!.position, [100, 200, 300]);
  assert.equal(h.latest!.orientation, [0, 0, 1, 0]);
  // the newest stays however old it is; maxSamples bounds fast trackers
  const fast = new PoseHistory({ maxSamples: 3, maxAgeMs: 10_000 });
  for (let ms = 0; ms < 10; ms++) fast.push(at(ms));
  assert.equal(fast.samples.map((s) => s.time / 1000), [7, 8, 9]);
});

history('slots are reused once aged out, with every field rewritten; snapshot copies survive reuse', () => {
  const h = new PoseHistory({ maxAgeMs: 20 });
  h.push(at(0, { linearVelocity: [1, 1, 1], angularVelocity: [0, 1, 0] }));
  const first = h.samples[0]!;
  const kept = snapshot(first);
  for (let ms = 10; ms <= 40; ms += 10) h.push(at(ms));
  // the first slot now carries a later pose, and no velocity it did not get
  assert.ok(h.samples.includes(first), 'the aged-out slot was reused');
  assert.is(first.time, 40_000);
  assert.equal(first.position, [40, 80, 120]);
  assert.is(first.linearVelocity, undefined);
  assert.is(first.angularVelocity, undefined);
  assert.equal(kept, { device: 'head', time: 0, position: [0, 0, 0], orientation: [0, 0, 1, 0], linearVelocity: [1, 1, 1], angularVelocity: [0, 1, 0] });
  // the input sample is never aliased: changing it later changes nothing stored
  const input = at(50);
  h.push(input);
  input.position[0] = -1;
  assert.is(h.latest!.position[0], 50);
});

history.run();
