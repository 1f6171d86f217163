/**
 * Signed infer results and frames (protocol/resultSigning.ts): a real EdgeServer, with the real
 * tfjs inference engine and the real WebGPU renderer, chains every infer result and frame with its
 * predictions and seals them. A client that rebuilds each entry from what it sent and received
 * verifies every block; one changed byte of a frame or a tensor does not. The SDK's traps repeat
 * the app's latest infer and render on their own sessions and check those seals too: a node whose
 * seals do not cover the frames it sent is left as `untrusted`, with every app call answered.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import '../client-sdk/node.js';
import { openSession } from '../client-sdk/index.js';
import { StaticLocator, type NodeCandidate } from '../client-sdk/placement/locator.js';
import type { Session } from '../client-sdk/session/Session.js';
import { EvidenceVerifier, type Verdict } from '../discovery/evidence.js';
import { generateKeyPair } from '../discovery/identity.js';
import { EdgeServer } from '../edge-server/index.js';
import { constantVelocity, kalmanPredictor, loadInference, noPrediction, type LoadedInference } from '../edge-server/inference/index.js';
import { WebGpuRenderEngine } from '../edge-server/render/WebGpuRenderEngine.js';
import { SessionSeals } from '../edge-server/session/SessionSeals.js';
import {
  frameEntry,
  fromBase64url,
  inferEntry,
  inputDigestOf,
  predictionEntry,
  toWireTensor,
  verifySegment,
  type Message,
  type NodeTier,
  type PoseSample,
  type PredictEvidence,
  type RenderMessage,
  type Tensor,
} from '../protocol/index.js';
import type { PredictorFactory } from '../protocol/motion/predictor.js';
import { cheatingPredictor } from './support/cheatingPredictor.js';
import { swayingWalk } from './support/motionFixtures.js';
import { RawClient } from './support/rawClient.js';
import { chainSegments } from './support/chainSegments.js';

const test = suite('trust-signed-results');
const factories = [kalmanPredictor(), constantVelocity, noPrediction];
const MODEL = 'head-predictor';
/** A loud upper bound, not a pace: loops end on the event they wait for, or fail with what they saw. */
const DRIVE_TIMEOUT_MS = 120_000;
/** A stall on a loaded machine costs a second of local answers, not a minute (trust is judged here, not liveness). */
const PATIENT = { faultCooldownMs: 1000, overBudgetCooldownMs: 1000, rediscoverMaxMs: 1000 } as const;
const camera = { fovY: 90, ipd: 0.064, width: 64, height: 64 };

/** The shipped model's input width (from its model.json, as the registry reads it). */
let modelWidth = 0;
const servers: EdgeServer[] = [];

