/**
 * Verified node identity, live: discovery puts each node's registered key in its candidates, a
 * real EdgeServer signs the hello nonce with its node key, and the SDK refuses (NODE_IDENTITY) a
 * node whose welcome is signed with another key than the one discovery vouched for, landing the
 * session on the honest node with no failed call.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { generateKeyPair } from '../discovery/identity.js';
import { EdgeServer } from '../edge-server/EdgeServer.js';
import { DiscoveryLocator } from '../client-sdk/placement/DiscoveryLocator.js';
import { NodeConnection } from '../client-sdk/link/NodeConnection.js';
import { openSession } from '../client-sdk/node.js';
import { quaternion } from '../protocol/index.js';
import { makeNode, makeOperator, trustOf } from './support/discoveryFixtures.js';

const test = suite('discovery identity');
const CLIENT = { lat: 52.52, lon: 13.405 };

test('a node signing with another key than discovery vouched for is refused; the session lands on the honest node', async () => {
  const acme = makeOperator('acme');
  const discovery = new DiscoveryServer({ registry: new MemoryRegistry({ heartbeatIntervalMs: 3_600_000 }), operators: trustOf(acme) });
  const { url } = await discovery.listen();
  // the impostor answers at the nearest registered address but holds another key than it registered
  const impostorReg = makeNode(acme, 'impostor', { lat: 52.52, lon: 13.405 });
  const honestReg = makeNode(acme, 'honest', { lat: 52.6, lon: 13.4 });
  const impostor = new EdgeServer({ nodeId: 'impostor', nodeKey: generateKeyPair().privateKeyPem });
  const honest = new EdgeServer({ nodeId: 'honest' });
  honest.useNodeKey(honestReg.key.privateKeyPem); // what the discovery agent does with the registered key
  const session = await (async () => {
    impostorReg.descriptor.url = (await impostor.listen()).url;
    honestReg.descriptor.url = (await honest.listen()).url;
    for (const reg of [impostorReg, honestReg]) {
      const res = await fetch(`${url}/v1/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(reg.registration()) });
      assert.is(res.status, 200, await res.text());
    }
    const locator = new DiscoveryLocator({ url, location: CLIENT });
    const shortlist = await locator.shortlist();
    assert.equal(shortlist.edge.map((c) => c.id), ['impostor', 'honest'], 'geography ranks the impostor first');
    assert.equal(shortlist.edge.map((c) => c.publicKey), [impostorReg.key.publicKey, honestReg.key.publicKey], 'candidates carry the registered keys');
    const refused = await NodeConnection.open(shortlist.edge[0]!.url, { publicKey: shortlist.edge[0]!.publicKey! }).then(
      (c) => (c.close(), 'opened'),
      (err: { code?: string }) => err.code,
    );
    assert.is(refused, 'NODE_IDENTITY');
    return openSession({ locator, budgetMs: 200 });
  })();
  try {
    assert.is(session.nodeId, 'honest');
    for (let i = 0; i < 10; i++) session.sendPose({ device: 'head', time: i * 11_111, position: [0, 1.6, 0], orientation: quaternion.fromRotationVector([0, i / 100, 0]) });
    for (let i = 0; i < 20; i++) {
      const prediction = await session.predict(20);
      assert.is(prediction.nodeId, 'honest');
    }
  } finally {
    session.close();
    await impostor.close();
    await honest.close();
    await discovery.close();
  }
});

test.run();
