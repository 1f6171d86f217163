import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EvidenceVerifier } from '../discovery/evidence.js';
import { constantVelocity, kalmanPredictor, noPrediction } from '../edge-server/inference/index.js';
import { localReference, makeTrapStream, remoteReference, runTrap, seededRandom, TrapVerifier, type TrapOutcome } from '../client-sdk/trust/index.js';
import { TrapReferenceSigner } from '../discovery/trapReference.js';
import { generateKeyPair } from '../discovery/identity.js';
import { compareAnswers, rotationAngle, type PoseSample, type PredictEvidence } from '../protocol/index.js';
import { constantMotion, DEG } from './support/motionFixtures.js';
import { serveTrap, signingChannel, signingNode, skew } from '../bench/lib/signingNode.js';

const test = suite('trust-traps');
const factories = [kalmanPredictor(), constantVelocity, noPrediction];
const node = signingNode('node-t', factories, 8);
const evidenceVerifier = new EvidenceVerifier({ keyOf: (id) => (id === node.id ? node.publicKey : undefined), predictors: new Map(factories.map((f) => [f.name, f])) });

function liveMotion(seconds = 3): PoseSample[] {
  return constantMotion([0.1, 80 * DEG, 0.05], [0.3, 0, 0.1])
    .samples(seconds)
    .map((s, i) => ({ ...s, position: [s.position[0] + 0.02 * Math.sin(i / 7), s.position[1] + 0.01 * Math.cos(i / 11), s.position[2]] }));
}

function verifier(seed = 1, share = 0.02) {
  const v = new TrapVerifier({ share, reporter: 'client-1', random: seededRandom(seed), reference: localReference(factories) });
  for (const s of liveMotion()) v.recorder.record(s);
  return v;
}

function caught(outcome: TrapOutcome): PredictEvidence {
  if (outcome.kind !== 'caught' || outcome.evidence.kind !== 'predict') throw new Error(`expected caught on a prediction, got ${outcome.kind}`);
  return outcome.evidence;
}

/** JSON round trip: evidence travels to discovery as JSON. */
const wire = (e: PredictEvidence): unknown => JSON.parse(JSON.stringify(e));

test('an honest node passes every trap and is never accused', async () => {
  const v = verifier(2);
  for (let i = 0; i < 20; i++) {
    const task = v.task({ device: 'head', horizonMs: 30 }, 5e6 + i * 1e6)!;
    const outcome = await v.check(await serveTrap(node, task));
    assert.is(outcome.kind, 'pass');
    assert.is((outcome as { checked: number }).checked, task.messages.length);
  }
});

test('a wrong sealed answer becomes evidence that discovery confirms', async () => {
  const v = verifier(3);
  const task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  const run = await serveTrap(node, task, { cheat: (a, i) => (i === 5 ? { ...a, pose: skew(a.pose, 0.05, 2 * DEG) } : a) });
  const evidence = caught(await v.check(run));
  assert.is(evidence.accused, task.messages[5]!.id);
  const verdict = await evidenceVerifier.verify(wire(evidence));
  assert.is(verdict.node, node.id);
  assert.is(verdict.seq, 6);
  assert.is(verdict.reporter, 'client-1');
  assert.ok(verdict.positionM > 0.04);
});

test('a cheaper predictor served under the expected name is caught (constant velocity as kalman)', async () => {
  const v = verifier(4);
  const task = v.task({ device: 'head', horizonMs: 40 }, 5e6)!;
  const run = await serveTrap(node, task, { served: [{ name: 'kalman', create: constantVelocity.create }, constantVelocity, noPrediction] });
  const verdict = await evidenceVerifier.verify(wire(caught(await v.check(run))));
  assert.is(verdict.predictor, 'kalman');
});

test('stale answers (the previous frame\'s prediction replayed) are caught', async () => {
  const v = verifier(5);
  const task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  let previous: PoseSample | undefined;
  const run = await serveTrap(node, task, {
    cheat: (a) => {
      const stale = previous ?? a.pose;
      previous = a.pose;
      return { ...a, pose: stale };
    },
  });
  await evidenceVerifier.verify(wire(caught(await v.check(run))));
});

