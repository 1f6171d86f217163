/**
 * POST /v1/evidence over real HTTP: discovery re-checks a trap's evidence against the node's
 * registered key and its own recomputation, refuses what it cannot confirm with a code (and
 * changes nothing), and for a confirmed offence lowers the node's standing, ejects it at the
 * second, slashes its operator's stake (the reporter credited, the rest to the pool) and audits it.
 * `POST /v1/standing` then tells a session its node was ejected.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DiscoveryLocator } from '../client-sdk/placement/DiscoveryLocator.js';
import { localReference, seededRandom, TrapVerifier, type TrapOutcome } from '../client-sdk/trust/index.js';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { generateKeyPair } from '../discovery/identity.js';
import { auditFile, verifyAuditLog } from '../discovery/ledger/AuditLog.js';
import { MemoryLedger } from '../discovery/ledger/MemoryLedger.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { constantVelocity, kalmanPredictor, noPrediction } from '../edge-server/inference/index.js';
import type { PredictEvidence } from '../protocol/index.js';
import { makeNode, makeOperator, trustOf } from './support/discoveryFixtures.js';
import { constantMotion, DEG } from './support/motionFixtures.js';
import { serveTrap, skew, type SigningNode } from '../bench/lib/signingNode.js';

const test = suite('discovery-evidence');
const factories = [kalmanPredictor(), constantVelocity, noPrediction];
const many = { ratePerSecond: 1000, burst: 1000 };

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function start() {
  const acme = makeOperator('acme');
  const auditKey = generateKeyPair();
  const ledger = new MemoryLedger({ auditKeyPem: auditKey.privateKeyPem, params: { minStake: 1000 } });
  await ledger.deposit('acme', 100_000);
  const server = new DiscoveryServer({
    registry: new MemoryRegistry({ heartbeatIntervalMs: 3_600_000 }),
    operators: trustOf(acme),
    rateLimits: { query: many, register: many, evidence: many, standing: many },
    trust: { ledger },
  });
  const { url } = await server.listen();
  const nodes: Record<string, SigningNode> = {};
  for (const id of ['cheat', 'honest']) {
    const n = makeNode(acme, id);
    const reg = await post(url, '/v1/register', n.registration());
    assert.is(reg.status, 200, JSON.stringify(reg.json));
    nodes[id] = { id, publicKey: n.key.publicKey, privateKeyPem: n.key.privateKeyPem, factories, sealEvery: 8, sessions: 0 };
  }
  return { server, url, ledger, auditKey, nodes };
}

function verifier(seed: number) {
  const v = new TrapVerifier({ share: 1, reporter: 'client-7', random: seededRandom(seed), reference: localReference(factories) });
  for (const s of constantMotion([0.1, 80 * DEG, 0.05], [0.3, 0, 0.1]).samples(3)) v.recorder.record(s);
  return v;
}

/** A trap on `node`, its answer `at` moved 5 cm when `cheat`; the verifier's outcome. */
async function trap(node: SigningNode, seed: number, cheat: boolean): Promise<TrapOutcome> {
  const v = verifier(seed);
  const task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
  const run = await serveTrap(node, task, cheat ? { cheat: (a, i) => (i === 3 ? { ...a, pose: skew(a.pose, 0.05, 2 * DEG) } : a) } : {});
  return v.check(run);
}

function evidenceOf(outcome: TrapOutcome): PredictEvidence {
  if (outcome.kind !== 'caught') throw new Error(`expected caught, got ${outcome.kind}`);
  return JSON.parse(JSON.stringify(outcome.evidence));
}

