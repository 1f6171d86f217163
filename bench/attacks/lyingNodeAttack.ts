/** `bench attacks`, attack 10: the SDK against a node that answers pings but mangles request ids. */
import '../../client-sdk/node.js';
import { openSession } from '../../client-sdk/openSession.js';
import { StaticLocator } from '../../client-sdk/placement/locator.js';
import { spawnNode } from '../../bin/demo/NodeProcess.js';
import { startHeadsetLoad } from '../failover/HeadsetLoad.js';
import { startLyingNode } from '../lib/lyingNode.js';
import { summarize } from '../lib/stats.js';
import { wait, type Outcome } from './outcome.js';

export /** Attack 10: an SDK session placed on a node that answers pings but mangles request ids. */
async function lyingNodeAttack(): Promise<Outcome> {
  const [behind, honest] = await Promise.all([spawnNode({ tier: 'edge', nodeId: 'liar' }), spawnNode({ tier: 'cloud', nodeId: 'honest' })]);
  const liar = await startLyingNode(behind.url, 'wrong-ids');
  try {
    const locator = new StaticLocator({ edge: [{ id: 'liar', url: liar.url, tier: 'edge' }], cloud: [{ id: 'honest', url: honest.url, tier: 'cloud' }] });
    const s = await openSession({ locator, budgetMs: 1000 });
    const faults: string[] = [];
    s.on('nodeFault', (f) => faults.push(f.code));
    const load = startHeadsetLoad(s);
    const started = performance.now();
    await s.waitFor('tier', 10_000).catch(() => undefined);
    const leftAfterMs = performance.now() - started;
    await wait(3000);
    await load.stop();
    s.close();
    const after = load.calls.filter((c) => c.sentAt > started + leftAfterMs);
    return {
      attack: '10 node answering pings, wrong request ids',
      admitted: null,
      rssMiB: null,
      bystander: null,
      node: null,
      detail: { onLiarAtStart: true, faults, leftAfterMs, calls: load.calls.length, rejected: load.failed.length, answeredLocally: load.calls.filter((c) => c.tier === 'local').length, afterLeavingFromHonest: after.filter((c) => c.nodeId === 'honest').length, afterLeaving: after.length, rttAfterLeavingP99: summarize(after.map((c) => c.doneAt - c.sentAt)).p99 },
    };
  } finally {
    await liar.close();
    await Promise.all([behind.kill('SIGKILL'), honest.kill('SIGKILL')]);
  }
}
