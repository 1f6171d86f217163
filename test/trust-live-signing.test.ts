/**
 * Signed results on the wire: a real EdgeServer with a node key seals its predict answers
 * (edge-server/session/SessionSeals.ts); what the client received is enough to rebuild every
 * sealed block, check each seal against the node's key, and hand discovery's EvidenceVerifier a
 * self-contained record — which an honest node's answers never fail, and an edited answer cannot pass.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EvidenceVerifier } from '../discovery/evidence.js';
import { generateKeyPair } from '../discovery/identity.js';
import { EdgeServer } from '../edge-server/index.js';
import { constantVelocity, kalmanPredictor, noPrediction } from '../edge-server/inference/index.js';
import { inputDigestOf, predictionEntry, verifySegment, type Message, type PoseSample, type PredictEvidence } from '../protocol/index.js';
import { constantMotion, DEG } from './support/motionFixtures.js';
import { RawClient } from './support/rawClient.js';
import { chainSegments } from './support/chainSegments.js';

const test = suite('trust-live-signing');
const factories = [kalmanPredictor(), constantVelocity, noPrediction];

type Prediction = Extract<Message, { t: 'prediction' }>;
type Seal = Extract<Message, { t: 'seal' }>;

async function liveRun(n: number, sealEvery: number) {
  const keys = generateKeyPair();
  // a long sealAfterMs: seals here come from the count, and the idle timer closes the tail
  const server = new EdgeServer({ nodeId: 'signing-node', predictors: factories, nodeKey: keys.privateKeyPem, resultSigning: { sealEvery, sealAfterMs: 200 } });
  const { url } = await server.listen();
  const client = await RawClient.open(url);
  const samples = constantMotion([0.2, 90 * DEG, 0], [0.3, 0, -0.1]).samples(n / 90).slice(0, n);
  const messages = samples.map((pose, i) => ({ t: 'predict' as const, id: i + 1, horizonMs: 20 + (i % 4) * 5, poses: [pose] }));
  try {
    const welcome = (await client.hello()) as Extract<Message, { t: 'welcome' }>;
    for (const m of messages) client.send(m);
    // the last block is not full: the node's idle timer seals it
    await client.next((m) => m.t === 'seal' && m.to === n, 10_000);
    const predictions = client.received.filter((m): m is Prediction => m.t === 'prediction');
    const seals = client.received.filter((m): m is Seal => m.t === 'seal').map(({ t: _t, ...s }) => s);
    return { keys, session: welcome.session, defaultPredictor: welcome.predictors[0]!, samples, messages, predictions, seals };
  } finally {
    client.close();
    await server.close();
  }
}

test('the node seals its live answers: every block verifies against its key and binds the input the client sent', async () => {
  const run = await liveRun(40, 16);
  assert.is(run.predictions.length, 40);
  assert.equal(run.seals.map((s) => s.to), [16, 32, 40]);
  const entries = run.predictions.map((p) => predictionEntry(p.id, p.id, p));
  for (const segment of await chainSegments('signing-node', run.session, entries, run.seals)) {
    assert.ok(await verifySegment(segment, run.keys.publicKey), `block to ${segment.seal.to} verifies`);
    assert.is(segment.seal.inputDigest, await inputDigestOf(run.session, run.samples.slice(0, segment.seal.inputs)));
  }
});

test("discovery's verifier finds an honest live answer NOT_WRONG, and an edited one NOT_SIGNED_BY_NODE", async () => {
  const run = await liveRun(24, 8);
  const entries = run.predictions.map((p) => predictionEntry(p.id, p.id, p));
  const blocks = await chainSegments('signing-node', run.session, entries, run.seals);
  const verifier = new EvidenceVerifier({ keyOf: (id) => (id === 'signing-node' ? run.keys.publicKey : undefined), predictors: new Map(factories.map((f) => [f.name, f])) });
  const accused = run.predictions[12]!;
  const segment = blocks.find((b) => b.seal.to >= accused.id && b.seal.to - b.entries.length < accused.id)!;
  const evidence = (pose: PoseSample): PredictEvidence => ({
    kind: 'predict',
    node: 'signing-node',
    session: run.session,
    defaultPredictor: run.defaultPredictor,
    messages: run.messages.slice(0, segment.seal.inputs),
    accused: accused.id,
    answer: { predictor: accused.predictor, horizonMs: accused.horizonMs, pose },
    segment,
    reporter: 'client-1',
  });
  const honest = await verifier.verify(evidence(accused.pose)).catch((e) => e);
  assert.is(honest.code, 'NOT_WRONG');
  const edited = await verifier.verify(evidence({ ...accused.pose, position: [accused.pose.position[0] + 0.1, accused.pose.position[1], accused.pose.position[2]] })).catch((e) => e);
  assert.is(edited.code, 'NOT_SIGNED_BY_NODE');
});

test('a node without a key sends no seals; with one, sealEvery 1 seals each answer before the next message', async () => {
  const pose = constantMotion([0, 0, 0], [0, 0, 0]).samples(0.1)[0]!;
  // seals and answers leave in order: with sealEvery 1 the seal is sent in the answer's turn,
  // so the pong that follows proves the presence (keyed node) or absence (no key) of a seal
  for (const nodeKey of [generateKeyPair().privateKeyPem, undefined]) {
    const server = new EdgeServer({ nodeId: 'plain', predictors: factories, ...(nodeKey ? { nodeKey } : {}), resultSigning: { sealEvery: 1 } });
    const { url } = await server.listen();
    const client = await RawClient.open(url);
    try {
      await client.hello();
      client.send({ t: 'predict', id: 1, horizonMs: 20, poses: [pose] });
      client.send({ t: 'ping', id: 2, c: 0 });
      await client.next((m) => m.t === 'pong');
      assert.is(client.received.some((m) => m.t === 'seal'), nodeKey !== undefined);
    } finally {
      client.close();
      await server.close();
    }
  }
});

test.run();
