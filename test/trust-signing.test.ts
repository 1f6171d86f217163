import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair } from '../discovery/identity.js';
import { verifySegmentSync } from '../discovery/evidence.js';
import { ResultSigner } from '../edge-server/trust/ResultSigner.js';
import { inputDigestOf, predictionEntry, toBase64url, verifySegment, type ChainSegment, type PoseSample, type ResultSeal } from '../protocol/index.js';
import { constantMotion, DEG } from './support/motionFixtures.js';
import { chainSegments } from './support/chainSegments.js';

const test = suite('trust-signing');
const keys = generateKeyPair();
const samples = constantMotion([0, 90 * DEG, 0], [0.3, 0, 0]).samples(0.5);

function answerFor(s: PoseSample, i: number) {
  return { predictor: 'constant-velocity', horizonMs: 20 + (i % 3), pose: { ...s, time: s.time + 20_000, linearVelocity: [0.1, 0, i * 1e-3] as [number, number, number] } };
}

/** Runs `n` predicts (a pose each) through a signer; returns the client-side entries and the seals. */
async function run(n: number, sealEvery: number, clock = { now: 0 }) {
  const signer = new ResultSigner('node-a', 'sess-1', keys.privateKeyPem, { sealEvery, sealAfterMs: 250, now: () => clock.now });
  const entries: string[] = [];
  const seals: ResultSeal[] = [];
  for (let i = 0; i < n; i++) {
    signer.observe(samples[i]!);
    const answer = answerFor(samples[i]!, i);
    const seal = signer.prediction(i + 1, answer);
    assert.is(signer.sequence, i + 1);
    entries.push(predictionEntry(i + 1, i + 1, answer));
    if (seal) seals.push(seal);
  }
  return { signer, entries, seals };
}

test('entries the client recomputes (WebCrypto) are the ones the node sealed (node:crypto), and so is its input', async () => {
  const { entries, seals } = await run(40, 16);
  assert.equal(seals.map((s) => s.to), [16, 32]);
  assert.equal(seals.map((s) => s.inputs), [16, 32]);
  for (const segment of await chainSegments('node-a', 'sess-1', entries, seals)) {
    assert.ok(await verifySegment(segment, keys.publicKey));
    assert.ok(verifySegmentSync(segment, keys.publicKey));
    assert.is(await inputDigestOf('sess-1', samples.slice(0, segment.seal.inputs)), segment.seal.inputDigest);
  }
});

test('a block older than sealAfterMs is sealed at the next answer; flush seals the rest', async () => {
  const clock = { now: 0 };
  const signer = new ResultSigner('node-a', 'sess-1', keys.privateKeyPem, { sealEvery: 64, sealAfterMs: 250, now: () => clock.now });
  signer.observe(samples[0]!);
  assert.is(signer.prediction(1, answerFor(samples[0]!, 0)), undefined);
  assert.not.ok(signer.due);
  clock.now = 260;
  assert.ok(signer.due);
  const sealed = signer.prediction(2, answerFor(samples[0]!, 1));
  assert.is(sealed?.to, 2);
  assert.is(signer.flush(), undefined, 'nothing open after a seal');
  signer.prediction(3, answerFor(samples[0]!, 2));
  assert.is(signer.flush()?.to, 3);
});

test('one changed byte in an entry, a seal, or the key fails verification', async () => {
  const { entries, seals } = await run(16, 16);
  const [segment] = await chainSegments('node-a', 'sess-1', entries, seals);
  const flip = (b64: string) => {
    const bytes = Buffer.from(b64, 'base64url');
    bytes[5] = bytes[5]! ^ 1;
    return toBase64url(bytes);
  };
  const variants: ChainSegment[] = [
    { ...segment!, entries: segment!.entries.map((r, i) => (i === 7 ? flip(r) : r)) },
    { ...segment!, entries: segment!.entries.slice(1) },
    { ...segment!, seal: { ...segment!.seal, inputs: 15 } },
    { ...segment!, seal: { ...segment!.seal, inputDigest: flip(segment!.seal.inputDigest) } },
    { ...segment!, previousLink: flip(segment!.previousLink) },
    { ...segment!, seal: { ...segment!.seal, signature: flip(segment!.seal.signature) } },
    { ...segment!, seal: { ...segment!.seal, to: 17 } },
    { ...segment!, seal: { ...segment!.seal, session: 'sess-2' } },
  ];
  for (const v of variants) {
    assert.not.ok(await verifySegment(v, keys.publicKey));
    assert.not.ok(verifySegmentSync(v, keys.publicKey));
  }
  assert.not.ok(await verifySegment(segment!, generateKeyPair().publicKey));
  assert.not.ok(await verifySegment({ ...segment!, entries: [] }, keys.publicKey));
  assert.not.ok(await verifySegment({ ...segment!, previousLink: '!!' }, keys.publicKey));
});

test('the input digest covers every sample; an entry binds request id, input count and output', async () => {
  const base = await inputDigestOf('s', samples.slice(0, 4));
  assert.is.not(base, await inputDigestOf('s', samples.slice(0, 5)));
  const moved = samples.slice(0, 4).map((s, i) => (i === 1 ? { ...s, position: [s.position[0] + 1e-12, s.position[1], s.position[2]] as [number, number, number] } : s));
  assert.is.not(base, await inputDigestOf('s', moved));
  assert.is.not(base, await inputDigestOf('t', samples.slice(0, 4)));
  const answer = answerFor(samples[3]!, 0);
  const entry = predictionEntry(1, 4, answer);
  assert.is.not(entry, predictionEntry(2, 4, answer));
  assert.is.not(entry, predictionEntry(1, 3, answer));
  assert.is.not(entry, predictionEntry(1, 4, { ...answer, horizonMs: answer.horizonMs + 1 }));
  assert.is.not(entry, predictionEntry(1, 4, { ...answer, pose: { ...answer.pose, time: answer.pose.time + 1 } }));
});

test.run();
