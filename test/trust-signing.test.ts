import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair } from '../discovery/identity.js';
import { verifySegmentSync } from '../discovery/evidence.js';
import { ResultSigner } from '../edge-server/trust/ResultSigner.js';
import { genesisLink, inputDigestOf, predictionRecord, toBase64url, verifySegment, type ChainSegment, type PoseSample, type ResultSeal } from '../protocol/index.js';
import { constantMotion, DEG } from './support/motionFixtures.js';

const test = suite('trust-signing');
const keys = generateKeyPair();
const samples = constantMotion([0, 90 * DEG, 0], [0.3, 0, 0]).samples(0.5);

function answerFor(s: PoseSample, i: number) {
  return { predictor: 'constant-velocity', horizonMs: 20 + (i % 3), pose: { ...s, time: s.time + 20_000, linearVelocity: [0.1, 0, i * 1e-3] as [number, number, number] } };
}

/** Runs `n` predicts through a signer; returns the client-side records and the seals. */
async function run(n: number, sealEvery: number, clock = { now: 0 }) {
  const signer = new ResultSigner('node-a', 'sess-1', keys.privateKeyPem, { sealEvery, sealAfterMs: 250, now: () => clock.now });
  const records: string[] = [];
  const seals: ResultSeal[] = [];
  for (let i = 0; i < n; i++) {
    signer.observe(samples[i]!);
    const answer = answerFor(samples[i]!, i);
    const { seq, seal } = signer.prediction(i + 1, 'head', answer);
    assert.is(seq, i + 1);
    records.push(await predictionRecord('sess-1', i + 1, await inputDigestOf('sess-1', 'head', samples.slice(0, i + 1)), answer));
    if (seal) seals.push(seal);
  }
  return { signer, records, seals };
}

async function segmentsOf(records: string[], seals: ResultSeal[]): Promise<ChainSegment[]> {
  let previousLink = await genesisLink('node-a', 'sess-1');
  let from = 0;
  return seals.map((seal) => {
    const s = { previousLink, records: records.slice(from, seal.to), seal };
    previousLink = seal.link;
    from = seal.to;
    return s;
  });
}

test('records the client recomputes (WebCrypto) are the ones the node sealed (node:crypto)', async () => {
  const { records, seals } = await run(40, 16);
  assert.equal(seals.map((s) => s.to), [16, 32]);
  for (const segment of await segmentsOf(records, seals)) {
    assert.ok(await verifySegment(segment, keys.publicKey));
    assert.ok(verifySegmentSync(segment, keys.publicKey));
  }
});

test('a block older than sealAfterMs is sealed at the next answer; flush seals the rest', async () => {
  const clock = { now: 0 };
  const signer = new ResultSigner('node-a', 'sess-1', keys.privateKeyPem, { sealEvery: 64, sealAfterMs: 250, now: () => clock.now });
  signer.observe(samples[0]!);
  assert.is(signer.prediction(1, 'head', answerFor(samples[0]!, 0)).seal, undefined);
  assert.not.ok(signer.due);
  clock.now = 260;
  assert.ok(signer.due);
  const sealed = signer.prediction(2, 'head', answerFor(samples[0]!, 1)).seal;
  assert.is(sealed?.to, 2);
  assert.is(signer.flush(), undefined, 'nothing open after a seal');
  signer.prediction(3, 'head', answerFor(samples[0]!, 2));
  assert.is(signer.flush()?.to, 3);
});

test('one changed byte in a record, a seal, or the key fails verification', async () => {
  const { records, seals } = await run(16, 16);
  const [segment] = await segmentsOf(records, seals);
  const flip = (b64: string) => {
    const bytes = Buffer.from(b64, 'base64url');
    bytes[5] = bytes[5]! ^ 1;
    return toBase64url(bytes);
  };
  const variants: ChainSegment[] = [
    { ...segment!, records: segment!.records.map((r, i) => (i === 7 ? flip(r) : r)) },
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
  assert.not.ok(await verifySegment({ ...segment!, records: [] }, keys.publicKey));
  assert.not.ok(await verifySegment({ ...segment!, previousLink: '!!' }, keys.publicKey));
});

test('the input digest covers every sample: one more or one changed sample changes the record', async () => {
  const answer = answerFor(samples[3]!, 0);
  const base = await predictionRecord('s', 1, await inputDigestOf('s', 'head', samples.slice(0, 4)), answer);
  assert.is.not(base, await predictionRecord('s', 1, await inputDigestOf('s', 'head', samples.slice(0, 5)), answer));
  const moved = samples.slice(0, 4).map((s, i) => (i === 1 ? { ...s, position: [s.position[0] + 1e-12, s.position[1], s.position[2]] as [number, number, number] } : s));
  assert.is.not(base, await predictionRecord('s', 1, await inputDigestOf('s', 'head', moved), answer));
  assert.is.not(base, await predictionRecord('s', 2, await inputDigestOf('s', 'head', samples.slice(0, 4)), answer));
  assert.is.not(base, await predictionRecord('t', 1, await inputDigestOf('t', 'head', samples.slice(0, 4)), answer));
});

test.run();
