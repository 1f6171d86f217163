/**
 * EntrapNet end to end, with real processes: a discovery service running a stake ledger, an honest
 * edge-offload node and a cheating one (a real `edge-offload edge` process whose predictor a
 * test-support module, loaded with `node --import`, moves 5 cm), and client sessions on the
 * cheater. Two sessions trap it and report; discovery re-checks, slashes, and ejects it at the
 * second offence; a third session that sends no traps learns of the ejection from discovery; all
 * three end on the honest node with every app call answered. The audit log verifies.
 *
 * And: an honest node is never accused, on the tensorflow and on the wasm backend, by traps of its
 * learned predictor judged against this process's own replay (tolerance per predictor).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import '../client-sdk/node.js';
import { openSession } from '../client-sdk/openSession.js';
import type { Session } from '../client-sdk/session/Session.js';
import { localReference } from '../client-sdk/trust/index.js';
import { DiscoveryPlacement, OPERATOR } from '../bin/demo/DiscoveryPlacement.js';
import { spawnNode, type NodeProcess } from '../bin/demo/NodeProcess.js';
import { cheaterAndHonest } from './support/cheaterAndHonest.js';
import { frame, type Driven } from './support/drivenSessions.js';
import { generateKeyPair } from '../discovery/identity.js';
import { auditFile, verifyAuditLog } from '../discovery/ledger/AuditLog.js';
import { MemoryLedger } from '../discovery/ledger/MemoryLedger.js';
import { constantVelocity, kalmanPredictor, loadInference, noPrediction } from '../edge-server/inference/index.js';
import type { Evidence } from '../protocol/index.js';
import { swayingWalk } from './support/motionFixtures.js';

const test = suite('trust-e2e');
const CHEAT_MODULE = new URL('./support/cheatingNode.js', import.meta.url).href;
const STAKE = 1_000_000;
/** A loud upper bound, not a pace: the loops end on what they wait for (frames are faster than traps). */
const MAX_FRAMES = 1_000_000;

test('a cheating node process is caught, its stake slashed, ejected; every session ends on the honest node with every call answered', async () => {
  const auditKey = generateKeyPair();
  const ledger = new MemoryLedger({ auditKeyPem: auditKey.privateKeyPem });
  await ledger.deposit(OPERATOR, STAKE);
  const discovery = await DiscoveryPlacement.start(1000, {}, { ledger });
  const nodes: NodeProcess[] = [];
  const sessions: Driven[] = [];
  try {
    await cheaterAndHonest(discovery, nodes, { cheatModule: CHEAT_MODULE, args: ['--no-inference'] });

    const evidence: { reporter: string; evidence: Evidence; error?: Error }[] = [];
    const open = async (trust: Parameters<typeof openSession>[0]['trust']) => {
      const session = await openSession({ locator: discovery.locator, budgetMs: 500, predictor: 'constant-velocity', trust });
      session.failover!.trust?.on('evidence', (_node, e, error) => evidence.push({ reporter: e.reporter, evidence: e, ...(error ? { error } : {}) }));
      const d = { session, asked: 0, answered: 0 };
      sessions.push(d);
      return d;
    };
    // two officers trapping at 20 %, one session with no traps that must hear of the ejection
    await open({ trapShare: 0.2, frameIntervalMs: 1, reporter: 'officer-1', standingCheckMs: 0 });
    await open({ trapShare: 0.2, frameIntervalMs: 1, reporter: 'officer-2', standingCheckMs: 0 });
    const bystander = await open({ trapShare: 0, standingCheckMs: 100 });
    for (const d of sessions) assert.is(d.session.nodeId, 'cheater', 'every session starts on the cheater (the only edge)');

    const walk = swayingWalk();
    let i = 0;
    while (!sessions.every((d) => d.session.nodeId === 'honest') && i < MAX_FRAMES) await frame(sessions, i++, walk);
    const where = () => JSON.stringify({ frames: i, sessions: sessions.map((d) => [d.session.nodeId, d.session.failover!.state]), evidence: evidence.map((e) => [e.reporter, e.error?.message]) });
    for (const d of sessions) {
      assert.is(d.session.nodeId, 'honest', where());
      assert.is(d.answered, d.asked, 'every app call answered');
    }
    // both officers' evidence was accepted, and discovery ejected the cheater
    assert.equal(evidence.map((e) => e.error?.message), [undefined, undefined]);
    assert.equal(evidence.map((e) => e.reporter).sort(), ['officer-1', 'officer-2']);
    assert.equal(await discovery.locator.ejected(['cheater', 'honest']), ['cheater']);
    assert.equal((await discovery.locator.shortlist()).edge.map((c) => c.id), []);
    assert.ok(bystander.session.failover!.trust!.officer.verifier.share === 0);
    // stake: two slashes of 20 %, half of each to its reporter
    const first = STAKE * 0.2, second = (STAKE - first) * 0.2;
    assert.is(await ledger.stake(OPERATOR), STAKE - first - second);
    assert.is((await ledger.credit('officer-1')) + (await ledger.credit('officer-2')), (first + second) / 2);
    const { header, entries } = await ledger.audit();
    assert.is(verifyAuditLog(auditFile(header, entries), auditKey.publicKey).entries, 3);

    // the same evidence again, and an edited copy, are refused with codes
    const real = evidence[0]!.evidence;
    assert.ok(real.kind === 'predict', 'the cheater lies about predictions');
    const again = await discovery.locator.submitEvidence(real).catch((e) => e);
    assert.is(again.code, 'DUPLICATE');
    const edited = { ...real, answer: { ...real.answer, pose: { ...real.answer.pose, position: [0, 0, 0] as [number, number, number] } } };
    const forged = await discovery.locator.submitEvidence(edited).catch((e) => e);
    assert.is(forged.code, 'NOT_SIGNED_BY_NODE');

    // more frames: nobody goes back to the cheater
    for (let k = 0; k < 30; k++) await frame(sessions, i++, walk);
    for (const d of sessions) assert.is(d.session.nodeId, 'honest', `after: ${where()}`);
  } finally {
    for (const d of sessions) d.session.close();
    for (const n of nodes) await n.kill();
    await discovery.close();
  }
});

