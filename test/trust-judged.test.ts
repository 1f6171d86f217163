/**
 * Infer results and frames judged by value (issue #14), with real processes: a discovery service
 * that runs the shipped model and the WebGPU renderer itself (the trusted references, injected as
 * `trust.infer` and `trust.render` from bin/) and signs references for clients' traps
 * (`POST /v1/reference/infer`, `/v1/reference/frame`); an edge node process whose inference engine
 * adds noise to every result (test/support/cheatingInference.ts), or whose renderer serves
 * half-size frames upscaled (test/support/cheatingRenderer.ts), both loaded with `--import` and
 * signing their lies like any answer; an honest cloud node. The session's traps repeat the app's
 * own infer and render, the verifier's signed reference shows the result wrong, the evidence goes
 * to discovery, which re-checks it with its own engine or renderer and ejects the node; the
 * session ends on the honest node with every app call answered.
 *
 * And: an honest node on tensorflow or wasm is never accused by the same traps, and discovery
 * refuses evidence that is edited (NOT_SIGNED_BY_NODE), that it cannot recompute (UNVERIFIABLE,
 * no engine or renderer) or whose result is right (NOT_WRONG).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import '../client-sdk/node.js';
import { openSession } from '../client-sdk/openSession.js';
import type { Session } from '../client-sdk/session/Session.js';
import { remoteFrameReference, remoteInferReference, type TrapOutcome } from '../client-sdk/trust/index.js';
import { DiscoveryPlacement } from '../bin/demo/DiscoveryPlacement.js';
import { spawnNode, type NodeProcess } from '../bin/demo/NodeProcess.js';
import { cheaterAndHonest } from './support/cheaterAndHonest.js';
import type { Driven } from './support/drivenSessions.js';
import { EvidenceVerifier } from '../discovery/evidence.js';
import { generateKeyPair } from '../discovery/identity.js';
import { loadInference, type LoadedInference } from '../edge-server/inference/index.js';
import { compareTensors, frameFromJson, tensorFromJson, tensorToJson, toWireTensor, type Evidence, type FrameEvidence, type InferEvidence, type Tensor } from '../protocol/index.js';
import { loadRenderReference } from '../bin/discoveryRender.js';
import { WebGpuRenderEngine } from '../edge-server/render/WebGpuRenderEngine.js';
import { PSNR_IDENTICAL_DB, frameRequestToJson, frameToJson, type FrameRequest } from '../protocol/index.js';
import { swayingWalk } from './support/motionFixtures.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiscoveryLocator } from '../client-sdk/placement/DiscoveryLocator.js';
import { runKeygenCommand } from '../discovery/keygen.js';
import { readNodeKey } from '../discovery/keyFiles.js';

const test = suite('trust-judged');
const CHEAT_MODULE = new URL('./support/cheatingInference.js', import.meta.url).href;
const CHEAT_RENDER_MODULE = new URL('./support/cheatingRenderer.js', import.meta.url).href;
const ALL_CAPS: ['predict', 'infer', 'render'] = ['predict', 'infer', 'render'];
const camera = { fovY: 90, ipd: 0.064, width: 128, height: 128 };
const MODEL = 'head-predictor';
const BIN = fileURLToPath(new URL('../bin/edge-offload.js', import.meta.url));
/** A loud upper bound, not a pace: the loops end on what they wait for, or fail with what they saw. */
const DRIVE_TIMEOUT_MS = 180_000;

/** Runs frames until `done`; throws with `detail()` after DRIVE_TIMEOUT_MS. Returns the next frame index. */
async function driveUntil(d: Driven, done: () => boolean, detail: () => string, from = 0): Promise<number> {
  const deadline = performance.now() + DRIVE_TIMEOUT_MS;
  const walk = swayingWalk();
  let i = from;
  for (; !done(); i++) {
    if (performance.now() > deadline) throw new Error(`not done after ${DRIVE_TIMEOUT_MS} ms (${i - from} frames): ${detail()}`);
    await frame(d, i, walk);
  }
  return i;
}
/** A stall on a loaded machine costs a second of local answers, not a minute (trust is judged here, not liveness). */
const PATIENT = { faultCooldownMs: 1000, overBudgetCooldownMs: 1000, rediscoverMaxMs: 1000 } as const;

let local: LoadedInference;
let renderer: Awaited<ReturnType<typeof loadRenderReference>>;
let width = 0;

