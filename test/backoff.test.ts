import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Backoff, BackoffTable } from '../client-sdk/link/Backoff.js';
import { SessionMemory } from '../client-sdk/session/SessionMemory.js';
import type { PoseSample } from '../protocol/index.js';

const backoff = suite('backoff: jittered exponential');

backoff('delays double up to the ceiling and stay within [nominal/2, nominal)', () => {
  for (const r of [0, 0.5, 0.999]) {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, random: () => r });
    const delays = Array.from({ length: 6 }, () => b.next());
    const nominal = [100, 200, 400, 800, 1000, 1000];
    delays.forEach((d, i) => {
      assert.ok(d >= nominal[i]! / 2 && d < nominal[i]!, `attempt ${i}: ${d} not in [${nominal[i]! / 2}, ${nominal[i]})`);
    });
  }
});

backoff('jitter spreads a herd: 200 clients retrying a dead node do not all pick the same instant', () => {
  const delays = Array.from({ length: 200 }, () => new Backoff({ initialMs: 200 }).next());
  const buckets = new Set(delays.map((d) => Math.floor(d / 10)));
  assert.ok(buckets.size >= 8, `200 first retries fell into only ${buckets.size} 10-ms buckets`);
  assert.ok(Math.min(...delays) >= 100, 'no client retries faster than half the nominal delay');
});

backoff('reset() starts over', () => {
  const b = new Backoff({ initialMs: 100, random: () => 0 });
  b.next();
  b.next();
  b.reset();
  assert.is(b.next(), 50);
});

backoff('bad options are TypeErrors', () => {
  assert.throws(() => new Backoff({ initialMs: 0 }), TypeError);
  assert.throws(() => new Backoff({ initialMs: 100, maxMs: 50 }), TypeError);
});

backoff.run();

const table = suite('backoff: per-node table');

table('a failed node waits, others are ready; success and retain() forget', () => {
  let now = 0;
  const t = new BackoffTable({ initialMs: 100, random: () => 0 }, () => now);
  assert.ok(t.ready('a'));
  assert.is(t.failed('a'), 50);
  assert.not.ok(t.ready('a'));
  assert.ok(t.ready('b'));
  now = 50;
  assert.ok(t.ready('a'));
  assert.is(t.failed('a'), 100, 'the second failure waits twice as long');
  assert.is(t.failed('a', 1000), 1000, 'a minimum (drain, cooldown) wins over a shorter backoff');
  assert.is(t.failed('a'), 1000, 'a later short backoff does not cut the cooldown short');
  t.succeeded('a');
  assert.ok(t.ready('a'));
  t.failed('c');
  t.retain(['a']);
  assert.ok(t.ready('c'), 'a node no longer offered is forgotten');
});

table.run();

const memory = suite('session memory');

const pose = (time: number, x = 0, device: PoseSample['device'] = 'head'): PoseSample => ({ device, time, position: [x, 1.6, 0], orientation: [0, 0, 0, 1] });

memory('keeps recent poses per device in order, drops stale ones, bounded', () => {
  const m = new SessionMemory({ maxPoses: 4 });
  for (let i = 1; i <= 6; i++) assert.ok(m.observe(pose(i * 11_000, i * 0.01)));
  assert.not.ok(m.observe(pose(5 * 11_000)), 'an out-of-order sample is dropped');
  assert.equal(m.history('head').map((p) => p.time), [33_000, 44_000, 55_000, 66_000]);
  m.observe(pose(1000, 0, 'left'));
  assert.is(m.recentPoses(4).length, 3, 'the replay is shared fairly between devices');
});

memory('predicts locally by constant velocity', () => {
  const m = new SessionMemory();
  m.observe(pose(0, 0));
  m.observe(pose(100_000, 0.1)); // 1 m/s along x
  const predicted = m.predictLocally('head', 100)!;
  assert.ok(Math.abs(predicted.position[0] - 0.2) < 1e-9, `x = ${predicted.position[0]}`);
  assert.is(m.predictLocally('left', 10), undefined, 'no history, no local answer');
});

memory('resume state carries poses, scene and model but not the predictor', () => {
  const m = new SessionMemory();
  m.observe(pose(1));
  m.predictor = 'learned';
  m.model = 'gru';
  m.rememberScene('room', new Uint8Array(8));
  const resume = m.resumeState(64);
  assert.is(resume.poses?.length, 1);
  assert.is(resume.scene, 'room');
  assert.is(resume.model, 'gru');
  assert.is(resume.predictor, undefined);
  const small = new SessionMemory({ maxSceneBytes: 4 });
  small.rememberScene('big', new Uint8Array(8));
  assert.is(small.scene, undefined, 'a scene over the cap is not kept for replay');
  assert.is(small.resumeState(64).scene, 'big');
});

memory.run();
