/**
 * Spot checks of live predicts, with real processes. The cheater is a node that correlates
 * sessions (test/support/cheatingNode.ts with `EDGE_OFFLOAD_TEST_HONEST_PREDICTS`, loaded with `node --import`): every session gets
 * honest answers for its first 120 predicts — longer than any trap session, so traps all pass —
 * and wrong ones after. Only the live session's own answers can catch it: one session (evidence
 * within the cap) reports to discovery, which re-checks the evidence and accepts it; one whose
 * input outgrew its evidence cap catches locally. Both move to the honest node with every app
 * call answered. And an honest node is never accused by hundreds of spot-checked live answers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import '../client-sdk/node.js';
import { openSession } from '../client-sdk/openSession.js';
import type { Session } from '../client-sdk/session/Session.js';
import type { SessionTrustEvents } from '../client-sdk/trust/SessionTrust.js';
import { DiscoveryPlacement } from '../bin/demo/DiscoveryPlacement.js';
import { spawnNode, type NodeProcess } from '../bin/demo/NodeProcess.js';
import { cheaterAndHonest } from './support/cheaterAndHonest.js';
import { frame, type Driven } from './support/drivenSessions.js';
import type { Evidence } from '../protocol/index.js';
import { swayingWalk } from './support/motionFixtures.js';

const test = suite('trust-spot');
const CHEAT_MODULE = new URL('./support/cheatingNode.js', import.meta.url).href;
/** Honest answers per predictor before the cheat: more than any trap session asks for (≤ 90). */
const HONEST_PREDICTS = 120;
/** A loud upper bound, not a pace: the loops end on what they wait for. */
const MAX_FRAMES = 200_000;

type Spot = SessionTrustEvents['spot'][1];

interface Spotted extends Driven {
  spots: Spot[];
  /** Live answers judged on each node. */
  checkedOn: Map<string, number>;
  traps: string[];
  distrust: string[];
  evidence: { evidence: Evidence; error?: Error }[];
}

function watch(session: Session): Spotted {
  const d: Spotted = { session, asked: 0, answered: 0, spots: [], checkedOn: new Map(), traps: [], distrust: [], evidence: [] };
  const trust = session.failover!.trust!;
  trust.on('spot', (node, outcome) => {
    d.spots.push(outcome);
    if (outcome.kind === 'pass') d.checkedOn.set(node, (d.checkedOn.get(node) ?? 0) + outcome.checked);
  });
  trust.on('trap', (_node, outcome) => d.traps.push(outcome.kind));
  trust.on('distrust', (node, why) => d.distrust.push(`${node}:${why}`));
  trust.on('evidence', (_node, evidence, error) => d.evidence.push({ evidence, ...(error ? { error } : {}) }));
  return d;
}

