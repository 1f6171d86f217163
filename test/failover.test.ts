/**
 * Failover with real node processes and real sockets: kill -9, SIGTERM drain, a silent link
 * (netem blackhole) and a latency spike (netem delay). Every wait is bounded and fails loudly.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import '../client-sdk/node.js'; // registers ws as the WebSocket implementation
import { openSession } from '../client-sdk/openSession.js';
import { MutableLocator } from '../client-sdk/placement/MutableLocator.js';
import type { NodeCandidate } from '../client-sdk/placement/locator.js';
import type { Session, Tier } from '../client-sdk/session/Session.js';
import { spawnNode, type NodeProcess } from '../bin/demo/NodeProcess.js';
import { startHeadsetLoad, type HeadsetLoad } from '../bench/failover/HeadsetLoad.js';
import { startNetemProxy, type NetemProxy } from '../netem/NetemProxy.js';

/** These tests are about nodes dying, not latency: a budget that a loaded machine's loopback cannot exceed. */
const LOOPBACK_BUDGET_MS = 1000;

const candidate = (node: NodeProcess, url = node.url): NodeCandidate => ({ id: node.nodeId, url, tier: node.tier });

/** Resolves on the next `tier` event matching `tier` (and `reason` when given). */
function nextTier(session: Session, tier: Tier, timeoutMs: number, reason?: string): Promise<{ reason: string; at: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      session.off('tier', listener);
      reject(new Error(`session did not move to '${tier}'${reason ? ` (${reason})` : ''} within ${timeoutMs} ms; it is '${session.tier}'`));
    }, timeoutMs);
    const listener = (t: Tier, r: string) => {
      if (t !== tier || (reason && r !== reason)) return;
      clearTimeout(timer);
      session.off('tier', listener);
      resolve({ reason: r, at: performance.now() });
    };
    session.on('tier', listener);
  });
}

interface Ctx {
  nodes: NodeProcess[];
  proxies: NetemProxy[];
  session?: Session;
  load?: HeadsetLoad;
}

const failover = suite<Ctx>('failover: real node processes', { nodes: [], proxies: [] });

failover.before.each((ctx) => {
  ctx.nodes = [];
  ctx.proxies = [];
  ctx.session = undefined;
  ctx.load = undefined;
});

failover.after.each(async (ctx) => {
  await ctx.load?.stop();
  ctx.session?.close();
  await Promise.all(ctx.proxies.map((p) => p.close()));
  await Promise.all(ctx.nodes.map((n) => n.kill('SIGKILL')));
});

const DRAIN_MS = 15_000;

async function nodes(ctx: Ctx, ...tiers: ('edge' | 'cloud')[]): Promise<NodeProcess[]> {
  // a long drain: a node stops as soon as its sessions have left, and a loaded machine may need
  // seconds to warm the cloud connection (the test is whether the session moves before the node
  // closes, not how fast)
  const spawned = await Promise.all(tiers.map((tier) => spawnNode({ tier, drainMs: DRAIN_MS })));
  ctx.nodes.push(...spawned);
  return spawned;
}

failover('predict() keeps answering from the cloud after the edge is killed -9; no call is rejected', async (ctx) => {
  const [edge, cloud] = await nodes(ctx, 'edge', 'cloud');
  const locator = new MutableLocator({ edge: [candidate(edge!)], cloud: [candidate(cloud!)] });
  const session = (ctx.session = await openSession({ locator, budgetMs: LOOPBACK_BUDGET_MS }));
  assert.is(session.tier, 'edge');
  ctx.load = startHeadsetLoad(session);
  await ctx.load.waitForCall((c) => c.tier === 'edge', 3000, 'a prediction from the edge');
  // the standby cloud connection is opened in the background right after placement
  const standbyDeadline = performance.now() + 3000;
  while (!session.failover!.standbyNode) {
    assert.ok(performance.now() < standbyDeadline, 'no standby cloud connection within 3 s');
    await session.waitFor('latency', 1000);
  }
  const movedToCloud = nextTier(session, 'cloud', 5000, 'node-lost');
  const killedAt = performance.now();
  await edge!.kill('SIGKILL');
  await movedToCloud;
  const served = await ctx.load.waitForCall((c) => c.tier === 'cloud' && c.sentAt > killedAt, 2000, 'a prediction from the cloud');
  await ctx.load.stop();
  assert.equal(ctx.load.failed.map((c) => c.error?.message), [], 'calls were rejected');
  assert.is(served.nodeId, cloud!.nodeId);
});