test.before(async () => {
  local = await loadInference({ log: () => {} });
  width = local.registry.get(MODEL)!.input.shape.at(-1)!;
  renderer = await loadRenderReference();
});

test.after(async () => {
  await local.engine.close();
  local.registry.dispose();
  await renderer.close();
});

/** A plausible tensor for the shipped model: its input width, smooth values that change per call. */
function modelInput(seed: number): Tensor {
  const data = new Float32Array(width);
  for (let i = 0; i < width; i++) data[i] = Math.sin(seed * 0.1 + i * 0.37) * 0.1;
  return toWireTensor(data, [width]);
}

/** Discovery with this process's tfjs engine and renderer (bin/'s wiring) as its trusted references, signing references with `key`. */
async function discoveryWithEngine(key = generateKeyPair(), ejectAfterOffences = 2) {
  const discovery = await DiscoveryPlacement.start(1000, {}, {
    infer: (model, input) => local.engine.infer(model, input),
    render: renderer,
    referenceKey: key.privateKeyPem,
    reputation: { ejectAfterOffences },
  });
  return {
    discovery,
    reference: remoteInferReference((task) => discovery.locator.inferReference(task), key.publicKey),
    frames: remoteFrameReference((task) => discovery.locator.frameReference(task), key.publicKey),
  };
}

/** One frame: a pose and a predict, every 8th frame an infer, every 8th (offset 4) a JPEG render; every answer awaited (a failed call throws). */
async function frame(d: Driven, i: number, walk = swayingWalk()): Promise<void> {
  const pose = { ...walk.at(i / 90), time: Math.round(performance.now() * 1000) };
  d.session.sendPose(pose);
  d.asked++;
  await d.session.predict(20);
  d.answered++;
  if (i % 8 === 0) {
    d.asked++;
    const output = await d.session.infer(MODEL, modelInput(i));
    assert.is(output.dtype, 'float32');
    d.answered++;
  }
  if (i % 8 === 4) {
    d.asked++;
    const f = await d.session.render({ pose, eye: 'left', camera, codec: 'jpeg' });
    assert.ok(f.data.length > 0);
    d.answered++;
  }
  // yield as a real frame loop does (a local answer resolves in a microtask)
  await new Promise<void>((resolve) => setImmediate(resolve));
}

test('a node process whose engine adds noise to infer results is caught by traps, confirmed by discovery, ejected; the session moves with every call answered', async () => {
  const { discovery, reference, frames } = await discoveryWithEngine(generateKeyPair(), 1);
  const nodes: NodeProcess[] = [];
  let session: Session | undefined;
  try {
    // --heavy-workers 0: inference on the process's own thread, where the --import wrapper lives
    const { cheater } = await cheaterAndHonest(discovery, nodes, { prefix: 'infer-', cheatModule: CHEAT_MODULE, args: ['--render'], cheaterArgs: ['--heavy-workers', '0'], caps: ALL_CAPS });

    session = await openSession({
      locator: discovery.locator,
      budgetMs: 1000,
      ...PATIENT,
      predictor: 'kalman',
      trust: { trapShare: 0.2, frameIntervalMs: 1, reporter: 'infer-officer', standingCheckMs: 0, inferReference: reference, frameReference: frames },
    });
    const d: Driven = { session, asked: 0, answered: 0 };
    const evidence: { evidence: Evidence; error?: Error }[] = [];
    const outcomes: TrapOutcome[] = [];
    session.failover!.trust!.on('evidence', (_node, e, error) => evidence.push({ evidence: e, ...(error ? { error } : {}) }));
    session.failover!.trust!.on('trap', (_node, o) => outcomes.push(o));
    assert.is(session.nodeId, 'infer-cheater', 'the session starts on the cheater (the only edge)');

    const detail = () => JSON.stringify({ node: session!.nodeId, outcomes: outcomes.map((o) => o.kind), evidence: evidence.map((e) => e.error?.message) });
    const i = await driveUntil(d, () => session!.nodeId === 'infer-honest' && evidence.length > 0, detail);
    await session.failover!.trust!.settled();
    const where = detail();
    assert.is(session.nodeId, 'infer-honest', where);
    assert.is(d.answered, d.asked, 'every app call answered');
    // the trap's predictions and frames were right (only inference lies): it was the infer result that was caught
    // one trap or more caught it before the session moved (a second trap may run meanwhile): every one confirmed
    assert.equal(evidence.map((e) => [e.evidence.kind, e.error?.message]), evidence.map(() => ['infer', undefined]), where);
    const caught = outcomes.find((o) => o.kind === 'caught');
    assert.ok(caught?.kind === 'caught' && caught.maxAbsError! > 1e-3, where);
    assert.equal(await discovery.locator.ejected(['infer-cheater', 'infer-honest']), ['infer-cheater']);
    assert.equal((await discovery.locator.shortlist()).edge.map((c) => c.id), []);

    // evidence with its output edited to the right values is refused (the node never signed it)
    const real = evidence[0]!.evidence as InferEvidence;
    const edited: InferEvidence = { ...real, output: real.reference! };
    assert.is(((await discovery.locator.submitEvidence(edited).catch((e) => e)) as { code: string }).code, 'NOT_SIGNED_BY_NODE');
    // a discovery without an engine cannot judge it, and says so instead of accusing
    const blind = new EvidenceVerifier({ keyOf: (id) => (id === 'infer-cheater' ? cheater.nodeKey.publicKey : undefined), predictors: new Map() });
    assert.is(((await blind.verify(JSON.parse(JSON.stringify(real))).catch((e) => e)) as { code: string }).code, 'UNVERIFIABLE');
    // one whose engine agrees with the node (it adds the same noise) finds nothing wrong
    const lied = tensorFromJson(real.output);
    const agreeing = new EvidenceVerifier({ keyOf: () => cheater.nodeKey.publicKey, predictors: new Map(), infer: async () => lied });
    assert.is(((await agreeing.verify(JSON.parse(JSON.stringify(real))).catch((e) => e)) as { code: string }).code, 'NOT_WRONG');

    // more frames: the session stays on the honest node
    for (let k = 0; k < 24; k++) await frame(d, i + k);
    assert.is(session.nodeId, 'infer-honest');
    assert.is(d.answered, d.asked);
  } finally {
    session?.close();
    for (const n of nodes) await n.kill();
    await discovery.close();
  }
});