test('forged, swapped and unverifiable evidence is rejected with codes', async () => {
  const v = verifier(6);
  const task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  const honestRun = await serveTrap(node, task);
  assert.is((await v.check(honestRun)).kind, 'pass');
  // a client framing an honest node: take its sealed answers, claim a different answer
  const cheatRun = await serveTrap(node, task, { cheat: (a, i) => (i === 9 ? { ...a, pose: skew(a.pose, 0.1) } : a) });
  const real = caught(await v.check(cheatRun));
  const codeOf = async (e: unknown) => ((await evidenceVerifier.verify(e).catch((err) => err)) as { code?: string }).code;

  // 1. an honest answer with a made-up wrong value: its record is not in the sealed block
  const honestSeg = honestRun.seals[1]!;
  const framed = { ...real, session: honestRun.session, segment: { ...real.segment, seal: honestSeg }, answer: { ...real.answer, pose: skew(real.answer.pose, 0.2) } };
  assert.is(await codeOf(wire(framed)), 'NOT_SIGNED_BY_NODE');
  // 2. the real wrong answer with a changed input (poses swapped after the fact)
  const swapped = structuredClone(real);
  swapped.messages[2]!.poses![0]!.position[0] += 0.001;
  assert.is(await codeOf(wire(swapped)), 'NOT_SIGNED_BY_NODE');
  // 3. a forged signature
  const forged = structuredClone(real);
  forged.segment.seal.signature = forged.segment.seal.signature.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
  assert.is(await codeOf(wire(forged)), 'BAD_SIGNATURE');
  // 4. a seal of another session
  assert.is(await codeOf(wire({ ...real, segment: { ...real.segment, seal: { ...real.segment.seal, session: 'other' } } })), 'BAD_SIGNATURE');
  // 5. an honest node's sealed, correct answer reported as wrong (the reporter's own reference lies)
  const honestAccused = honestRun.answers[9]!;
  const seg = (await v.check(honestRun), honestRun.seals.find((s) => s.to >= 10)!);
  const honestEvidence = { ...real, session: honestRun.session, answer: { predictor: honestAccused.predictor, horizonMs: honestAccused.horizonMs, pose: honestAccused.pose }, segment: await segmentFor(honestRun, seg), reference: skew(honestAccused.pose, 0.3) };
  assert.is(await codeOf(wire(honestEvidence)), 'NOT_WRONG');
  // 6. a node discovery does not know, a predictor it cannot run, malformed bodies
  assert.is(await codeOf(wire({ ...real, node: 'stranger' })), 'UNKNOWN_NODE');
  const noKalman = new EvidenceVerifier({ keyOf: () => node.publicKey, predictors: new Map([[constantVelocity.name, constantVelocity]]) });
  assert.is(((await noKalman.verify(wire(real)).catch((e) => e)) as { code: string }).code, 'UNVERIFIABLE');
  assert.is(await codeOf({ ...real, messages: 'x' }), 'MALFORMED');
  assert.is(await codeOf(null), 'MALFORMED');
  assert.is(await codeOf({ ...(wire(real) as object), messages: real.messages.filter((m) => m.id !== real.accused) }), 'MALFORMED');
  // evidence cut short: the seal covers samples the evidence does not carry
  assert.is(await codeOf(wire({ ...real, messages: real.messages.slice(0, real.messages.findIndex((m) => m.id === real.accused) + 1), segment: { ...real.segment, seal: { ...real.segment.seal, inputs: real.segment.seal.inputs + 1 } } })), 'NOT_SIGNED_BY_NODE');
});

/** The segment of `run` that holds answer `seal.to`'s block, as the verifier builds it. */
async function segmentFor(run: Awaited<ReturnType<typeof serveTrap>>, seal: (typeof run.seals)[number]) {
  const v = new TrapVerifier({ reporter: 'x', reference: async () => run.answers.map((a, i) => (i === seal.to - 1 ? { ...a, pose: skew(a.pose, 1) } : a)) });
  const out = await v.check(run);
  return caught(out).segment;
}

test('a node whose seals do not match what was sent (false input digest) is unsigned, not reportable', async () => {
  const v = verifier(7);
  const task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  const run = await serveTrap(node, task);
  // what the node claims to have received differs from what the client sent
  const altered = structuredClone(task);
  altered.messages[0]!.poses[0]!.time += 1;
  assert.is((await v.check({ ...run, task: altered })).kind, 'unsigned');
  assert.is((await v.check({ ...run, publicKey: signingNode('other', factories).publicKey })).kind, 'unsigned');
});