failover('a new edge appearing in the locator brings the session back from the cloud', async (ctx) => {
  const [cloud] = await nodes(ctx, 'cloud');
  const locator = new MutableLocator({ cloud: [candidate(cloud!)] });
  const session = (ctx.session = await openSession({ locator, budgetMs: LOOPBACK_BUDGET_MS }));
  assert.is(session.tier, 'cloud');
  ctx.load = startHeadsetLoad(session);
  await ctx.load.waitForCall((c) => c.tier === 'cloud', 3000, 'a prediction from the cloud');
  const [edge] = await nodes(ctx, 'edge');
  const back = nextTier(session, 'edge', 5000, 'edge-found');
  locator.add(candidate(edge!));
  const restored = await back;
  await ctx.load.waitForCall((c) => c.tier === 'edge' && c.sentAt > restored.at, 2000, 'a prediction from the new edge');
  await ctx.load.stop();
  assert.equal(ctx.load.failed.length, 0, 'calls were rejected');
  assert.is(session.failover!.standbyNode?.id, cloud!.nodeId, 'the cloud link is kept as the standby');
  assert.ok(locator.reports.some((r) => r.id === edge!.nodeId && r.rttMs !== undefined), 'the probe RTT was reported to the locator');
});

failover('with every node gone predict answers locally, then the session recovers on a new node', async (ctx) => {
  const [edge, cloud] = await nodes(ctx, 'edge', 'cloud');
  const locator = new MutableLocator({ edge: [candidate(edge!)], cloud: [candidate(cloud!)] });
  const session = (ctx.session = await openSession({ locator, budgetMs: LOOPBACK_BUDGET_MS }));
  ctx.load = startHeadsetLoad(session);
  await ctx.load.waitForCall((c) => c.tier === 'edge', 3000, 'a prediction from the edge');
  const local = nextTier(session, 'local', 3000, 'node-lost');
  await Promise.all([edge!.kill('SIGKILL'), cloud!.kill('SIGKILL')]);
  const wentLocal = await local;
  await ctx.load.waitForCall((c) => c.tier === 'local' && c.sentAt > wentLocal.at, 1000, 'a local prediction');
  const [fresh] = await nodes(ctx, 'cloud');
  const recovered = nextTier(session, 'cloud', 3000);
  locator.set({ cloud: [candidate(fresh!)] });
  await recovered;
  await ctx.load.waitForCall((c) => c.tier === 'cloud' && c.nodeId === fresh!.nodeId, 2000, 'a prediction from the new cloud');
  await ctx.load.stop();
  assert.equal(ctx.load.failed.length, 0, 'calls were rejected');
});

failover('an edge stopped with SIGTERM drains: the session moves to the cloud before the node closes', async (ctx) => {
  const [edge, cloud] = await nodes(ctx, 'edge', 'cloud');
  const locator = new MutableLocator({ edge: [candidate(edge!)], cloud: [candidate(cloud!)] });
  const session = (ctx.session = await openSession({ locator, budgetMs: LOOPBACK_BUDGET_MS }));
  ctx.load = startHeadsetLoad(session);
  await ctx.load.waitForCall((c) => c.tier === 'edge', 3000, 'a prediction from the edge');
  while (!session.failover!.standbyNode) await session.waitFor('latency', 3000);
  const moved = nextTier(session, 'cloud', DRAIN_MS, 'drain');
  const exit = edge!.kill('SIGTERM');
  await moved;
  const stopped = await edge!.waitForEvent('stopped', DRAIN_MS);
  await exit;
  await ctx.load.stop();
  assert.ok(stopped, 'the edge finished its drain');
  assert.equal(ctx.load.failed.length, 0, 'calls were rejected');
});

failover('without a standby, a draining edge keeps serving until a cloud connection is warm (make-before-break)', async (ctx) => {
  const [edge, cloud] = await nodes(ctx, 'edge', 'cloud');
  const locator = new MutableLocator({ edge: [candidate(edge!)], cloud: [candidate(cloud!)] });
  // a local answer here must mean the drain broke the session, not that a loaded machine was slow
  // to answer one call (the usual 150 ms local fallback)
  const session = (ctx.session = await openSession({ locator, budgetMs: LOOPBACK_BUDGET_MS, standby: false, localFallbackMs: DRAIN_MS }));
  ctx.load = startHeadsetLoad(session);
  await ctx.load.waitForCall((c) => c.tier === 'edge', 3000, 'a prediction from the edge');
  assert.is(session.failover!.standbyNode, undefined);
  const moved = nextTier(session, 'cloud', DRAIN_MS, 'drain');
  void edge!.kill('SIGTERM');
  await edge!.waitForEvent('draining', DRAIN_MS);
  const { at } = await moved;
  // until the switch, answers kept coming from the draining edge: nothing was answered locally
  const beforeSwitch = ctx.load.calls.filter((c) => c.doneAt < at);
  assert.ok(beforeSwitch.some((c) => c.tier === 'edge'));
  await ctx.load.waitForCall((c) => c.tier === 'cloud', 2000, 'a prediction from the cloud');
  await edge!.waitForEvent('stopped', DRAIN_MS);
  await ctx.load.stop();
  assert.equal(ctx.load.failed.length, 0, 'calls were rejected');
  assert.is(ctx.load.calls.filter((c) => c.tier === 'local').length, 0, 'a call fell back to local prediction during a graceful drain');
});