test('an honest node is never accused by infer and frame traps: tensorflow and wasm nodes judged against discovery’s signed references', async () => {
  const { discovery, reference, frames } = await discoveryWithEngine();
  const nodes: NodeProcess[] = [];
  const sessions: Session[] = [];
  try {
    for (const backend of ['tensorflow', 'wasm'] as const) {
      const node = await spawnNode({ nodeId: `infer-honest-${backend}`, tier: 'edge', extraArgs: ['--render'], env: { EDGE_TF_BACKEND: backend } });
      nodes.push(node);
      await discovery.announce({ id: node.nodeId, url: node.url, tier: 'edge', caps: ALL_CAPS }, node.nodeKey);
      const session = await openSession({ locator: discovery.locator, budgetMs: 1000, ...PATIENT, predictor: 'kalman', trust: { trapShare: 1, frameIntervalMs: 1, standingCheckMs: 0, inferReference: reference, frameReference: frames } });
      sessions.push(session);
      const outcomes: TrapOutcome[] = [];
      const distrusted: string[] = [];
      session.failover!.trust!.on('trap', (_id, o) => outcomes.push(o));
      session.failover!.trust!.on('distrust', (id) => distrusted.push(id));
      const d: Driven = { session, asked: 0, answered: 0 };
      const judged = () => outcomes.reduce((n, o) => n + (o.kind === 'pass' ? o.inferJudged : 0), 0);
      const framesJudged = () => outcomes.reduce((n, o) => n + (o.kind === 'pass' ? o.framesJudged : 0), 0);
      const kinds = () => JSON.stringify(outcomes.map((o) => o.kind));
      await driveUntil(d, () => judged() >= 4 && framesJudged() >= 4, kinds);
      await session.failover!.trust!.settled();
      assert.ok(judged() >= 4 && framesJudged() >= 4, `${backend}: infer results and frames judged by value (${kinds()})`);
      // never accused: a trap passes, or (cut short on a busy machine) stays unsealed
      assert.equal(outcomes.filter((o) => o.kind !== 'pass' && o.kind !== 'unsealed').map((o) => o.kind), [], `${backend}: ${kinds()}`);
      assert.equal(distrusted, []);
      assert.is(session.nodeId, node.nodeId);
      assert.is(d.answered, d.asked);
      session.close();
      await node.kill();
      discovery.nodeDied(node.nodeId);
    }
  } finally {
    for (const s of sessions) s.close();
    for (const n of nodes) await n.kill();
    await discovery.close();
  }
});

