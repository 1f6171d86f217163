/**
 * RedisClusterRegistry's cross-region fan-out on a real 3-master cluster: a query whose region
 * holds fewer than k nodes asks the other regions in waves (fanOutWave regions, then twice as many
 * each wave) instead of all at once; the answer must stay the exact k-nearest whatever the wave,
 * for a sparse tier spread over dozens of regions (the cloud) and with a distance cap.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisClusterRegistry } from '../discovery/registry/RedisClusterRegistry.js';
import { greatCircleKm } from '../discovery/geo.js';
import { startRedisCluster, type RedisCluster } from '../bench/lib/redisCluster.js';
import { record } from './support/discoveryFixtures.js';
import { seeded } from '../bench/discovery/synthetic.js';

const test = suite<{ cluster: RedisCluster }>('redis cluster: cross-region fan-out in waves', {} as { cluster: RedisCluster });
test.before(async (ctx) => {
  ctx.cluster = await startRedisCluster();
});
test.after(async (ctx) => {
  await ctx.cluster?.stop();
});

test('the k-nearest of a sparse tier is exact with every wave width', async ({ cluster }) => {
  // an hour's interval: nothing expires while a slow machine inserts
  const registry = await RedisClusterRegistry.connect({ nodes: cluster.nodes, heartbeatIntervalMs: 3_600_000, prefix: 'fan:' });
  try {
    const rand = seeded(11);
    const nodes = [];
    // 60 cloud nodes anywhere (about one per region they land in) and a dense edge metro
    for (let i = 0; i < 60; i++) nodes.push(record(`c${i}`, Math.asin(2 * rand() - 1) * (180 / Math.PI) * 0.95, rand() * 360 - 180, { tier: 'cloud' }));
    for (let i = 0; i < 40; i++) nodes.push(record(`e${i}`, 48.8 + rand(), 2.3 + rand()));
    for (const n of nodes) await registry.put(n);
    const points = [{ lat: 48.9, lon: 2.4 }, { lat: 0, lon: 179.9 }, { lat: -70, lon: 10 }, { lat: 35, lon: -100 }, { lat: 85, lon: 60 }];
    for (const wave of [1, 2, 3, Infinity]) {
      registry.fanOutWave = wave;
      for (const p of points) {
        for (const [tier, k, maxDistanceKm] of [['cloud', 6, Infinity], ['cloud', 4, 6000], ['edge', 8, 2000]] as const) {
          const got = await registry.nearest(p, k, tier, { maxDistanceKm });
          const want = nodes
            .filter((n) => n.tier === tier)
            .map((n) => ({ id: n.id, d: greatCircleKm(p, n) }))
            .filter((n) => n.d <= maxDistanceKm)
            .sort((a, b) => a.d - b.d)
            .slice(0, k);
          assert.equal(got.map((g) => g.node.id), want.map((w) => w.id), `${tier} k=${k} ≤${maxDistanceKm} km around ${p.lat},${p.lon}, wave ${wave}`);
        }
      }
    }
  } finally {
    await registry.close();
  }
});

test('fanOutWave below 1 is refused', async ({ cluster }) => {
  let code: unknown;
  await RedisClusterRegistry.connect({ nodes: cluster.nodes, prefix: 'fan0:', fanOutWave: 0 }).then(
    (r) => r.close(),
    (err: Error) => (code = err.name),
  );
  assert.is(code, 'TypeError');
});

test.run();
