/**
 * The failover machine is part of the browser entry: in headless Chromium, with the browser's own
 * WebSocket, a session on an edge moves to its standby cloud when the edge goes away, and the
 * page's predict() calls keep resolving.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EdgeServer } from '../edge-server/index.js';
import { openSdkPage } from '../bench/lib/chromium.js';

const browser = suite('failover in a browser');

browser('a page on an edge keeps getting predictions from the cloud after the edge closes', async () => {
  const edge = new EdgeServer({ nodeId: 'page-edge', tier: 'edge' });
  const cloud = new EdgeServer({ nodeId: 'page-cloud', tier: 'cloud' });
  const [edgeUrl, cloudUrl] = [(await edge.listen()).url, (await cloud.listen()).url];
  const { tab, close } = await openSdkPage(`
  import { openSession, StaticLocator } from '/edge-offload-client.js';
  try {
    const locator = new StaticLocator({ edge: [{ id: 'page-edge', url: ${JSON.stringify(edgeUrl)}, tier: 'edge' }], cloud: [{ id: 'page-cloud', url: ${JSON.stringify(cloudUrl)}, tier: 'cloud' }] });
    // the subject is node loss, not latency: a budget no busy loopback misses keeps the test about that
    const session = await openSession({ locator, budgetMs: 2000 });
    window.session = session;
    window.tiers = [session.tier];
    window.answers = [];
    window.failed = [];
    session.on('tier', (tier, reason) => window.tiers.push(tier + ':' + reason));
    let i = 0;
    window.timer = setInterval(() => {
      session.sendPose({ device: 'head', time: ++i * 11000, position: [0.001 * i, 1.6, 0], orientation: [0, 0, 0, 1] });
      session.predict(20).then((p) => window.answers.push(p.tier + ':' + (p.nodeId ?? '-')), (e) => window.failed.push(String(e)));
    }, 11);
  } catch (error) {
    window.failed = [String(error && error.stack || error)];
  }
`).catch(async (err) => {
    await Promise.all([edge.close({ deadlineMs: 0 }), cloud.close({ deadlineMs: 0 })]);
    throw err;
  });
  try {
    // on the edge, answered by it, with the cloud standby connected (or an error to report)
    await tab.waitForFunction(
      () => {
        const w = window as unknown as { session?: { failover?: { standbyNode?: unknown } }; answers?: string[]; failed?: string[] };
        return (w.failed?.length ?? 0) > 0 || (w.session?.failover?.standbyNode && w.answers?.includes('edge:page-edge'));
      },
      undefined,
      { timeout: 10_000 },
    );
    await edge.close({ deadlineMs: 0 });
    await tab.waitForFunction(() => (window as unknown as { answers: string[] }).answers.includes('cloud:page-cloud'), undefined, { timeout: 5000 });
    const { tiers, failed } = await tab.evaluate(() => {
      const w = window as unknown as { tiers: string[]; failed: string[]; timer: number; session: { close(): void } };
      clearInterval(w.timer);
      w.session.close();
      return { tiers: w.tiers, failed: w.failed };
    });
    assert.equal(failed, [], 'predict() rejected in the page');
    assert.equal(tiers, ['edge', 'cloud:node-lost']);
  } finally {
    await close();
    await Promise.all([edge.close({ deadlineMs: 0 }), cloud.close({ deadlineMs: 0 })]);
  }
});

browser.run();