test.after.each(async () => {
  // a server closes the engines it was given
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/**
 * `frames`: every frame this node renders is added to it, so a patched seal can tell this node's
 * frames from another node's in the same process.
 */
async function node(id: string, tier: NodeTier = 'edge', options: { predictors?: PredictorFactory[]; sealAfterMs?: number; frames?: WeakSet<object> } = {}) {
  const keys = generateKeyPair();
  const inference: LoadedInference = await loadInference({ log: () => {} });
  modelWidth = inference.registry.get(MODEL)!.input.shape.at(-1)!;
  const renderer = await WebGpuRenderEngine.create();
  const frames = options.frames;
  if (frames) {
    const render = renderer.render.bind(renderer);
    renderer.render = async (...args) => {
      const frame = await render(...args);
      frames.add(frame);
      return frame;
    };
  }
  const server = new EdgeServer({
    nodeId: id,
    tier,
    predictors: options.predictors ?? factories,
    inference: inference.engine,
    renderer,
    nodeKey: keys.privateKeyPem,
    resultSigning: { sealEvery: 4096, sealAfterMs: options.sealAfterMs ?? 50 },
  });
  servers.push(server);
  const { url } = await server.listen();
  const candidate: NodeCandidate = { id, url, tier, publicKey: keys.publicKey };
  return { server, url, candidate, publicKey: keys.publicKey };
}

/** A plausible tensor for the shipped model: its input width, smooth values. */
function modelInput(seed: number): Tensor {
  const data = new Float32Array(modelWidth);
  for (let i = 0; i < modelWidth; i++) data[i] = Math.sin(seed + i * 0.37) * 0.1;
  return toWireTensor(data, [modelWidth]);
}

type Reply = Extract<Message, { t: 'prediction' | 'result' | 'frame' }>;
type Seal = Extract<Message, { t: 'seal' }>;

/** One request at a time (so the chain order is the send order), recording the samples sent before each. */
async function liveRun(url: string) {
  const client = await RawClient.open(url);
  const walk = swayingWalk();
  const samples: PoseSample[] = [];
  const sent: { request: Extract<Message, { t: 'predict' | 'infer' | 'render' }>; inputs: number }[] = [];
  let id = 0;
  const ask = async (request: (typeof sent)[number]['request']) => {
    sent.push({ request, inputs: samples.length });
    client.send(request);
    return (await client.next((m) => 'id' in m && m.id === request.id, 30_000)) as Reply;
  };
  try {
    const welcome = (await client.hello()) as Extract<Message, { t: 'welcome' }>;
    for (let i = 0; i < 24; i++) {
      const pose = { ...walk.at(i / 90), time: 1_000_000 + Math.round((i * 1e6) / 90) };
      samples.push(pose);
      // the samples ride on the predict, so they are counted before its answer
      sent.push({ request: { t: 'predict', id: ++id, horizonMs: 20, poses: [pose] }, inputs: samples.length });
      client.send(sent.at(-1)!.request);
      await client.next((m) => m.t === 'prediction' && m.id === id, 30_000);
      if (i === 7) await ask({ t: 'infer', id: ++id, model: MODEL, input: modelInput(i) });
      if (i === 15) await ask({ t: 'render', id: ++id, pose, eye: 'left', camera, codec: 'jpeg' });
    }
    await client.next((m) => m.t === 'seal' && m.to === id, 10_000);
    const replies = client.received.filter((m): m is Reply => m.t === 'prediction' || m.t === 'result' || m.t === 'frame');
    const seals = client.received.filter((m): m is Seal => m.t === 'seal').map(({ t: _t, ...s }) => s);
    return { session: welcome.session, samples, sent, replies, seals };
  } finally {
    client.close();
  }
}

/** Each reply's entry, rebuilt from the request sent (and the samples before it) and the reply received. */
async function entriesOf(run: Awaited<ReturnType<typeof liveRun>>): Promise<string[]> {
  const entries: string[] = [];
  for (const reply of run.replies) {
    const { request, inputs } = run.sent.find((s) => s.request.id === reply.id)!;
    if (reply.t === 'prediction') entries.push(predictionEntry(reply.id, inputs, reply));
    else if (reply.t === 'result' && request.t === 'infer') entries.push(await inferEntry(reply.id, inputs, request.model, request.input, reply.output));
    else if (reply.t === 'frame' && request.t === 'render') entries.push(await frameEntry(reply.id, inputs, request, reply));
    else throw new Error(`${request.t} answered with ${reply.t}`);
  }
  return entries;
}

test('the node seals infer results and frames with its predictions: every block verifies and binds the input sent', async () => {
  const n = await node('signing-all');
  const run = await liveRun(n.url);
  assert.equal(
    run.replies.map((r) => r.t).filter((t) => t !== 'prediction'),
    ['result', 'frame'],
  );
  const frame = run.replies.find((r) => r.t === 'frame')!;
  assert.ok(frame.t === 'frame' && frame.data.length > 100, 'a real encoded frame came back');
  const segments = await chainSegments('signing-all', run.session, await entriesOf(run), run.seals);
  assert.is(segments.at(-1)!.seal.to, 26);
  for (const segment of segments) {
    assert.ok(await verifySegment(segment, n.publicKey), `block to ${segment.seal.to} verifies`);
    assert.is(segment.seal.inputDigest, await inputDigestOf(run.session, run.samples.slice(0, segment.seal.inputs)));
  }
});

test('one changed byte of a frame or of a result tensor no longer verifies', async () => {
  const n = await node('signing-tamper');
  const run = await liveRun(n.url);
  const honest = await entriesOf(run);
  for (const kind of ['frame', 'result'] as const) {
    const replies = run.replies.map((r) => {
      if (r.t !== kind) return r;
      const bytes = r.t === 'frame' ? r.data : r.t === 'result' ? r.output.data : new Uint8Array(1);
      const changed = bytes.slice();
      changed[changed.length >> 1]! ^= 1;
      return r.t === 'frame' ? { ...r, data: changed } : r.t === 'result' ? { ...r, output: { ...r.output, data: changed } } : r;
    });
    const entries = await entriesOf({ ...run, replies });
    const i = entries.findIndex((e, k) => e !== honest[k]);
    assert.ok(i >= 0, `the ${kind}'s entry changed`);
    const segment = (await chainSegments('signing-tamper', run.session, entries, run.seals)).find((s) => s.seal.to > i && s.seal.to - s.entries.length <= i)!;
    assert.not.ok(await verifySegment(segment, n.publicKey), `a changed ${kind} fails its block`);
  }
});

/**
 * The app: poses, and a predict per frame (every answer awaited) until `done`. Each frame yields
 * to the event loop as a real frame loop does (a local answer resolves in a microtask, and a loop
 * that never yields starves the sockets the session needs: test/trust-session.test.ts).
 */
async function drive(session: Session, done: () => boolean, detail: () => string): Promise<{ frames: number; answered: number }> {
  const walk = swayingWalk();
  const deadline = performance.now() + DRIVE_TIMEOUT_MS;
  let answered = 0;
  let i = 0;
  for (; !done(); i++) {
    if (performance.now() > deadline) throw new Error(`not done after ${DRIVE_TIMEOUT_MS} ms (${i} frames): ${detail()}`);
    session.sendPose({ ...walk.at(i / 90), time: Math.round(performance.now() * 1000) });
    await session.predict(20);
    answered++;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { frames: i, answered };
}

/** Poses first (a trap cuts its stream from recorded motion), then one live infer and render to repeat. */
async function warmUp(session: Session): Promise<void> {
  const walk = swayingWalk();
  for (let i = 0; i < 120; i++) session.sendPose({ ...walk.at(i / 90), time: Math.round(performance.now() * 1000) + i });
  await session.infer(MODEL, modelInput(1));
  await session.render({ pose: { ...walk.at(1), time: Math.round(performance.now() * 1000) }, eye: 'left', camera, codec: 'jpeg' });
}

test("the SDK's traps repeat the app's infer and render and verify their seals on an honest node", async () => {
  const honest = await node('honest-extras');
  const session = await openSession({ locator: new StaticLocator({ edge: [honest.candidate] }), budgetMs: 500, ...PATIENT, trust: { trapShare: 1, frameIntervalMs: 1, trapTimeoutMs: 20_000 } });
  const outcomes: { kind: string; extras?: number }[] = [];
  session.failover!.trust!.on('trap', (_id, outcome) => outcomes.push(outcome.kind === 'pass' ? { kind: 'pass', extras: outcome.extras } : { kind: outcome.kind }));
  try {
    await warmUp(session);
    const run = await drive(session, () => outcomes.some((o) => o.kind === 'pass' && o.extras === 2), () => JSON.stringify(outcomes));
    await session.failover!.trust!.settled();
    assert.is(run.answered, run.frames);
    assert.equal(outcomes.filter((o) => o.kind !== 'pass' && o.kind !== 'unsealed'), [], JSON.stringify(outcomes));
    assert.is(session.nodeId, 'honest-extras');
  } finally {
    session.close();
  }
});

test("a wrong prediction sealed in a block with the trap's infer result and frame is evidence discovery confirms", async () => {
  // one block per trap: its idle seal comes 3 s after the last answer (the trap waits for it)
  const cheater = await node('cheater-extras', 'edge', { predictors: [cheatingPredictor(kalmanPredictor(), 0.05), constantVelocity, noPrediction], sealAfterMs: 3000 });
  const honest = await node('honest-cloud-2', 'cloud');
  const verifier = new EvidenceVerifier({ keyOf: (id) => [cheater, honest].find((n) => n.candidate.id === id)?.publicKey, predictors: new Map(factories.map((f) => [f.name, f])) });
  const verdicts: Verdict[] = [];
  const submitted: PredictEvidence[] = [];
  const locator = Object.assign(new StaticLocator({ edge: [cheater.candidate], cloud: [honest.candidate] }), {
    submitEvidence: async (e: PredictEvidence) => {
      submitted.push(e);
      verdicts.push(await verifier.verify(JSON.parse(JSON.stringify(e))));
    },
  });
  const session = await openSession({ locator, budgetMs: 500, ...PATIENT, trust: { trapShare: 1, frameIntervalMs: 1, sealTimeoutMs: 20_000, trapTimeoutMs: 60_000 } });
  try {
    await warmUp(session);
    const run = await drive(session, () => verdicts.length > 0 && session.nodeId === 'honest-cloud-2', () => JSON.stringify({ node: session.nodeId, verdicts }));
    assert.is(run.answered, run.frames);
    assert.is(verdicts[0]!.node, 'cheater-extras');
    // the block the evidence carries holds the trap's infer result (kind 2) and frame (kind 3):
    // an entry is request id (f64), inputs (f64), output length (u32), then the output's kind byte
    const kinds = submitted[0]!.segment.entries.map((e) => fromBase64url(e)[20]).filter((k) => k !== 1);
    assert.equal(kinds.sort(), [2, 3]);
  } finally {
    session.close();
  }
});

test('a node whose seals do not cover the frames it sent is left as untrusted, every app call answered', async () => {
  const liarFrames = new WeakSet<object>();
  const liar = await node('liar', 'edge', { frames: liarFrames });
  const honest = await node('honest-cloud', 'cloud');
  // the liar signs other bytes than it sends (as a node that swaps frames after signing would);
  // only its own frames: the patch is process-wide, and the honest node (where the session goes
  // when a loaded machine makes the liar slow before it is caught) must keep signing what it sends
  const original = SessionSeals.prototype.frame;
  SessionSeals.prototype.frame = function (this: SessionSeals, id, request: RenderMessage, frame) {
    if (!liarFrames.has(frame)) return original.call(this, id, request, frame);
    const other = frame.data.slice();
    if (other.length > 0) other[0]! ^= 0xff;
    return original.call(this, id, request, { ...frame, data: other });
  };
  const session = await openSession({ locator: new StaticLocator({ edge: [liar.candidate], cloud: [honest.candidate] }), budgetMs: 500, ...PATIENT, trust: { trapShare: 1, frameIntervalMs: 1, trapTimeoutMs: 20_000 } });
  const distrusted: string[] = [];
  session.failover!.trust!.on('distrust', (id, why) => distrusted.push(`${id}:${why}`));
  try {
    assert.is(session.nodeId, 'liar');
    await warmUp(session);
    const run = await drive(session, () => distrusted.length > 0 && session.nodeId === 'honest-cloud', () => JSON.stringify({ node: session.nodeId, distrusted }));
    assert.is(run.answered, run.frames, 'every app call answered');
    assert.equal(distrusted, ['liar:untrusted']);
    assert.is(session.nodeId, 'honest-cloud');
  } finally {
    SessionSeals.prototype.frame = original;
    session.close();
  }
});

test.run();
