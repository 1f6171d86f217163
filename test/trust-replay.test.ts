import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EdgeServer } from '../edge-server/index.js';
import { constantVelocity, kalmanPredictor, noPrediction, replayPredictions, type ReplayMessage } from '../edge-server/inference/index.js';
import type { Message, PoseSample } from '../protocol/index.js';
import { constantMotion, DEG } from './support/motionFixtures.js';
import { RawClient } from './support/rawClient.js';

const test = suite('trust-replay');
const factories = [kalmanPredictor(), constantVelocity, noPrediction];

/** A wobbly head: a constant turn plus a small sinusoid, so Kalman and CV disagree. */
function wobbly(n: number): PoseSample[] {
  const base = constantMotion([0.2, 100 * DEG, 0], [0.4, 0, -0.2]).samples(n / 90);
  return base.slice(0, n).map((s, i) => ({ ...s, position: [s.position[0] + 0.01 * Math.sin(i / 5), s.position[1], s.position[2]] }));
}

async function onNode(messages: ReplayMessage[]): Promise<Message[]> {
  const server = new EdgeServer({ nodeId: 'replay-node', predictors: factories });
  const { url } = await server.listen();
  const client = await RawClient.open(url);
  try {
    await client.hello();
    for (const m of messages) client.send(m as Message);
    const ids = messages.filter((m) => m.t === 'predict').map((m) => (m as { id: number }).id);
    await client.next((m) => m.t === 'prediction' && m.id === ids[ids.length - 1]);
    return client.received.filter((m) => m.t === 'prediction');
  } finally {
    client.close();
    await server.close();
  }
}

test('replay answers every predict exactly as a real edge session does (coalesced poses, pose messages, predictor switch)', async () => {
  const poses = wobbly(60);
  const messages: ReplayMessage[] = [];
  let id = 1;
  poses.forEach((pose, i) => {
    if (i % 4 === 3) messages.push({ t: 'pose', poses: [pose] });
    else messages.push({ t: 'predict', id: id++, horizonMs: 10 + (i % 5) * 10, poses: [pose], ...(i === 30 ? { predictor: 'constant-velocity' } : {}) });
    if (i === 10) messages.push({ t: 'pose', poses: [pose] }); // a repeat the history drops
  });
  const live = await onNode(messages);
  const replayed = await replayPredictions(new Map(factories.map((f) => [f.name, f])), messages, { defaultPredictor: 'kalman' });
  assert.is(replayed.length, live.length);
  for (const [i, r] of replayed.entries()) {
    const m = live[i] as Extract<Message, { t: 'prediction' }>;
    assert.is(m.id, r.id);
    assert.is(m.predictor, r.predictor);
    assert.equal(m.pose, r.pose, `predict ${r.id} differs`);
  }
  assert.ok(replayed.some((r) => r.predictor === 'kalman') && replayed.some((r) => r.predictor === 'constant-velocity'));
});

test('replay rejects what it cannot recompute with a code', async () => {
  const poses = wobbly(3);
  const err = await replayPredictions(new Map([[constantVelocity.name, constantVelocity]]), [{ t: 'predict', id: 1, horizonMs: 20, poses }], { defaultPredictor: 'learned' }).catch((e) => e);
  assert.is(err.code, 'UNKNOWN_PREDICTOR');
  const none = await replayPredictions(new Map([[constantVelocity.name, constantVelocity]]), [{ t: 'predict', id: 1, horizonMs: 20 }], { defaultPredictor: 'constant-velocity' }).catch((e) => e);
  assert.is(none.code, 'NO_POSES');
});

test.run();
