/**
 * A real EdgeServer put on discovery the way `edge-offload edge --discovery` does it
 * (attachDiscoveryAgent with keygen's files), then found, probed over the real session protocol
 * and picked by a client; draining makes it ineligible, closing the agent makes it expire.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { EdgeServer } from '../edge-server/index.js';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { attachDiscoveryAgent } from '../discovery/edgeAgent.js';
import { runKeygenCommand } from '../discovery/keygen.js';
import { TrustedOperators } from '../discovery/trust.js';
import { DiscoveryLocator } from '../client-sdk/placement/DiscoveryLocator.js';
import { selectNode } from '../client-sdk/placement/probe.js';
import { connectionPinger } from '../client-sdk/placement/connectionPinger.js';
import type { WebSocketConstructor } from '../client-sdk/index.js';
import { eventually } from './support/discoveryFixtures.js';

const test = suite('discovery + a real edge server');

test('edge registers with its files, a client probes it over the session protocol and picks it; closing its agent lets it expire', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eo-edge-disc-'));
  const lines: string[] = [];
  await runKeygenCommand(['operator', '--name', 'acme', '--out', join(dir, 'op.json')], (l) => lines.push(l));
  await runKeygenCommand(['node', '--out', join(dir, 'node.json')], () => {});
  await runKeygenCommand(['authorize', '--operator', join(dir, 'op.json'), '--node', join(dir, 'node.json'), '--id', 'edge-berlin', '--out', join(dir, 'auth.json')], () => {});
  const clock = { t: Date.now() };
  const discovery = new DiscoveryServer({
    // the registry's clock is the test's: nothing expires while a loaded machine is still setting up
    registry: new MemoryRegistry({ heartbeatIntervalMs: 1000, now: () => clock.t }),
    operators: new TrustedOperators([JSON.parse(lines[0]!)]),
  });
  const edge = new EdgeServer({ nodeId: 'edge-berlin', maxSessions: 5 });
  try {
    const { url } = await discovery.listen();
    await edge.listen();
    const agent = await attachDiscoveryAgent(edge, {
      discoveryUrl: url,
      nodeKeyFile: join(dir, 'node.json'),
      authorizationFile: join(dir, 'auth.json'),
      location: { lat: 52.52, lon: 13.405 },
    });
    assert.ok(agent.registered);
    const locator = new DiscoveryLocator({ url, location: { lat: 52.5, lon: 13.4 } });
    const list = await locator.shortlist({ caps: ['predict'] });
    assert.equal(list.edge.map((c) => [c.id, c.url]), [['edge-berlin', edge.url]]);
    const selection = await selectNode(locator, connectionPinger({ WebSocket: WebSocket as unknown as WebSocketConstructor }), { pings: 3 });
    assert.is(selection.chosen?.candidate.id, 'edge-berlin');
    assert.ok(selection.chosen!.rttMs! > 0, `rtt ${selection.chosen!.rttMs} ms on loopback`);
    assert.equal((edge.health() as { discovery: { registered: boolean } }).discovery.registered, true);
    agent.close();
    await eventually(() => discovery.nodeChannels.size === 0, 'discovery saw the node channel close');
    clock.t = Date.now() + 3 * 1000 + 1; // 3 silent heartbeat intervals after its last pong
    assert.is((await locator.shortlist()).edge.length, 0, 'the node expires once its agent stops');
  } finally {
    await edge.close({ deadlineMs: 0 });
    await discovery.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