test('trap streams are drawn fresh: no two alike, time strictly increasing up to now, motion as fast as live', async () => {
  const live = liveMotion();
  const random = seededRandom(11);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const s = makeTrapStream(live, 9e6, random)!;
    assert.ok(s.length >= 24 && s.length <= 90);
    for (let j = 1; j < s.length; j++) assert.ok(s[j]!.time > s[j - 1]!.time);
    assert.ok(Math.abs(s[s.length - 1]!.time - 9e6) <= 1);
    const key = s[0]!.position.map((x) => x.toFixed(4)).join(',');
    assert.not.ok(seen.has(key), 'a repeated trap start');
    seen.add(key);
    // speed within live's range (±10 % stretch)
    const speed = (a: PoseSample, b: PoseSample) => Math.hypot(b.position[0] - a.position[0], b.position[2] - a.position[2]) / ((b.time - a.time) / 1e6);
    const liveSpeed = speed(live[0]!, live[live.length - 1]!);
    const trapSpeed = speed(s[0]!, s[s.length - 1]!);
    assert.ok(trapSpeed < liveSpeed * 3, `trap speed ${trapSpeed} vs live ${liveSpeed}`);
  }
  assert.is(makeTrapStream(live.slice(0, 10), 9e6, random), undefined);
});

test('runTrap plays a task on a session of its own and the verifier judges the run (honest passes, a cheat is confirmed)', async () => {
  const v = verifier(12);
  const task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  const honest = await runTrap(task, signingChannel(node), { node: node.id, publicKey: node.publicKey, frameIntervalMs: 0 });
  assert.is(honest.answers.length, task.messages.length);
  assert.ok(honest.seals.length >= 1 && honest.seals[honest.seals.length - 1]!.to === task.messages.length);
  assert.is((await v.check(honest)).kind, 'pass');
  const cheating = await runTrap(task, signingChannel(node, { cheat: (a, i) => (i === task.messages.length - 1 ? { ...a, pose: skew(a.pose, 0.02) } : a) }), { node: node.id, publicKey: node.publicKey, frameIntervalMs: 0 });
  const verdict = await evidenceVerifier.verify(wire(caught(await v.check(cheating))));
  assert.is(verdict.seq, task.messages.length, 'the last answer, sealed by the closing seal');
});

test("a trap repeats the app's latest infer and render; an extra the node refuses is skipped, the predictions still judged", async () => {
  const v = verifier(13);
  const appTensor = { dtype: 'float32' as const, shape: [2], data: new Uint8Array(8) };
  v.recordInfer('head-predictor', appTensor);
  v.recordRender({ pose: liveMotion(1)[0]!, eye: 'left', camera: { fovY: 90, ipd: 0.064, width: 64, height: 64 }, codec: 'jpeg' });
  const task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  assert.equal(task.extras?.map((e) => e.request.t).sort(), ['infer', 'render']);
  appTensor.data[0] = 99; // an app reusing its buffer does not change what the trap sends and checks
  const infer = task.extras!.find((e) => e.request.t === 'infer')!.request;
  assert.is(infer.t === 'infer' && infer.input.data[0], 0);
  const render = task.extras!.find((e) => e.request.t === 'render')!;
  assert.equal(render.request.t === 'render' && render.request.pose, task.messages[render.after - 1]!.poses[0], "the render asks for the trap's own pose");
  // this in-process node answers predicts only: both extras are refused
  const run = await runTrap(task, signingChannel(node), { node: node.id, publicKey: node.publicKey, frameIntervalMs: 0 });
  assert.is(run.answers.length, task.messages.length);
  assert.equal(run.extraReplies, []);
  assert.equal(await v.check(run), { kind: 'pass', checked: task.messages.length, extras: 0, inferJudged: 0, framesJudged: 0 });
  // h264 and named-scene renders are not repeated on a trap's session
  const w = verifier(14);
  w.recordRender({ pose: liveMotion(1)[0]!, eye: 'left', camera: { fovY: 90, ipd: 0.064, width: 64, height: 64 }, codec: 'h264' });
  w.recordRender({ pose: liveMotion(1)[0]!, eye: 'left', camera: { fovY: 90, ipd: 0.064, width: 64, height: 64 }, codec: 'jpeg', scene: 'uploaded' });
  assert.is(w.task({ device: 'head', horizonMs: 30 }, 5e6)!.extras, undefined);
});