test('a node process whose renderer serves half-size frames upscaled is caught by frame traps, confirmed by discovery, ejected; the session moves with every call answered', async () => {
  const { discovery, reference, frames } = await discoveryWithEngine(generateKeyPair(), 1);
  const nodes: NodeProcess[] = [];
  let session: Session | undefined;
  try {
    const { cheater } = await cheaterAndHonest(discovery, nodes, { prefix: 'frame-', cheatModule: CHEAT_RENDER_MODULE, args: ['--render'], cheaterArgs: ['--heavy-workers', '0'], caps: ALL_CAPS });
    session = await openSession({
      locator: discovery.locator,
      budgetMs: 1000,
      ...PATIENT,
      predictor: 'kalman',
      trust: { trapShare: 0.2, frameIntervalMs: 1, reporter: 'frame-officer', standingCheckMs: 0, inferReference: reference, frameReference: frames },
    });
    const d: Driven = { session, asked: 0, answered: 0 };
    const evidence: { evidence: Evidence; error?: Error }[] = [];
    const outcomes: TrapOutcome[] = [];
    session.failover!.trust!.on('evidence', (_node, e, error) => evidence.push({ evidence: e, ...(error ? { error } : {}) }));
    session.failover!.trust!.on('trap', (_node, o) => outcomes.push(o));
    assert.is(session.nodeId, 'frame-cheater');
    const detail = () => JSON.stringify({ node: session!.nodeId, outcomes: outcomes.map((o) => o.kind), evidence: evidence.map((e) => e.error?.message) });
    const i = await driveUntil(d, () => session!.nodeId === 'frame-honest' && evidence.length > 0, detail);
    await session.failover!.trust!.settled();
    assert.is(session.nodeId, 'frame-honest', detail());
    assert.is(d.answered, d.asked, 'every app call answered');
    // the trap's predictions and infer results were right (only the renderer cheats)
    // one trap or more caught it before the session moved (a second trap may run meanwhile): every one confirmed
    assert.equal(evidence.map((e) => [e.evidence.kind, e.error?.message]), evidence.map(() => ['frame', undefined]), detail());
    const caught = outcomes.find((o) => o.kind === 'caught');
    assert.ok(caught?.kind === 'caught' && caught.psnrDb! < 30, detail());
    assert.equal(await discovery.locator.ejected(['frame-cheater', 'frame-honest']), ['frame-cheater']);

    const real = evidence[0]!.evidence as FrameEvidence;
    // other bytes in the frame's place were never signed by the node
    const edited: FrameEvidence = { ...real, frame: { ...real.frame, data: real.frame.data.slice(0, -4) + 'AAAA' } };
    assert.is(((await discovery.locator.submitEvidence(edited).catch((e) => e)) as { code: string }).code, 'NOT_SIGNED_BY_NODE');
    const blind = new EvidenceVerifier({ keyOf: () => cheater.nodeKey.publicKey, predictors: new Map() });
    assert.is(((await blind.verify(JSON.parse(JSON.stringify(real))).catch((e) => e)) as { code: string }).code, 'UNVERIFIABLE');
    // a verifier whose renderer draws what the cheater sent finds nothing wrong
    const agreeing = new EvidenceVerifier({ keyOf: () => cheater.nodeKey.publicKey, predictors: new Map(), render: { render: () => renderer.decode(frameFromJson(real.frame)), decode: renderer.decode } });
    assert.is(((await agreeing.verify(JSON.parse(JSON.stringify(real))).catch((e) => e)) as { code: string }).code, 'NOT_WRONG');
    for (let k = 0; k < 16; k++) await frame(d, i + k);
    assert.is(session.nodeId, 'frame-honest');
    assert.is(d.answered, d.asked);
  } finally {
    session?.close();
    for (const n of nodes) await n.kill();
    await discovery.close();
  }
});

test('a signed infer reference answers only its own request', async () => {
  const key = generateKeyPair();
  const { discovery, reference } = await discoveryWithEngine(key);
  try {
    const input = modelInput(3);
    const expected = await local.engine.infer(MODEL, input);
    const got = await reference(MODEL, input);
    assert.ok(got, 'a reference for the request asked');
    assert.equal(Array.from(got!.data), Array.from(expected.data));
    // a verifier answer for another input, or signed by another key, is no reference
    const other = remoteInferReference(() => discovery.locator.inferReference({ model: MODEL, input: tensorToJson(modelInput(4)) }), key.publicKey);
    assert.is(await other(MODEL, input), undefined);
    const wrongKey = remoteInferReference((task) => discovery.locator.inferReference(task), generateKeyPair().publicKey);
    assert.is(await wrongKey(MODEL, input), undefined);
    // an unknown model is refused with a code, not a signature over nothing
    const refused = await discovery.locator.inferReference({ model: 'no-such-model', input: tensorToJson(input) }).catch((e) => e);
    assert.is((refused as { code: string }).code, 'UNVERIFIABLE');
    const malformed = await discovery.locator.inferReference({ model: MODEL, input: { dtype: 'float32', shape: [width], data: 'AAAA' } }).catch((e) => e);
    assert.is((malformed as { code: string }).code, 'MALFORMED');
  } finally {
    await discovery.close();
  }
});

