import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair } from '../discovery/identity.js';
import { auditFile, verifyAuditLog } from '../discovery/ledger/AuditLog.js';
import { MemoryLedger } from '../discovery/ledger/MemoryLedger.js';
import { TrustService } from '../discovery/TrustService.js';
import { constantVelocity, kalmanPredictor, noPrediction } from '../edge-server/inference/index.js';
import { localReference, seededRandom, TrapVerifier, TrustOfficer, type TrapChannel } from '../client-sdk/trust/index.js';
import type { PredictEvidence } from '../protocol/index.js';
import { constantMotion, DEG } from './support/motionFixtures.js';
import { serveTrap, signingChannel, signingNode, skew } from '../bench/lib/signingNode.js';

const test = suite('trust-service');
const factories = [kalmanPredictor(), constantVelocity, noPrediction];

test('confirmed evidence slashes the operator, credits the reporter, and ejects past the threshold (once); forged and honest reports do nothing', async () => {
  const cheat = signingNode('cheat-node', factories, 8);
  const honest = signingNode('honest-node', factories, 8);
  const auditKey = generateKeyPair();
  const ledger = new MemoryLedger({ auditKeyPem: auditKey.privateKeyPem, params: { minStake: 1000, slashBps: 2000, rewardBps: 5000 } });
  await ledger.deposit('shady', 10_000);
  await ledger.deposit('good', 10_000);
  const ejected: string[] = [];
  const nodes = new Map([
    [cheat.id, { publicKey: cheat.publicKey, operator: 'shady' }],
    [honest.id, { publicKey: honest.publicKey, operator: 'good' }],
  ]);
  const trust = new TrustService({ nodeInfo: (id) => nodes.get(id), predictors: new Map(factories.map((f) => [f.name, f])), ledger, onEject: (id) => ejected.push(id) });
  const verifier = new TrapVerifier({ reporter: 'officer-1', random: seededRandom(5), reference: localReference(factories) });
  for (const s of constantMotion([0.1, 90 * DEG, 0], [0.4, 0, 0]).samples(3)) verifier.recorder.record(s);
  const evidenceFrom = async (node: typeof cheat, wrong: boolean): Promise<PredictEvidence> => {
    const task = verifier.task({ device: 'head', horizonMs: 30 }, 6e6)!;
    const outcome = await verifier.check(await serveTrap(node, task, wrong ? { cheat: (a, i) => (i === 4 ? { ...a, pose: skew(a.pose, 0.03) } : a) } : {}));
    if (outcome.kind !== 'caught') throw new Error(`expected caught, got ${outcome.kind}`);
    return JSON.parse(JSON.stringify(outcome.evidence)) as PredictEvidence;
  };
  const codeOf = async (p: Promise<unknown>) => ((await p.then(() => ({ code: 'accepted' }), (e) => e)) as { code: string }).code;

  const first = await evidenceFrom(cheat, true);
  const one = await trust.submitEvidence(first);
  assert.equal(one.slash, { stake: 8000, pool: 1000, slashed: 2000, reward: 1000, credit: 1000 });
  assert.not.ok(one.standing.ejected);
  assert.ok(trust.selectable(cheat.id), 'one offence lowers, the threshold is two');
  assert.is(await codeOf(trust.submitEvidence(first)), 'DUPLICATE', 'the same offence is punished once');

  const two = await trust.submitEvidence(await evidenceFrom(cheat, true));
  assert.ok(two.standing.ejected);
  assert.not.ok(trust.selectable(cheat.id));
  assert.equal(ejected, [cheat.id]);
  assert.is(await ledger.credit('officer-1'), 1000 + 800);

  // framing the honest node: its sealed answers with a claimed-wrong value
  const framed = await evidenceFrom(cheat, true);
  assert.is(await codeOf(trust.submitEvidence({ ...framed, node: honest.id })), 'BAD_SIGNATURE');
  assert.ok(trust.selectable(honest.id));
  assert.is(await ledger.stake('good'), 10_000);

  const { header, entries } = await ledger.audit();
  assert.is(verifyAuditLog(auditFile(header, entries), auditKey.publicKey).entries, 4);
});

test('a session officer traps the live node in the background, reports the cheat, and discovery ejects it', async () => {
  const cheat = signingNode('cheat-2', factories, 16);
  const trust = new TrustService({ nodeInfo: (id) => (id === cheat.id ? { publicKey: cheat.publicKey, operator: 'shady' } : undefined), predictors: new Map(factories.map((f) => [f.name, f])) });
  const officer = new TrustOfficer({ share: 0.5, reporter: 'officer-2', random: seededRandom(9), reference: localReference(factories), run: { frameIntervalMs: 0 }, submit: (e) => trust.submitEvidence(e) });
  const caught: string[] = [];
  officer.on('caught', (id) => caught.push(id));
  officer.setNode({ id: cheat.id, publicKey: cheat.publicKey, channel: signingChannel(cheat, { cheat: (a, i) => (i % 7 === 3 ? { ...a, pose: skew(a.pose, 0.04) } : a) }) });
  const live = constantMotion([0.1, 70 * DEG, 0], [0.3, 0, 0]).samples(4);
  for (const [i, s] of live.entries()) {
    officer.observe(s);
    if (i > 200) officer.onPredict({ device: 'head', horizonMs: 30 });
    await officer.settled();
    if (!trust.selectable(cheat.id)) break;
  }
  assert.ok(caught.length >= 2, `caught ${caught.length} times`);
  assert.not.ok(trust.selectable(cheat.id));
  assert.is(trust.standing(cheat.id).reason, 'ejected');
});

test('the live path never waits for a trap: onPredict returns at once and one trap runs at a time', async () => {
  let opened = 0;
  const stuck: TrapChannel = { open: () => (opened++, new Promise(() => {})) };
  const officer = new TrustOfficer({ share: 1, reporter: 'x', random: seededRandom(1), reference: localReference(factories) });
  officer.setNode({ id: 'slow', publicKey: generateKeyPair().publicKey, channel: stuck });
  for (const s of constantMotion([0, 1, 0], [0, 0, 0]).samples(2)) {
    officer.observe(s);
    officer.onPredict({ device: 'head', horizonMs: 20 });
  }
  assert.is(opened, 1);
  officer.close();
});

test.run();