failover('a silent edge (netem blackhole) is left after missed pings', async (ctx) => {
  const [edge, cloud] = await nodes(ctx, 'edge', 'cloud');
  const proxy = await startNetemProxy({ target: { host: '127.0.0.1', port: edge!.port }, delayMs: 1 });
  ctx.proxies.push(proxy);
  const locator = new MutableLocator({ edge: [candidate(edge!, `${proxy.url}/v1/session`)], cloud: [candidate(cloud!)] });
  const session = (ctx.session = await openSession({ locator, budgetMs: LOOPBACK_BUDGET_MS, pingIntervalMs: 50, missedPings: 3 }));
  ctx.load = startHeadsetLoad(session);
  while (!session.failover!.standbyNode) await session.waitFor('latency', 3000);
  // missed pings (3 × 50 ms), not the 10 s request deadline, must be what notices the silence:
  // the timeout is far below the deadline and far above the detection (how fast: bench failover)
  const moved = nextTier(session, 'cloud', 5000, 'node-lost');
  proxy.cut('blackhole');
  await moved;
  await ctx.load.stop();
  assert.equal(ctx.load.failed.length, 0, 'calls were rejected');
});

failover('an RTT spike over budget moves the session to the cloud and back once it passes', async (ctx) => {
  const [edge, cloud] = await nodes(ctx, 'edge', 'cloud');
  const edgeLink = await startNetemProxy({ target: { host: '127.0.0.1', port: edge!.port }, delayMs: 2 });
  const cloudLink = await startNetemProxy({ target: { host: '127.0.0.1', port: cloud!.port }, delayMs: 60 });
  ctx.proxies.push(edgeLink, cloudLink);
  const locator = new MutableLocator({
    edge: [candidate(edge!, `${edgeLink.url}/v1/session`)],
    cloud: [candidate(cloud!, `${cloudLink.url}/v1/session`)],
  });
  // every figure ten times a headset's (budget 200 ms, pings every 500 ms, cloud 120 ms RTT, spike 400 ms):
  // the decisions are the same, and a loaded machine's own loopback delays cannot flip them
  const session = (ctx.session = await openSession({ locator, budgetMs: 200, pingIntervalMs: 500, standbyPingIntervalMs: 500, overBudgetCooldownMs: 1000 }));
  assert.is(session.tier, 'edge');
  ctx.load = startHeadsetLoad(session);
  // leaving for the cloud needs to know the cloud is faster: wait for the standby's first pongs
  while (!(session.failover!.standbyNode && session.failover!.standbyNode.rttMs > 0)) await session.waitFor('latency', 3000);
  const away = nextTier(session, 'cloud', 10_000, 'over-budget');
  edgeLink.update({ delayMs: 200 }); // 400 ms RTT: over the 200 ms budget, slower than the 120 ms cloud
  await away;
  const back = nextTier(session, 'edge', 10_000, 'edge-found');
  edgeLink.update({ delayMs: 2 });
  await back;
  await ctx.load.stop();
  assert.equal(ctx.load.failed.length, 0, 'calls were rejected');
});

failover('sessions of a dead edge retry it with jittered backoff, not a reconnect storm', async (ctx) => {
  const [edge, cloud] = await nodes(ctx, 'edge', 'cloud');
  const proxy = await startNetemProxy({ target: { host: '127.0.0.1', port: edge!.port } });
  ctx.proxies.push(proxy);
  const locator = new MutableLocator({ edge: [candidate(edge!, `${proxy.url}/v1/session`)], cloud: [candidate(cloud!)] });
  const sessions: Session[] = [];
  try {
    for (let i = 0; i < 10; i++) sessions.push(await openSession({ locator, budgetMs: LOOPBACK_BUDGET_MS, standby: true }));
    for (const s of sessions) while (!s.failover!.standbyNode) await s.waitFor('latency', 3000);
    const allMoved = Promise.all(sessions.map((s) => nextTier(s, 'cloud', 2000)));
    await edge!.kill('SIGKILL'); // the dead node stays in the locator, as it would until discovery expires it
    await allMoved;
    const before = proxy.stats.connections;
    // the observation window is the scenario itself: count what 10 sessions try in about a second
    const windowStart = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const attempts = proxy.stats.connections - before;
    // a loaded machine may stretch the window; the bound grows with the window actually observed
    const seconds = Math.ceil((performance.now() - windowStart) / 1000);
    // re-discovery runs every 100–500 ms, so without per-node backoff this would be ≥ 20 per session
    // per second; with it (250 ms doubling, equal jitter) each session tries about 2–3 times
    assert.ok(attempts <= 10 * 3 * seconds, `${attempts} connection attempts to a dead node from 10 sessions in ${seconds} s`);
    assert.ok(attempts >= 1, 'sessions never retried the node at all (it might have come back)');
  } finally {
    for (const s of sessions) s.close();
  }
});

failover.run();