/** `edge-offload discovery …` as a real process; resolves its URL once it listens. */
async function discoveryProcess(args: string[]): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [BIN, 'discovery', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`discovery exited with ${code}: ${out}`)));
  });
  return { url, child, output: () => out };
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

test('edge-offload discovery --verify-infer --verify-render --reference-key: the CLI wires the engine and renderer in; without the flags references are UNVERIFIABLE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eo-infer-'));
  const children: ChildProcess[] = [];
  const nodeRenderer = await WebGpuRenderEngine.create();
  try {
    const keyFile = join(dir, 'reference.key.json');
    assert.is(await runKeygenCommand(['node', '--out', keyFile], () => {}), 0);
    const key = readNodeKey(keyFile);
    const input = modelInput(5);
    const withEngine = await discoveryProcess(['--verify-infer', '--verify-render', '--reference-key', keyFile]);
    children.push(withEngine.child);
    const locator = new DiscoveryLocator({ url: withEngine.url, location: { lat: 0, lon: 0 } });
    const got = await remoteInferReference((task) => locator.inferReference(task), key.publicKey)(MODEL, input);
    assert.ok(got, withEngine.output());
    assert.not.ok(compareTensors(got!, await local.engine.infer(MODEL, input)).wrong, 'the process computes what this one does');
    // a frame judged by the process's renderer: this process's own render of the request is identical
    const request: FrameRequest = { pose: { ...swayingWalk().at(1), time: 1 }, eye: 'left', camera, codec: 'jpeg' };
    const honestFrame = await nodeRenderer.render('cli', { t: 'render', id: 7, ...request });
    const judge = remoteFrameReference((task) => locator.frameReference(task), key.publicKey);
    assert.is(await judge(7, request, honestFrame), PSNR_IDENTICAL_DB, withEngine.output());
    const half = await nodeRenderer.render('cli', { t: 'render', id: 7, ...request, camera: { ...camera, width: 64, height: 64 } });
    assert.is(await judge(7, request, half), 0, 'a frame of another size is as far as it gets');
    // evidence against a node it does not know is refused before anything is recomputed
    const unknown = await locator.submitEvidence({ kind: 'infer', node: 'nobody', session: 's', request: { id: 1, model: MODEL, input: tensorToJson(input) }, inputs: 0, output: tensorToJson(input), segment: { previousLink: 'x', entries: ['y'], seal: { node: 'nobody', session: 's', to: 1, link: 'z', inputs: 0, inputDigest: 'd', signature: 'g' } }, reporter: 'r' }).catch((e) => e);
    assert.is((unknown as { code: string }).code, 'UNKNOWN_NODE');

    const blind = await discoveryProcess([]);
    children.push(blind.child);
    const blindLocator = new DiscoveryLocator({ url: blind.url, location: { lat: 0, lon: 0 } });
    const refused = await blindLocator.inferReference({ model: MODEL, input: tensorToJson(input) }).catch((e) => e);
    assert.is((refused as { code: string }).code, 'UNVERIFIABLE');
    const refusedFrame = await blindLocator.frameReference({ request: frameRequestToJson(7, request), frame: frameToJson(honestFrame) }).catch((e) => e);
    assert.is((refusedFrame as { code: string }).code, 'UNVERIFIABLE');

    // a key without the engine is a configuration error, said at start
    const bad = spawn(process.execPath, [BIN, 'discovery', '--port', '0', '--reference-key', keyFile], { stdio: 'ignore' });
    children.push(bad);
    assert.is.not(await new Promise<number | null>((resolve) => bad.once('exit', resolve)), 0);
    assert.is(await stop(withEngine.child), 0, 'SIGTERM closes the engine and exits 0');
    assert.is(await stop(blind.child), 0);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await nodeRenderer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