test('a signed reference from a trusted verifier judges traps; tampered or foreign references judge nothing', async () => {
  const verifierKey = generateKeyPair();
  const signer = new TrapReferenceSigner(verifierKey.privateKeyPem, new Map(factories.map((f) => [f.name, f])));
  const remote = (tamper?: (r: { payload: string; signature: string }) => { payload: string; signature: string }) =>
    remoteReference(async (task) => {
      const r = await signer.reference(JSON.parse(JSON.stringify(task)));
      return tamper ? tamper(r) : r;
    }, verifierKey.publicKey);
  const make = (reference: ReturnType<typeof remote>, seed: number) => {
    const v = new TrapVerifier({ reporter: 'r', random: seededRandom(seed), reference });
    for (const s of liveMotion()) v.recorder.record(s);
    return v;
  };
  let v = make(remote(), 21);
  let task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  assert.is((await v.check(await serveTrap(node, task))).kind, 'pass');
  const cheating = await serveTrap(node, task, { cheat: (a, i) => (i === 2 ? { ...a, pose: skew(a.pose, 0.01) } : a) });
  await evidenceVerifier.verify(wire(caught(await v.check(cheating))));
  // a forged payload, a signature by another key, a reference for another task: unjudged
  v = make(remote((r) => ({ ...r, payload: r.payload.replace('"v":1', '"v":1 ') })), 22);
  task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  assert.is((await v.check(await serveTrap(node, task))).kind, 'unjudged');
  const other = generateKeyPair();
  v = new TrapVerifier({ reporter: 'r', random: seededRandom(23), reference: remoteReference(async (t) => new TrapReferenceSigner(other.privateKeyPem, new Map(factories.map((f) => [f.name, f]))).reference(t), verifierKey.publicKey) });
  for (const s of liveMotion()) v.recorder.record(s);
  task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  assert.is((await v.check(await serveTrap(node, task))).kind, 'unjudged');
  let stale: { payload: string; signature: string } | undefined;
  v = make(remote((r) => (stale ??= r)), 24);
  await v.check(await serveTrap(node, v.task({ device: 'head', horizonMs: 30 }, 5e6)!));
  assert.is((await v.check(await serveTrap(node, v.task({ device: 'head', horizonMs: 30 }, 6e6)!))).kind, 'unjudged', 'a reference replayed for another task');
  assert.is(((await signer.reference({ defaultPredictor: 'kalman', messages: 'x' }).catch((e) => e)) as { code: string }).code, 'MALFORMED');
  assert.is(((await signer.reference({ defaultPredictor: 'learned', messages: [{ t: 'predict', id: 1, horizonMs: 10, poses: liveMotion().slice(0, 2) }] }).catch((e) => e)) as { code: string }).code, 'UNVERIFIABLE');
});

test('identical answers compare as equal at the exact tolerances (acos could not resolve 3e-8 rad and accused honest nodes)', () => {
  const pose = { device: 'head' as const, time: 19_247_622, position: [0.48, 1.59, -0.18] as [number, number, number], orientation: [0.007309322604487779, 0.5739381316109763, -0.030801196559750006, -0.8182865519953588] as [number, number, number, number] };
  for (const predictor of ['none', 'constant-velocity', 'kalman', 'learned']) {
    const c = compareAnswers({ predictor, horizonMs: 30, pose }, { predictor, horizonMs: 30, pose: { ...pose, orientation: [...pose.orientation] } });
    assert.ok(c.judged && !c.wrong, `${predictor}: ${c.angleRad} rad`);
    assert.ok(c.angleRad < 1e-12);
  }
  const q = pose.orientation;
  assert.ok(Math.abs(rotationAngle(q, [-q[0], -q[1], -q[2], -q[3]])) < 1e-12, 'q and -q are the same rotation');
  assert.ok(Math.abs(rotationAngle([0, 0, 0, 1], [0, Math.sin(1e-7), 0, Math.cos(1e-7)]) - 2e-7) < 1e-15);
});

test('decide() draws traps at the configured share', () => {
  for (const share of [0.01, 0.02, 0.05]) {
    const v = new TrapVerifier({ share, reporter: 'c', random: seededRandom(Math.round(share * 1000)) });
    let n = 0;
    for (let i = 0; i < 100_000; i++) if (v.decide()) n++;
    assert.ok(Math.abs(n / 100_000 - share) < share * 0.1, `share ${share}: drew ${n}`);
  }
  assert.throws(() => new TrapVerifier({ share: 2, reporter: 'c' }));
  assert.not.ok(new TrapVerifier({ share: 0, reporter: 'c' }).decide());
});

test('a trap cut short (answers lost, the node sealed them anyway) is unsealed, never unsigned', async () => {
  const v = verifier(41);
  const task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  const run = await serveTrap(node, task);
  assert.ok(run.seals.some((s) => s.to === run.answers.length));
  // the last three answers never reached the client: the last seal covers answers it lacks
  const outcome = await v.check({ ...run, answers: run.answers.slice(0, -3) });
  assert.is(outcome.kind, 'unsealed');
});

test.run();