test('a node that cheats only on long sessions passes every trap, is caught by live spot checks, and the sessions move with every call answered', async () => {
  const discovery = await DiscoveryPlacement.start(1000);
  const nodes: NodeProcess[] = [];
  const all: Spotted[] = [];
  try {
    await cheaterAndHonest(discovery, nodes, { cheatModule: CHEAT_MODULE, args: ['--no-inference'], cheaterEnv: { EDGE_OFFLOAD_TEST_HONEST_PREDICTS: String(HONEST_PREDICTS) } });
    const open = async (trust: Parameters<typeof openSession>[0]['trust']) => {
      const d = watch(await openSession({ locator: discovery.locator, budgetMs: 5000, predictor: 'constant-velocity', trust }));
      all.push(d);
      return d;
    };
    // trapShare 0.2: traps run often (and must all pass: they are short), spot checks judge 20 % of live answers
    const reporting = await open({ trapShare: 0.2, frameIntervalMs: 1, reporter: 'spot-officer', standingCheckMs: 0 });
    const local = await open({ trapShare: 0.2, frameIntervalMs: 1, reporter: 'local-officer', standingCheckMs: 0, maxEvidenceBytes: 2048 });
    for (const d of all) assert.is(d.session.nodeId, 'cheater', `every session starts on the cheater (the only edge): ${JSON.stringify(all.map((x) => [x.session.nodeId, x.spots, x.distrust, x.session.failover!.state]))}`);

    const walk = swayingWalk();
    let i = 0;
    while (!all.every((d) => d.session.nodeId === 'honest' && d.evidence.length + (d === local ? 1 : 0) > 0) && i < MAX_FRAMES) await frame(all, i++, walk);
    for (const d of all) await d.session.failover!.trust!.settled();
    const where = () => JSON.stringify({ frames: i, sessions: all.map((d) => [d.session.nodeId, d.spots, d.traps, d.distrust, d.evidence.map((e) => e.error?.message)]) });
    for (const d of all) {
      assert.is(d.session.nodeId, 'honest', where());
      assert.is(d.answered, d.asked, 'every app call answered');
      assert.equal(d.distrust, ['cheater:caught'], where());
      // the traps never saw a wrong answer: only the live session's own answers did
      assert.equal(d.traps.filter((k) => k !== 'pass' && k !== 'unsealed'), [], where());
    }
    const caught = (d: Spotted) => d.spots.filter((s): s is Extract<Spot, { kind: 'caught' }> => s.kind === 'caught');
    assert.is(caught(reporting).length, 1, where());
    assert.is(caught(reporting)[0]!.local, false);
    assert.ok(caught(reporting)[0]!.positionM > 0.04, 'the accused answer is the 5 cm cheat');
    // discovery re-checked the live session's evidence (its whole input since the hello) and accepted it
    assert.is(reporting.evidence.length, 1);
    assert.is(reporting.evidence[0]!.error, undefined, where());
    assert.ok(reporting.evidence[0]!.evidence.kind === 'predict' && reporting.evidence[0]!.evidence.messages.length > HONEST_PREDICTS, 'the evidence is the live session, not a trap');
    // past its evidence cap the other session still leaves, and says the catch is local
    assert.is(caught(local).length, 1, where());
    assert.is(caught(local)[0]!.local, true);
    assert.equal(local.evidence, []);
    // more frames: nobody goes back, and the honest node's live answers (its session began with
    // the resumed poses in its hello) pass their spot checks
    const start = i;
    while ((i - start < 30 || !all.every((d) => (d.checkedOn.get('honest') ?? 0) >= 20)) && i < MAX_FRAMES) await frame(all, i++, walk);
    for (const d of all) await d.session.failover!.trust!.settled();
    for (const d of all) {
      assert.is(d.session.nodeId, 'honest', where());
      assert.ok((d.checkedOn.get('honest') ?? 0) >= 20, where());
      assert.equal(d.distrust, ['cheater:caught'], where());
      assert.is(d.answered, d.asked);
    }
  } finally {
    for (const d of all) d.session.close();
    for (const n of nodes) await n.kill();
    await discovery.close();
  }
});

test('an honest node is never accused by spot checks of its live answers (kalman and constant velocity)', async () => {
  const discovery = await DiscoveryPlacement.start(1000);
  const nodes: NodeProcess[] = [];
  const all: Spotted[] = [];
  try {
    const node = await spawnNode({ nodeId: 'honest', tier: 'edge', extraArgs: ['--no-inference'] });
    nodes.push(node);
    await discovery.announce({ id: 'honest', url: node.url, tier: 'edge' }, node.nodeKey);
    for (const predictor of ['kalman', 'constant-velocity']) {
      all.push(watch(await openSession({ locator: discovery.locator, budgetMs: 1000, predictor, trust: { trapShare: 0.5, frameIntervalMs: 1, standingCheckMs: 0 } })));
    }
    const checked = (d: Spotted) => d.spots.reduce((n, s) => n + (s.kind === 'pass' ? s.checked : 0), 0);
    const walk = swayingWalk();
    let i = 0;
    while (!all.every((d) => checked(d) >= 300) && i < MAX_FRAMES) await frame(all, i++, walk);
    for (const d of all) await d.session.failover!.trust!.settled();
    const where = () => JSON.stringify({ frames: i, sessions: all.map((d) => [d.session.nodeId, checked(d), d.spots.filter((s) => s.kind !== 'pass'), d.distrust]) });
    for (const d of all) {
      assert.ok(checked(d) >= 300, where());
      assert.equal(d.spots.filter((s) => s.kind !== 'pass'), [], where());
      assert.equal(d.distrust, [], where());
      assert.is(d.session.nodeId, 'honest');
      assert.is(d.answered, d.asked);
    }
  } finally {
    for (const d of all) d.session.close();
    for (const n of nodes) await n.kill();
    await discovery.close();
  }
});

test.run();
