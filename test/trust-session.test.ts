/**
 * The SDK's officer wired into `openSession` (client-sdk/trust/SessionTrust.ts), against real edge
 * servers that sign their results: a session on a node that answers wrongly sends traps, catches
 * it, hands the evidence to its locator (checked here by discovery's own EvidenceVerifier) and
 * moves to the honest node with every app call answered; a session on an honest node runs traps
 * that all pass.
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
import { constantVelocity, kalmanPredictor, noPrediction } from '../edge-server/inference/index.js';
import type { PredictorFactory } from '../protocol/motion/predictor.js';
import type { NodeTier, PredictEvidence } from '../protocol/index.js';
import { cheatingPredictor } from './support/cheatingPredictor.js';
import { swayingWalk } from './support/motionFixtures.js';

const test = suite('trust-session');
/**
 * A loud upper bound, not a pace: loops end on the event they wait for, and fail with what they
 * saw when it never comes (a trap takes its real time; a busy machine makes it slow, not absent).
 */
const DRIVE_TIMEOUT_MS = 120_000;
const honestFactories = [kalmanPredictor(), constantVelocity, noPrediction];

async function node(id: string, tier: NodeTier, predictors: PredictorFactory[]) {
  const keys = generateKeyPair();
  // a short sealAfterMs: a trap's last answers are sealed soon after it ends
  const server = new EdgeServer({ nodeId: id, tier, predictors, nodeKey: keys.privateKeyPem, resultSigning: { sealEvery: 128, sealAfterMs: 50 } });
  const { url } = await server.listen();
  const candidate: NodeCandidate = { id, url, tier, publicKey: keys.publicKey };
  return { server, candidate, publicKey: keys.publicKey };
}

/**
 * Drives the app: a pose and a predict per frame, every answer awaited, until `done`. Each frame
 * yields to the event loop, as a real frame loop does: while the session answers locally (it lost
 * the node on a starved machine) a predict resolves in a microtask, and a loop that never yields
 * would starve the sockets and timers the session needs to find its node again — traps then
 * stopped for good, which is what the full suite used to see.
 */
async function drive(session: Session, done: () => boolean, detail: () => string = () => '', timeoutMs = DRIVE_TIMEOUT_MS): Promise<{ frames: number; answered: number }> {
  const walk = swayingWalk();
  const deadline = performance.now() + timeoutMs;
  let answered = 0;
  let i = 0;
  for (; !done(); i++) {
    if (performance.now() > deadline) throw new Error(`not done after ${timeoutMs} ms (${i} frames): ${detail()}`);
    session.sendPose({ ...walk.at(i / 90), time: Math.round(performance.now() * 1000) });
    await session.predict(20);
    answered++;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return { frames: i, answered };
}

/**
 * Liveness settings for a machine other suites load: a node that stalls for a second is still
 * the node (these tests judge trust, not failure detection), and a session that left it anyway
 * comes back within a second instead of a minute.
 */
const PATIENT = { faultCooldownMs: 1000, overBudgetCooldownMs: 1000, rediscoverMaxMs: 1000 } as const;

test('a session on a cheating node catches it with a trap, reports evidence discovery confirms, and moves to the honest node with every call answered', async () => {
  const cheater = await node('cheater', 'edge', [cheatingPredictor(kalmanPredictor(), 0.05), constantVelocity, noPrediction]);
  const honest = await node('honest', 'cloud', honestFactories);
  const verifier = new EvidenceVerifier({ keyOf: (id) => [cheater, honest].find((n) => n.candidate.id === id)?.publicKey, predictors: new Map(honestFactories.map((f) => [f.name, f])) });
  const verdicts: Verdict[] = [];
  const locator = Object.assign(new StaticLocator({ edge: [cheater.candidate], cloud: [honest.candidate] }), {
    submitEvidence: async (e: PredictEvidence) => verdicts.push(await verifier.verify(JSON.parse(JSON.stringify(e)))),
  });
  const session = await openSession({ locator, budgetMs: 500, ...PATIENT, trust: { trapShare: 0.2, frameIntervalMs: 1 } });
  const distrusted: string[] = [];
  session.failover!.trust!.on('distrust', (id) => distrusted.push(id));
  try {
    assert.is(session.nodeId, 'cheater');
    const run = await drive(session, () => session.nodeId === 'honest' && verdicts.length > 0, () => JSON.stringify({ node: session.nodeId, distrusted, verdicts: verdicts.length }));
    assert.is(run.answered, run.frames, 'every app call answered');
    assert.is(session.nodeId, 'honest');
    assert.equal(distrusted, ['cheater']);
    assert.is(verdicts[0]!.node, 'cheater');
    assert.ok(verdicts[0]!.positionM > 0.04);
    // it stays away: more frames, all on the honest node
    let frames = 0;
    const after = await drive(session, () => frames++ >= 60);
    assert.is(after.answered, 60);
    assert.is(session.nodeId, 'honest');
  } finally {
    session.close();
    await cheater.server.close();
    await honest.server.close();
  }
});

test('on an honest node every trap passes and nothing is reported', async () => {
  const honest = await node('honest-2', 'edge', honestFactories);
  let submitted = 0;
  const locator = Object.assign(new StaticLocator({ edge: [honest.candidate] }), { submitEvidence: async () => submitted++ });
  // a stuck trap is given up after 5 s (traperror) so the next can start: what is judged here is
  // that an honest node is never accused, and a busy machine must not end trapping early
  const session = await openSession({ locator, budgetMs: 500, ...PATIENT, trust: { trapShare: 1, frameIntervalMs: 1, trapTimeoutMs: 5000 } });
  const outcomes: string[] = [];
  const errors: string[] = [];
  session.failover!.trust!.on('trap', (_id, outcome) => outcomes.push(outcome.kind));
  session.failover!.trust!.officer.on('traperror', (_id, err) => errors.push(err.message));
  const tiers: string[] = [];
  session.on('tier', (tier, reason) => tiers.push(`${tier}:${reason}`));
  session.on('nodeFault' as never, ((f: { code: string }) => tiers.push(`fault:${f.code}`)) as never);
  try {
    // an honest node is never accused: traps pass, or (a trap cut short on a busy machine) stay unsealed
    const passed = () => outcomes.filter((k) => k === 'pass').length;
    const seen = () => JSON.stringify({ tiers, outcomes, errors: errors.slice(0, 5), errorCount: errors.length });
    const run = await drive(session, () => passed() >= 5, seen);
    await session.failover!.trust!.settled();
    const detail = JSON.stringify({ run, seen: seen() });
    assert.ok(passed() >= 5, detail);
    assert.equal(outcomes.filter((k) => k !== 'pass' && k !== 'unsealed'), [], detail);
    assert.is(submitted, 0);
  } finally {
    session.close();
    await honest.server.close();
  }
});

test('trust: false sends no traps', async () => {
  const honest = await node('honest-3', 'edge', honestFactories);
  const session = await openSession({ locator: new StaticLocator({ edge: [honest.candidate] }), budgetMs: 500, trust: false });
  try {
    assert.is(session.failover!.trust, undefined);
    let frames = 0;
    await drive(session, () => frames++ >= 40);
  } finally {
    session.close();
    await honest.server.close();
  }
});

test.run();
