/**
 * Issue #15, attack 10: the SDK against a node that answers pings but not requests. Real node
 * processes on loopback; the liar is a real ws server in front of one (bench/lib/lyingNode.ts)
 * that passes the handshake and pongs and breaks the answers. The session must leave it for an
 * honest node with a `nodeFault` event, without one app call rejected, and not come back.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import '../../client-sdk/node.js';
import { openSession } from '../../client-sdk/openSession.js';
import { connect, type Session } from '../../client-sdk/session/Session.js';
import { StaticLocator } from '../../client-sdk/placement/locator.js';
import type { NodeFaultEvent } from '../../client-sdk/session/SessionBackend.js';
import { NodeFaultCode } from '../../client-sdk/errors.js';
import { TierReason } from '../../client-sdk/session/TierReason.js';
import { spawnNode, type NodeProcess } from '../../bin/demo/NodeProcess.js';
import { startHeadsetLoad, type HeadsetLoad } from '../../bench/failover/HeadsetLoad.js';
import { startLyingNode, type LieMode, type LyingNode } from '../../bench/lib/lyingNode.js';
import { testTimeout, waitFor, withTimeout } from '../support/wait.js';

/** About lying, not latency: a budget no loaded machine's loopback exceeds (and `missedPings: 20`: a
 * busy machine's late pong must not pass for the fault under test). */
const LOOPBACK_BUDGET_MS = 1000;

interface Ctx {
  nodes: NodeProcess[];
  liars: LyingNode[];
  session?: Session;
  load?: HeadsetLoad;
}
const test = suite<Ctx>('ops: attack 10, a node that answers pings but not requests', { nodes: [], liars: [] });

test.before.each((ctx) => {
  ctx.nodes = [];
  ctx.liars = [];
  ctx.session = undefined;
  ctx.load = undefined;
});
test.after.each(async (ctx) => {
  await ctx.load?.stop();
  ctx.session?.close();
  await Promise.all(ctx.liars.map((l) => l.close()));
  await Promise.all(ctx.nodes.map((n) => n.kill('SIGKILL')));
});

async function liarAndHonest(ctx: Ctx, mode: LieMode) {
  const [behindLiar, honest] = await Promise.all([spawnNode({ tier: 'edge', nodeId: 'liar' }), spawnNode({ tier: 'cloud', nodeId: 'honest' })]);
  ctx.nodes.push(behindLiar, honest);
  const liar = await startLyingNode(behindLiar.url, mode);
  ctx.liars.push(liar);
  // the liar is the only edge: probing (pings) finds it near, so the session starts on it
  const locator = new StaticLocator({ edge: [{ id: 'liar', url: liar.url, tier: 'edge' }], cloud: [{ id: honest.nodeId, url: honest.url, tier: 'cloud' }] });
  return { liar, honest, locator };
}

for (const [mode, code] of [
  ['wrong-ids', NodeFaultCode.WRONG_IDS],
  ['silent', NodeFaultCode.REQUESTS_UNANSWERED],
] as const) {
  test(`${mode}: the session leaves the liar for the honest node with nodeFault ${code}; every call answered; it does not go back`, async (ctx) => {
    const { liar, honest, locator } = await liarAndHonest(ctx, mode);
    const session = (ctx.session = await openSession({ locator, budgetMs: LOOPBACK_BUDGET_MS, missedPings: 20 }));
    assert.is(session.nodeId, 'liar', 'placed on the liar first (it answers pings)');
    const faults: NodeFaultEvent[] = [];
    session.on('nodeFault', (f) => faults.push(f));
    // the first move: to the standby, or to local answers when the standby is not warm yet
    const left = new Promise<string>((resolve) => session.once('tier', (_tier, reason) => resolve(reason)));
    ctx.load = startHeadsetLoad(session);
    assert.is(await withTimeout(left, 'the session to leave the liar'), TierReason.NODE_FAULT);
    assert.is(faults.length, 1);
    assert.is(faults[0]!.code, code);
    assert.is(faults[0]!.url, liar.url);
    assert.is(faults[0]!.node, 'liar');
    const leftAt = performance.now();
    // the honest node answers from now on, and keeps answering (the liar is in its cooldown)
    await ctx.load.waitForCall((c) => c.nodeId === honest.nodeId && c.sentAt > leftAt, testTimeout(10_000), 'a prediction from the honest node');
    const tamperedAtLeave = liar.tampered;
    const answeredByHonest = () => ctx.load!.calls.filter((c) => c.sentAt > leftAt && c.nodeId === honest.nodeId).length;
    await waitFor(() => answeredByHonest() >= 90, '90 predictions from the honest node');
    await ctx.load.stop();
    assert.equal(ctx.load.failed.map((c) => c.error?.message), [], 'no app call was rejected');
    assert.ok(ctx.load.calls.filter((c) => c.sentAt > leftAt).every((c) => c.tier !== 'edge'), 'no call went back to the liar');
    assert.ok(liar.pongs > 0, 'the liar answered pings all along');
    assert.ok(tamperedAtLeave >= 3, `${tamperedAtLeave} tampered answers`);
    assert.is(session.nodeId, honest.nodeId);
  });
}

test('RTT comes from the client clock: a node echoing a false ping time cannot change it', async (ctx) => {
  const node = await spawnNode({ tier: 'edge' });
  ctx.nodes.push(node);
  const liar = await startLyingNode(node.url, 'lying-clock');
  ctx.liars.push(liar);
  const session = (ctx.session = await connect(liar.url, { pingIntervalMs: 0 }));
  for (let i = 0; i < 5; i++) {
    const before = performance.now();
    const rtt = await session.ping(testTimeout(5000));
    const after = performance.now();
    // the echoed time claims the ping left at t=0: trusting it would report ~performance.now()
    assert.ok(rtt >= 0 && rtt <= after - before, `rtt ${rtt} outside the ${after - before} ms the call took`);
  }
  assert.ok(liar.tampered >= 5);
});

test('connect(url) has nowhere to go: a liar is reported once with nodeFault', async (ctx) => {
  const node = await spawnNode({ tier: 'edge' });
  ctx.nodes.push(node);
  const liar = await startLyingNode(node.url, 'wrong-ids');
  ctx.liars.push(liar);
  const session = (ctx.session = await connect(liar.url, { pingIntervalMs: 0, requestTimeoutMs: testTimeout(2000) }));
  const fault = new Promise<NodeFaultEvent>((resolve) => session.once('nodeFault', resolve));
  session.sendPose({ device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] });
  const calls = Array.from({ length: 3 }, () => session.predict(20).catch((e: { code?: string }) => e.code));
  const f = await withTimeout(fault, 'the nodeFault event');
  assert.is(f.code, NodeFaultCode.WRONG_IDS);
  assert.equal(await Promise.all(calls), ['TIMEOUT', 'TIMEOUT', 'TIMEOUT'], 'a fixed node that never answers: each call times out with a code');
});

test.run();
