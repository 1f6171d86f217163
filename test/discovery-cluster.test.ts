/**
 * RedisClusterRegistry when a shard dies: a real 3-master cluster on loopback, one master
 * SIGKILLed mid-run. Queries for regions on the other shards keep answering; queries that need
 * the dead shard fail with UNAVAILABLE (no partial answer); after the master is restarted its
 * regions answer again (empty: no persistence), refresh() tells their nodes to register again,
 * and they can.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createClient } from '@redis/client';
import { RedisClusterRegistry } from '../discovery/registry/RedisClusterRegistry.js';
import type { LatLon } from '../discovery/geo.js';
import { startRedisCluster, type RedisCluster } from '../bench/lib/redisCluster.js';
import { record } from './support/discoveryFixtures.js';

const test = suite<{ cluster: RedisCluster }>('redis cluster: a master killed mid-run', {} as { cluster: RedisCluster });
test.before(async (ctx) => {
  ctx.cluster = await startRedisCluster();
});
test.after(async (ctx) => {
  await ctx.cluster?.stop();
});

/** The index (into cluster.ports) of the master serving `key`'s slot. */
async function shardOf(cluster: RedisCluster, key: string): Promise<number> {
  const client = createClient({ url: `redis://${cluster.nodes[0]}` });
  await client.connect();
  try {
    const slot = Number(await client.sendCommand(['CLUSTER', 'KEYSLOT', key]));
    const ranges = (await client.sendCommand(['CLUSTER', 'SLOTS'])) as [number, number, [string, number]][];
    const range = ranges.find(([from, to]) => slot >= Number(from) && slot <= Number(to))!;
    return cluster.ports.indexOf(Number(range[2][1]));
  } finally {
    await client.close();
  }
}

/** Waits for `check` to pass, failing loudly with its last error past the deadline (no fixed sleeps). */
async function eventually<T>(what: string, check: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

test('queries on live shards keep answering, the dead shard is UNAVAILABLE, and it recovers', async ({ cluster }) => {
  // a long interval: nothing expires while a slow machine runs this test
  const registry = await RedisClusterRegistry.connect({ nodes: cluster.nodes, heartbeatIntervalMs: 3_600_000, prefix: 'kill:' });
  try {
    // two region centres (10° cells) on different masters; each query's 3 nearest lie ~500 km
    // inside its region, so it needs no other region (and so no other shard)
    const centres: LatLon[] = [];
    for (const lat of [-5, 5]) for (let lon = -175; lon <= 175; lon += 10) centres.push({ lat, lon });
    const shards = await Promise.all(centres.map((c) => shardOf(cluster, registry.slotKeyOf(c))));
    const a = centres[shards.indexOf(0)]!;
    const b = centres[shards.findIndex((s) => s !== 0)]!;
    const put = async (p: LatLon, tag: string) => {
      for (let i = 0; i < 3; i++) await registry.put(record(`${tag}${i}`, p.lat + i * 0.01, p.lon));
    };
    await put(a, 'a');
    await put(b, 'b');
    assert.equal((await registry.nearest(a, 3, 'edge')).map((n) => n.node.id), ['a0', 'a1', 'a2']);
    assert.equal((await registry.nearest(b, 3, 'edge')).map((n) => n.node.id), ['b0', 'b1', 'b2']);

    await cluster.kill(0);
    await eventually('queries on the dead shard fail', async () => {
      const err = await registry.nearest(a, 3, 'edge').then(() => undefined, (e: { code?: string }) => e);
      assert.is(err?.code, 'UNAVAILABLE');
    });
    assert.equal((await registry.nearest(b, 3, 'edge')).map((n) => n.node.id), ['b0', 'b1', 'b2'], 'the live shard answers');
    assert.is((await registry.get('b1'))?.id, 'b1');
    // a query whose k-nearest reaches into the dead shard's region fails as a whole
    const err = await registry.nearest(b, 6, 'edge').then(() => undefined, (e: { code?: string }) => e);
    assert.is(err?.code, 'UNAVAILABLE', 'no partial answer');
    // liveness of the live shard's nodes is still written; the dead shard's is refused
    assert.equal(await registry.refresh(new Map([['b0', Date.now()]])), []);
    const refused = await registry.refresh(new Map([['a0', Date.now()], ['b1', Date.now()]])).then(() => undefined, (e: { code?: string }) => e);
    assert.is(refused?.code, 'UNAVAILABLE');

    await cluster.restart(0);
    // it came back empty: its regions answer again, and its nodes are told to register again
    const after = await eventually('the restarted shard answers', () => registry.nearest(a, 3, 'edge'));
    assert.ok(after.every((n) => n.node.id.startsWith('b')), 'its own nodes are gone; the nearest others answer');
    assert.equal(await eventually('liveness on the restarted shard', () => registry.refresh(new Map([['a0', Date.now()], ['b0', Date.now()]]))), ['a0']);
    await put(a, 'a');
    assert.equal((await registry.nearest(a, 3, 'edge')).map((n) => n.node.id), ['a0', 'a1', 'a2']);
  } finally {
    await registry.close();
  }
});

test.run();