test('an honest node is never accused: learned traps on the tensorflow and the wasm backend, judged by this process', async () => {
  const local = await loadInference({ log: () => {} });
  const learned = local.predictors.find((p) => p.name === 'learned');
  assert.ok(learned, 'the shipped learned model loads here');
  const reference = localReference([learned!, kalmanPredictor(), constantVelocity, noPrediction]);
  const discovery = await DiscoveryPlacement.start(1000);
  const nodes: NodeProcess[] = [];
  const sessions: Session[] = [];
  try {
    for (const backend of ['tensorflow', 'wasm'] as const) {
      const node = await spawnNode({ nodeId: `honest-${backend}`, tier: 'edge', env: { EDGE_TF_BACKEND: backend } });
      nodes.push(node);
      await discovery.announce({ id: node.nodeId, url: node.url, tier: 'edge' }, node.nodeKey);
      const session = await openSession({ locator: discovery.locator, budgetMs: 1000, predictor: 'learned', trust: { trapShare: 1, frameIntervalMs: 1, reference, standingCheckMs: 0 } });
      sessions.push(session);
      const outcomes: string[] = [];
      const distrusted: string[] = [];
      let checked = 0;
      session.failover!.trust!.on('trap', (_id, o) => {
        outcomes.push(o.kind);
        if (o.kind === 'pass') checked += o.checked;
      });
      session.failover!.trust!.on('distrust', (id) => distrusted.push(id));
      const walk = swayingWalk();
      const passed = () => outcomes.filter((k) => k === 'pass').length;
      for (let i = 0; passed() < 4 && i < MAX_FRAMES; i++) {
        session.sendPose({ ...walk.at(i / 90), time: Math.round(performance.now() * 1000) });
        await session.predict(20);
        await new Promise<void>((resolve) => setImmediate(resolve)); // as frame() does
      }
      await session.failover!.trust!.settled();
      assert.ok(passed() >= 4, `${backend}: traps ran`);
      // never accused: a trap passes, or (cut short on a busy machine) stays unsealed
      assert.equal(outcomes.filter((k) => k !== 'pass' && k !== 'unsealed'), [], `${backend}: ${JSON.stringify(outcomes)}`);
      assert.equal(distrusted, []);
      assert.ok(checked >= 4 * 24, `${backend}: ${checked} learned answers compared`);
      session.close();
      await node.kill();
      discovery.nodeDied(node.nodeId);
    }
  } finally {
    for (const s of sessions) s.close();
    for (const n of nodes) await n.kill();
    await discovery.close();
    await local.engine.close();
    local.registry.dispose();
  }
});

test.run();