test('a confirmed offence is slashed and audited; the second ejects the node; /v1/standing and the query answer say so', async () => {
  const { server, url, ledger, auditKey, nodes } = await start();
  const locator = new DiscoveryLocator({ url, location: { lat: 52.52, lon: 13.405 } });
  try {
    const first = evidenceOf(await trap(nodes.cheat!, 11, true));
    const a = await locator.submitEvidence(first);
    assert.is(a.node, 'cheat');
    assert.is(a.ejected, false);
    assert.is(a.offences, 1);
    assert.is(a.slashed, 20_000); // 20 % of 100,000
    assert.is(a.reward, 10_000);
    assert.is(await ledger.credit('client-7'), 10_000);
    assert.is(await ledger.pool(), 10_000);
    // the same wrong answer again is one offence
    const again = await post(url, '/v1/evidence', first);
    assert.is(again.status, 409);
    assert.is(again.json.error.code, 'DUPLICATE');
    assert.equal(await locator.ejected(['cheat', 'honest']), []);
    const second = await locator.submitEvidence(evidenceOf(await trap(nodes.cheat!, 12, true)));
    assert.is(second.ejected, true);
    assert.is(second.offences, 2);
    assert.is(await ledger.stake('acme'), 100_000 - 20_000 - 16_000);
    assert.equal(await locator.ejected(['cheat', 'honest']), ['cheat']);
    const shortlist = await locator.shortlist();
    assert.equal(shortlist.edge.map((c) => c.id), ['honest']);
    // every ledger change is in the signed, hash-chained log, which fails after one changed byte
    const { header, entries } = await ledger.audit();
    const file = auditFile(header, entries);
    assert.is(verifyAuditLog(file, auditKey.publicKey).entries, 3);
    const at = file.indexOf('"slash"') + 3;
    const changed = file.slice(0, at) + (file[at] === 'l' ? 'L' : 'l') + file.slice(at + 1);
    assert.throws(() => verifyAuditLog(changed, auditKey.publicKey), (err: Error & { code?: string }) => err.code === 'AUDIT_BROKEN');
  } finally {
    await server.close();
  }
});

test('forged, honest, unknown, malformed and oversize evidence is refused with its code and changes nothing', async () => {
  const { server, url, ledger, nodes } = await start();
  try {
    const real = evidenceOf(await trap(nodes.cheat!, 21, true));
    // forged: the reporter edits the answer it claims the node gave
    const forged = { ...real, answer: { ...real.answer, pose: skew(real.answer.pose, 0.2) } };
    const r1 = await post(url, '/v1/evidence', forged);
    assert.is(r1.status, 422);
    assert.is(r1.json.error.code, 'NOT_SIGNED_BY_NODE');
    // framing an honest node: its real, sealed, correct answer reported as wrong
    const honestRun = await trap(nodes.honest!, 22, false);
    assert.is(honestRun.kind, 'pass');
    const v = verifier(22);
    const task = v.task({ device: 'head', horizonMs: 30 }, 5e6)!;
    const run = await serveTrap(nodes.honest!, task);
    // the client lies about the reference: claims the node's answer is 5 cm off
    const lying = new TrapVerifier({ share: 1, reporter: 'liar', random: seededRandom(1), reference: async () => run.answers.map((x) => ({ ...x, pose: skew(x.pose, 0.05) })) });
    const framed = evidenceOf(await lying.check(run));
    const r2 = await post(url, '/v1/evidence', framed);
    assert.is(r2.status, 422);
    assert.is(r2.json.error.code, 'NOT_WRONG');
    // the seal of another node
    const r3 = await post(url, '/v1/evidence', { ...real, node: 'honest' });
    assert.is(r3.json.error.code, 'BAD_SIGNATURE');
    const r4 = await post(url, '/v1/evidence', { ...real, node: 'nobody' });
    assert.is(r4.status, 404);
    assert.is(r4.json.error.code, 'UNKNOWN_NODE');
    const r5 = await post(url, '/v1/evidence', { kind: 'predict', node: 'cheat' });
    assert.is(r5.status, 400);
    assert.is(r5.json.error.code, 'MALFORMED');
    const r6 = await post(url, '/v1/evidence', JSON.stringify({ ...real, padding: 'x'.repeat(300 * 1024) }));
    assert.is(r6.status, 413);
    assert.is(r6.json.error.code, 'TOO_LARGE');
    // nothing moved
    assert.is(await ledger.stake('acme'), 100_000);
    assert.is(server.service.trust.standing('honest').offences, 0);
    assert.is(server.service.trust.standing('cheat').offences, 0);
  } finally {
    await server.close();
  }
});

test('a node that deregisters after a client was sent to it is still judged and slashed', async () => {
  const { server, url, ledger, nodes } = await start();
  const locator = new DiscoveryLocator({ url, location: { lat: 52.52, lon: 13.405 } });
  try {
    assert.ok((await locator.shortlist()).edge.some((c) => c.id === 'cheat'), 'the client was sent to it');
    assert.ok(await server.registry.remove('cheat'));
    const answer = await locator.submitEvidence(evidenceOf(await trap(nodes.cheat!, 31, true)));
    assert.is(answer.node, 'cheat');
    assert.is(answer.slashed, 20_000);
    assert.is(await ledger.stake('acme'), 80_000);
    // a node no client was ever sent to is still unknown
    const never = await post(url, '/v1/evidence', { ...evidenceOf(await trap(nodes.cheat!, 32, true)), node: 'ghost' });
    assert.is(never.json.error.code, 'UNKNOWN_NODE');
  } finally {
    await server.close();
  }
});

test.run();
