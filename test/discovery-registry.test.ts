/**
 * One registry suite, run against every backend: MemoryRegistry, RedisRegistry over a real
 * redis-server and RedisClusterRegistry over a real 3-master Redis Cluster, both started by the
 * test. Whatever one backend answers, the others must too.
 *
 * Expiry runs on each test's own clock (the registries' `now` option): nothing expires while a
 * slow machine is still inserting, and the expiry tests move the clock instead of waiting.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { greatCircleKm } from '../discovery/geo.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { RedisClusterRegistry } from '../discovery/registry/RedisClusterRegistry.js';
import { RedisRegistry } from '../discovery/registry/RedisRegistry.js';
import { foldObservation, FRESH_STATS, type Registry } from '../discovery/registry/Registry.js';
import { record } from './support/discoveryFixtures.js';
import { withReplicas, type RawRedis } from './support/redisReplicas.js';
import { startRedis, type RedisProcess } from '../bench/lib/redisServer.js';
import { startRedisCluster, type RedisCluster } from '../bench/lib/redisCluster.js';

const HEARTBEAT_MS = 100; // ttl = 3 × 100 ms of the test's clock
const TTL_MS = 3 * HEARTBEAT_MS;

/** A registry's clock, moved by hand. Starts at the real time so records made with Date.now() are fresh. */
interface Clock {
  t: number;
}
const RATES = { latencyAlpha: 0.3, reputationAlpha: 0.2 };

/** Deterministic pseudo-random points, so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

type Sweepable = Registry & { sweep(): unknown };

function registrySuite(name: string, make: (clock: Clock) => Promise<Sweepable>, cleanup: () => Promise<void> = async () => {}) {
  const test = suite<{ registry: Sweepable; clock: Clock }>(`registry: ${name}`, {} as { registry: Sweepable; clock: Clock });
  test.before.each(async (ctx) => {
    ctx.clock = { t: Date.now() };
    ctx.registry = await make(ctx.clock);
  });
  test.after.each(async (ctx) => {
    await ctx.registry.close();
    await cleanup();
  });

  test('put then get returns the node; remove forgets it', async ({ registry }) => {
    await registry.put(record('a', 48.85, 2.35));
    const got = await registry.get('a');
    assert.is(got?.id, 'a');
    assert.equal(got?.caps, ['predict', 'infer', 'render']);
    assert.is(got?.lat, 48.85);
    assert.ok(await registry.remove('a'));
    assert.is(await registry.get('a'), undefined);
    assert.equal(await registry.nearest({ lat: 48.85, lon: 2.35 }, 5, 'edge'), []);
  });

  test('nearest() is the exact great-circle k-nearest (checked against brute force)', async ({ registry }) => {
    const rand = rng(7);
    const nodes = [];
    for (let i = 0; i < 300; i++) {
      // clusters near the antimeridian, the poles and the equator: where flat-grid shortcuts break
      const centre = [
        [0, 179.9],
        [84, 10],
        [-60, -70],
        [51.5, -0.12],
      ][i % 4]!;
      nodes.push(record(`n${i}`, Math.max(-89, Math.min(84.9, centre[0]! + (rand() - 0.5) * 20)), ((centre[1]! + (rand() - 0.5) * 20 + 540) % 360) - 180));
    }
    for (const n of nodes) await registry.put(n);
    for (const q of [
      { lat: 0, lon: -179.5 },
      { lat: 80, lon: 100 },
      { lat: -55, lon: -60 },
      { lat: 51.5, lon: 0 },
      { lat: 10, lon: 40 },
    ]) {
      const got = await registry.nearest(q, 7, 'edge');
      const want = nodes.map((n) => ({ id: n.id, d: greatCircleKm(q, n) })).sort((a, b) => a.d - b.d).slice(0, 7);
      assert.equal(got.map((g) => g.node.id), want.map((w) => w.id), `k-nearest around ${q.lat},${q.lon}`);
      got.forEach((g, i) => assert.ok(Math.abs(g.distanceKm - want[i]!.d) < 0.01, 'distance in km'));
    }
  });

  test('nearest() is exact at sparse and dense spots, k from 1 to 40, near the poles and the antimeridian', async ({ registry }) => {
    // a dense metro (its first centre search finds k at once), a sparse spread over the world (it
    // finds a few, or none, and widens) and polar nodes (up to 85°: Redis GEO
    // holds latitudes within ±85.05°: beyond it a node or a client is clamped to it, and the
    // answer is no longer exact, on main as here; the random spread and the clients stay inside)
    const rand = rng(11);
    const nodes = [];
    for (let i = 0; i < 240; i++) {
      const kind = i % 3;
      const lat = kind === 0 ? 48.8 + (rand() - 0.5) * 0.6 : kind === 1 ? Math.asin((2 * rand() - 1) * 0.99) * (180 / Math.PI) : (rand() < 0.5 ? 1 : -1) * (80 + rand() * 5);
      const lon = kind === 0 ? 2.3 + (rand() - 0.5) * 0.8 : rand() * 360 - 180;
      nodes.push(record(`w${i}`, lat, lon));
    }
    for (const n of nodes) await registry.put(n);
    const queries = [
      { lat: 48.8, lon: 2.3 },
      { lat: 49.9, lon: 4.0 },
      { lat: -45, lon: 179.99 },
      { lat: 84.9, lon: -30 },
      { lat: -84.9, lon: 120 },
      { lat: 0, lon: -150 },
      { lat: 30, lon: 90 },
    ];
    for (const q of queries) {
      for (const k of [1, 5, 17, 40]) {
        const got = await registry.nearest(q, k, 'edge');
        const want = nodes.map((n) => ({ id: n.id, d: greatCircleKm(q, n) })).sort((a, b) => a.d - b.d).slice(0, k);
        assert.equal(got.map((g) => g.node.id), want.map((w) => w.id), `${k}-nearest around ${q.lat},${q.lon}`);
      }
    }
  });

  test('nearest() keeps searching past nodes the filter rejects', async ({ registry }) => {
    for (let i = 0; i < 40; i++) await registry.put(record(`busy${i}`, 40 + i * 0.001, -3, { pricePerMinute: 2 }));
    await registry.put(record('free-far', 45, -3));
    await registry.put(record('free-farther', 50, -3));
    const got = await registry.nearest({ lat: 40, lon: -3 }, 2, 'edge', { filter: (n) => n.pricePerMinute < 1 });
    assert.equal(got.map((g) => g.node.id), ['free-far', 'free-farther']);
  });

  test('eligibility (caps, price, load, free capacity, reputation) is applied by the backend and keeps the search going', async ({ registry }) => {
    const at = { lat: -33.9, lon: 151.2 };
    const rejects = [
      record('no-render', -33.9, 151.2001, { caps: ['predict', 'infer'] }),
      record('pricey', -33.9, 151.2002, { pricePerMinute: 9 }),
      record('loaded', -33.9, 151.2003, { load: 0.99 }),
      record('full', -33.9, 151.2004, { freeCapacity: 0 }),
      record('flaky', -33.9, 151.2005),
    ];
    for (let i = 0; i < 30; i++) rejects.push(record(`full${i}`, -33.9 + i * 0.0001, 151.201, { freeCapacity: 0 }));
    for (const n of rejects) await registry.put(n);
    for (let i = 0; i < 5; i++) await registry.learn('flaky', { answered: false }, RATES);
    await registry.put(record('ok-far', -34.5, 151.2));
    await registry.put(record('ok-farther', -35.5, 151.2));
    const eligibility = { caps: ['render' as const], maxPrice: 1, maxLoad: 0.95, minReputation: 0.5 };
    assert.equal((await registry.nearest(at, 2, 'edge', { eligibility })).map((n) => n.node.id), ['ok-far', 'ok-farther']);
    assert.equal((await registry.nearest(at, 1, 'edge', { eligibility, filter: (n) => n.id !== 'ok-far' })).map((n) => n.node.id), ['ok-farther']);
  });

  test('nearest() never returns nodes beyond maxDistanceKm', async ({ registry }) => {
    await registry.put(record('near', 0, 1)); // ~111 km
    await registry.put(record('far', 0, 30)); // ~3300 km
    assert.equal((await registry.nearest({ lat: 0, lon: 0 }, 5, 'edge', { maxDistanceKm: 2000 })).map((n) => n.node.id), ['near']);
    assert.equal((await registry.nearest({ lat: 0, lon: 0 }, 5, 'edge', { maxDistanceKm: 100 })).map((n) => n.node.id), []);
    assert.equal((await registry.nearest({ lat: 0, lon: 0 }, 5, 'edge')).map((n) => n.node.id), ['near', 'far']);
  });

  test('tiers are separate indexes; re-registering under another tier moves the node', async ({ registry }) => {
    await registry.put(record('e', 1, 1));
    await registry.put(record('c', 1, 1.1, { tier: 'cloud' }));
    assert.equal((await registry.nearest({ lat: 1, lon: 1 }, 5, 'edge')).map((n) => n.node.id), ['e']);
    assert.equal((await registry.nearest({ lat: 1, lon: 1 }, 5, 'cloud')).map((n) => n.node.id), ['c']);
    await registry.put(record('e', 1, 1, { tier: 'cloud' }));
    assert.equal((await registry.nearest({ lat: 1, lon: 1 }, 5, 'edge')).length, 0);
    assert.equal((await registry.nearest({ lat: 1, lon: 1 }, 5, 'cloud')).map((n) => n.node.id), ['e', 'c']);
    assert.equal(await registry.count(), { edge: 0, cloud: 2 });
  });

  test('a descriptor with spaces, percent signs, unicode and no capabilities comes back as it was put', async ({ registry }) => {
    const node = record('odd', 35.68, 139.69, { operator: 'Acme Edge 100% Ltd', url: 'wss://例え.jp/v1/session?a=b c', caps: [] });
    await registry.put(node);
    const { load, freeCapacity, lastSeen, ...fixed } = node;
    const got = await registry.get('odd');
    assert.equal({ ...got, load: 0, freeCapacity: 0, lastSeen: 0 }, { ...fixed, load: 0, freeCapacity: 0, lastSeen: 0 });
    assert.equal((await registry.nearest({ lat: 35.7, lon: 139.7 }, 1, 'edge'))[0]?.node.operator, 'Acme Edge 100% Ltd');
    assert.equal((await registry.touch('odd', { load: 0.2, freeCapacity: 2 }))?.url, node.url);
  });

  test('re-registering with other capabilities changes which capability queries find the node', async ({ registry }) => {
    await registry.put(record('x', 20, 20, { caps: ['render'] }));
    await registry.put(record('y', 20, 20.5, { caps: ['infer'] }));
    const infer = { eligibility: { caps: ['infer' as const] } };
    assert.equal((await registry.nearest({ lat: 20, lon: 20 }, 5, 'edge', infer)).map((n) => n.node.id), ['y']);
    await registry.put(record('x', 20, 20, { caps: ['infer', 'render'] }));
    await registry.put(record('y', 20, 20.5, { caps: ['predict'] }));
    assert.equal((await registry.nearest({ lat: 20, lon: 20 }, 5, 'edge', infer)).map((n) => n.node.id), ['x']);
    assert.ok(await registry.remove('x'));
    assert.equal(await registry.nearest({ lat: 20, lon: 20 }, 5, 'edge', infer), []);
    assert.equal(await registry.count(), { edge: 1, cloud: 0 });
  });

  test('a re-registered node is served with its new descriptor, not the one a query saw before', async ({ registry }) => {
    await registry.put(record('r', 40, -3, { url: 'wss://old.example/v1', pricePerMinute: 0.01, operator: 'acme' }));
    assert.is((await registry.nearest({ lat: 40, lon: -3 }, 1, 'edge'))[0]?.node.url, 'wss://old.example/v1');
    await registry.put(record('r', 40.01, -3, { url: 'wss://new.example/v1', pricePerMinute: 0.5, operator: 'other', caps: ['render'] }));
    const [got] = await registry.nearest({ lat: 40, lon: -3 }, 1, 'edge');
    assert.equal([got?.node.url, got?.node.pricePerMinute, got?.node.operator, got?.node.caps, got?.node.lat], ['wss://new.example/v1', 0.5, 'other', ['render'], 40.01]);
    // its status still moves with touch() while the descriptor is held by a replica
    await registry.touch('r', { load: 0.4, freeCapacity: 2 });
    const [touched] = await registry.nearest({ lat: 40, lon: -3 }, 1, 'edge');
    assert.equal([touched?.node.url, touched?.node.load, touched?.node.freeCapacity], ['wss://new.example/v1', 0.4, 2]);
    assert.ok(await registry.remove('r'));
    assert.equal(await registry.nearest({ lat: 40, lon: -3 }, 1, 'edge'), []);
  });

  test('touch() records load and free capacity; unknown ids answer undefined', async ({ registry }) => {
    await registry.put(record('a', 10, 10));
    const touched = await registry.touch('a', { load: 0.7, freeCapacity: 3 });
    assert.is(touched?.load, 0.7);
    const [near] = await registry.nearest({ lat: 10, lon: 10 }, 1, 'edge');
    assert.is(near?.node.freeCapacity, 3);
    assert.is(await registry.touch('nobody', { load: 0, freeCapacity: 1 }), undefined);
  });

  test('a node silent for 3 heartbeat intervals leaves; a heartbeating one stays; the sweep drops it', async ({ registry, clock }) => {
    const t0 = clock.t;
    await registry.put(record('silent', 20, 20, { lastSeen: t0 }));
    await registry.put(record('alive', 20, 20.1, { lastSeen: t0 }));
    clock.t = t0 + TTL_MS - 100;
    assert.ok(await registry.touch('alive', { load: 0, freeCapacity: 10 }));
    assert.is((await registry.get('silent'))?.id, 'silent', 'not expired a moment before its ttl');
    clock.t = t0 + TTL_MS; // silent's last sign of life is exactly one ttl ago
    assert.is(await registry.get('silent'), undefined);
    assert.equal((await registry.nearest({ lat: 20, lon: 20 }, 5, 'edge')).map((n) => n.node.id), ['alive']);
    assert.is(await registry.touch('silent', { load: 0, freeCapacity: 1 }), undefined, 'an expired node cannot heartbeat back in');
    await registry.sweep();
    assert.equal(await registry.count(), { edge: 2, cloud: 0 }, 'within the sweep grace (a ttl) it is invisible but held');
    for (const t of [t0 + TTL_MS + 100, t0 + 2 * TTL_MS - 50]) {
      clock.t = t;
      assert.ok(await registry.touch('alive', { load: 0, freeCapacity: 10 }), 'alive keeps beating');
    }
    clock.t = t0 + 2 * TTL_MS;
    await registry.sweep();
    assert.equal(await registry.count(), { edge: 1, cloud: 0 }, 'past ttl + grace the sweep removed it');
    assert.is((await registry.get('alive'))?.lastSeen, t0 + 2 * TTL_MS - 50);
  });

  test('refresh() keeps many nodes alive in one batch, never backwards, never reviving a removed one', async ({ registry, clock }) => {
    const t0 = clock.t;
    for (const id of ['a', 'b', 'c']) await registry.put(record(id, 30, 30, { lastSeen: t0 }));
    assert.ok(await registry.remove('c'));
    clock.t = t0 + 200;
    assert.equal(await registry.refresh(new Map([['a', t0 + 200], ['c', t0 + 200], ['ghost', t0 + 200]])), ['c', 'ghost'], 'only a is held');
    assert.equal(await registry.refresh(new Map([['a', t0]])), [], 'an older time is accepted but changes nothing');
    clock.t = t0 + TTL_MS + 100;
    assert.equal((await registry.nearest({ lat: 30, lon: 30 }, 5, 'edge')).map((n) => n.node.id), ['a']);
    assert.is((await registry.get('a'))?.lastSeen, t0 + 200);
    assert.is(await registry.get('b'), undefined, 'b was not refreshed');
    assert.is(await registry.get('c'), undefined, 'a removed node is not brought back');
    const many = new Map<string, number>();
    for (let i = 0; i < 2500; i++) many.set(`m${i}`, clock.t);
    for (const id of many.keys()) await registry.put(record(id, -10, -10, { lastSeen: clock.t }));
    clock.t += 100;
    many.set('gone', clock.t);
    assert.equal(await registry.refresh(new Map([...many].map(([id]) => [id, clock.t]))), ['gone'], 'batches past refreshBatch');
    clock.t += TTL_MS - 1;
    assert.is((await registry.nearest({ lat: -10, lon: -10 }, 2500, 'edge')).length, 2500);
  });

  test('touchMany() records many statuses in one batch, past one script; unknown and expired ids come back', async ({ registry, clock }) => {
    const t0 = clock.t;
    await registry.put(record('a', 5, 5, { lastSeen: t0 }));
    await registry.put(record('b', 5, 5.1, { lastSeen: t0 }));
    await registry.put(record('old', 5, 5.2, { lastSeen: t0 - TTL_MS }));
    clock.t = t0 + 50;
    const at = clock.t;
    const missing = await registry.touchMany(
      new Map([
        ['a', { load: 0.4, freeCapacity: 2, at }],
        ['old', { load: 0.1, freeCapacity: 9, at }],
        ['ghost', { load: 0.1, freeCapacity: 9, at }],
        ['b', { load: 0.6, freeCapacity: 3, at }],
      ]),
    );
    assert.equal(missing.sort(), ['ghost', 'old'], 'an expired node is not brought back by a status');
    const near = await registry.nearest({ lat: 5, lon: 5 }, 5, 'edge');
    assert.equal(near.map((n) => [n.node.id, n.node.load, n.node.freeCapacity, n.node.lastSeen]), [['a', 0.4, 2, at], ['b', 0.6, 3, at]]);
    const many = new Map<string, { load: number; freeCapacity: number; at: number }>();
    for (let i = 0; i < 700; i++) {
      await registry.put(record(`t${i}`, -20, -20 + i * 0.001, { lastSeen: at }));
      many.set(`t${i}`, { load: 0.25, freeCapacity: 7, at: at + 10 });
    }
    assert.equal(await registry.touchMany(many), []);
    const got = await registry.nearest({ lat: -20, lon: -20 }, 700, 'edge');
    assert.is(got.length, 700);
    assert.ok(got.every((n) => n.node.load === 0.25 && n.node.freeCapacity === 7 && n.node.lastSeen === at + 10));
  });

  test('learn() folds RTT samples and probe outcomes into an EWMA (same arithmetic on both backends)', async ({ registry }) => {
    assert.equal(await registry.stats('x'), { ...FRESH_STATS });
    const observations = [
      { baseLatencyMs: 10, answered: true },
      { baseLatencyMs: 20, answered: true },
      { answered: false },
      { baseLatencyMs: 5, answered: true },
    ];
    let want = { ...FRESH_STATS };
    for (const o of observations) {
      await registry.learn('x', o, RATES);
      want = foldObservation(want, o, RATES);
    }
    const got = await registry.stats('x');
    assert.is(got.samples, 3);
    assert.ok(Math.abs(got.baseLatencyMs! - want.baseLatencyMs!) < 1e-9, `base ${got.baseLatencyMs} vs ${want.baseLatencyMs}`);
    assert.ok(Math.abs(got.reputation - want.reputation) < 1e-9);
    await registry.put(record('x', 0, 0));
    const [near] = await registry.nearest({ lat: 0, lon: 0 }, 1, 'edge');
    assert.is(near?.stats.samples, 3, 'nearest() carries the stats');
  });

  test('stats learned after registration reach the search, and outlive a re-registration and a removal', async ({ registry }) => {
    const at = { lat: 48.85, lon: 2.35 };
    await registry.put(record('flaky', 48.85, 2.3501));
    await registry.put(record('steady', 48.85, 2.3502));
    const eligibility = { maxLoad: 0.95, minReputation: 0.5 };
    assert.equal((await registry.nearest(at, 2, 'edge', { eligibility })).map((n) => n.node.id), ['flaky', 'steady']);
    for (let i = 0; i < 5; i++) await registry.learn('flaky', { answered: false }, RATES);
    await registry.learn('steady', { baseLatencyMs: 7, answered: true }, RATES);
    const ids = async () => (await registry.nearest(at, 2, 'edge', { eligibility })).map((n) => n.node.id);
    assert.equal(await ids(), ['steady'], 'the reputation learned after registration filters');
    const steady = (await registry.nearest(at, 2, 'edge')).find((n) => n.node.id === 'steady');
    assert.equal([steady?.stats.baseLatencyMs, steady?.stats.samples], [7, 1]);
    await registry.put(record('flaky', 48.85, 2.3501));
    assert.equal(await ids(), ['steady'], 'a re-registration does not shed the record');
    await registry.remove('flaky');
    await registry.put(record('flaky', 48.85, 2.3501));
    assert.equal(await ids(), ['steady'], 'nor does leaving and registering again');
  });

  test('claimNonce() accepts a nonce once', async ({ registry }) => {
    assert.ok(await registry.claimNonce('n1', 1000));
    assert.not.ok(await registry.claimNonce('n1', 1000));
    assert.ok(await registry.claimNonce('n2', 1000));
  });

  return test;
}

let redis: RedisProcess | undefined;
let prefixCounter = 0;
const memory = registrySuite('memory', async (clock) => new MemoryRegistry({ heartbeatIntervalMs: HEARTBEAT_MS, now: () => clock.t }));
const shared = registrySuite('redis', async (clock) => {
  redis ??= await startRedis();
  return RedisRegistry.connect({ url: redis.url, heartbeatIntervalMs: HEARTBEAT_MS, prefix: `t${prefixCounter++}:`, initialRadiusKm: 50, now: () => clock.t });
});
// the same suite on the per-tile search alone: the default searches sparse sets (all of these
// tests' sets) through their all-members GEO set, and the tile path must stay exact for dense ones
const tilesOnly = registrySuite('redis, tile path only', async (clock) => {
  redis ??= await startRedis();
  return RedisRegistry.connect({ url: redis.url, heartbeatIntervalMs: HEARTBEAT_MS, prefix: `t${prefixCounter++}:`, initialRadiusKm: 50, sparseTileMembers: 0, now: () => clock.t });
});
let cluster: RedisCluster | undefined;
const clustered = registrySuite('redis-cluster', async (clock) => {
  cluster ??= await startRedisCluster();
  return RedisClusterRegistry.connect({ nodes: cluster.nodes, heartbeatIntervalMs: HEARTBEAT_MS, prefix: `c${prefixCounter++}:`, initialRadiusKm: 50, now: () => clock.t });
});

const sweeping = suite('registry: memory sweep');
sweeping('sweeps in bounded batches and resumes where it stopped', async () => {
  let now = 1_000_000;
  const registry = new MemoryRegistry({ heartbeatIntervalMs: 100, now: () => now });
  for (let i = 0; i < 250; i++) await registry.put(record(`n${i}`, i / 10, 0, { lastSeen: now }));
  now += 1000; // all expired
  assert.is(registry.sweep(now, 100), 100);
  assert.is(registry.sweep(now, 100), 100);
  assert.is(registry.sweep(now, 100), 50);
  assert.equal(await registry.count(), { edge: 0, cloud: 0 });
  await registry.close();
});

const replicas = suite('registry: two RedisRegistry instances over one Redis');
replicas('agree on nodes, heartbeats, stats, nonces and expiry', async () => {
  redis ??= await startRedis();
  const clock = { t: Date.now() };
  const opts = { url: redis.url, heartbeatIntervalMs: HEARTBEAT_MS, prefix: 'replicas:', now: () => clock.t };
  const a = await RedisRegistry.connect(opts);
  const b = await RedisRegistry.connect(opts);
  try {
    const t0 = clock.t;
    await a.put(record('p', 35.68, 139.69, { lastSeen: t0 }));
    await a.put(record('q', 35.0, 135.77, { lastSeen: t0 }));
    assert.equal((await b.nearest({ lat: 35.68, lon: 139.7 }, 2, 'edge')).map((n) => n.node.id), ['p', 'q']);
    clock.t = t0 + 100;
    await b.touch('q', { load: 0.5, freeCapacity: 4 });
    assert.is((await a.get('q'))?.freeCapacity, 4);
    await a.learn('p', { baseLatencyMs: 12, answered: true }, RATES);
    assert.is((await b.stats('p')).baseLatencyMs, 12);
    assert.ok(await a.claimNonce('same', 1000));
    assert.not.ok(await b.claimNonce('same', 1000), 'a nonce claimed on one replica is a replay on the other');
    clock.t = t0 + TTL_MS; // p expired; q, touched 100 ms later, still live on both
    assert.is(await b.get('p'), undefined);
    assert.is((await b.get('q'))?.id, 'q');
    clock.t = t0 + TTL_MS + 100;
    const gone = async (id: string) => (await a.get(id)) === undefined && (await b.get(id)) === undefined;
    assert.ok((await gone('p')) && (await gone('q')), 'expiry seen by both');
    assert.is(await a.sweep(), 0, 'held for the sweep grace');
    clock.t = t0 + 2 * TTL_MS + 100;
    assert.is(await a.sweep(), 2);
    assert.equal(await b.count(), { edge: 0, cloud: 0 }, 'sweep removed expired geo members');
  } finally {
    await a.close();
    await b.close();
  }
});

replicas('a sweep removes every expired node up to its batch, in scripts of sweepBatch', async () => {
  redis ??= await startRedis();
  const clock = { t: Date.now() };
  const registry = await RedisRegistry.connect({ url: redis.url, heartbeatIntervalMs: HEARTBEAT_MS, prefix: 'sweepbatch:', sweepBatch: 7, now: () => clock.t });
  try {
    for (let i = 0; i < 30; i++) await registry.put(record(`s${i}`, i / 10, 0, { lastSeen: clock.t }));
    clock.t += 3 * TTL_MS; // past ttl + grace
    assert.is(await registry.sweep(clock.t, 20), 20, 'three scripts of 7, the last cut to 6');
    assert.is(await registry.sweep(), 10);
    assert.equal(await registry.count(), { edge: 0, cloud: 0 });
    assert.equal(await registry.nearest({ lat: 1, lon: 0 }, 5, 'edge'), []);
  } finally {
    await registry.close();
  }
});

replicas('a replica serves the descriptor another replica re-registered, with any descriptor cache size', async () => {
  redis ??= await startRedis();
  const opts = { url: redis.url, heartbeatIntervalMs: HEARTBEAT_MS, prefix: 'cache:' };
  const a = await RedisRegistry.connect(opts);
  const b = await RedisRegistry.connect(opts);
  const none = await RedisRegistry.connect({ ...opts, descriptorCacheSize: 0 });
  const one = await RedisRegistry.connect({ ...opts, descriptorCacheSize: 1 });
  try {
    await a.flush();
    await a.put(record('p', 35.68, 139.69, { url: 'wss://p1.example/v1' }));
    await a.put(record('q', 35.0, 135.77, { url: 'wss://q1.example/v1' }));
    const urls = async (r: RedisRegistry) => (await r.nearest({ lat: 35.68, lon: 139.7 }, 2, 'edge')).map((n) => n.node.url);
    for (const r of [b, none, one]) assert.equal(await urls(r), ['wss://p1.example/v1', 'wss://q1.example/v1']);
    // b, none and one held (or not) p's first registration; a re-registers it elsewhere
    await a.put(record('p', 35.69, 139.69, { url: 'wss://p2.example/v1' }));
    for (const r of [b, none, one]) assert.equal(await urls(r), ['wss://p2.example/v1', 'wss://q1.example/v1'], 'the new registration, on every replica ' + [b, none, one].indexOf(r));
    assert.ok(await a.remove('q'));
    for (const r of [b, none, one]) assert.equal(await urls(r), ['wss://p2.example/v1']);
  } finally {
    for (const r of [a, b, none, one]) await r.close();
  }
});

/**
 * Two replicas on their own key prefix over the suite's Redis, and a raw client to leave keys as an
 * older replica would have (the upgrade tests below); everything closed after `body`.
 */
async function withOlderLayout(prefix: string, body: (a: RedisRegistry, b: RedisRegistry, raw: RawRedis) => Promise<void>): Promise<void> {
  redis ??= await startRedis();
  await withReplicas(redis.url, prefix, HEARTBEAT_MS, body);
}

replicas('a node placed without the learned-stats mirror (by an older replica) is searched with its stats hash', () =>
  withOlderLayout('mirror:', async (a, _b, raw) => {
    await a.put(record('p', 35.68, 139.69));
    await a.put(record('q', 35.68, 139.691));
    for (let i = 0; i < 5; i++) await a.learn('p', { answered: false }, RATES);
    await a.learn('q', { baseLatencyMs: 9, answered: true }, RATES);
    // what an older replica's registration leaves: no mirror row for either node
    assert.is(await raw.sendCommand(['HDEL', 'mirror:learned', 'p', 'q']), 2);
    const found = await a.nearest({ lat: 35.68, lon: 139.69 }, 2, 'edge', { eligibility: { minReputation: 0.5 } });
    assert.equal(found.map((n) => [n.node.id, n.stats.baseLatencyMs]), [['q', 9]]);
  }));

replicas('a set whose all-members GEO set disagrees with its census (an older replica placed nodes) is searched by tiles', () =>
  withOlderLayout('allset:', async (a, _b, raw) => {
    await a.put(record('p', 35.68, 139.69));
    await a.put(record('q', 35.0, 135.77));
    await a.put(record('r', 34.69, 135.5));
    const ids = async () => (await a.nearest({ lat: 35.68, lon: 139.7 }, 3, 'edge')).map((n) => n.node.id);
    assert.equal(await ids(), ['p', 'q', 'r']);
    // what an older replica's registration leaves: the node in its tiles, not in the all sets
    assert.is(await raw.sendCommand(['ZREM', 'allset:all:edge:a', 'q']), 1);
    assert.equal(await ids(), ['p', 'q', 'r'], 'found through its tile');
    // and its removal: the all set keeps a member the census no longer counts
    await raw.sendCommand(['GEOADD', 'allset:all:edge:a', '139.7', '35.68', 'ghost']);
    assert.ok(await a.remove('q'));
    assert.equal(await ids(), ['p', 'r']);
  }));

replicas('search rows are lean (no descriptor line); a row an older replica wrote with its line is still searched and described', () =>
  withOlderLayout('lean:', async (a, b, raw) => {
    await a.put(record('p', 35.68, 139.69, { url: 'wss://p.example/v1' }));
    await a.put(record('q', 35.0, 135.77, { url: 'wss://q.example/v1' }));
    const row = String(await raw.sendCommand(['HGET', 'lean:search', 'q']));
    assert.is(row.split(' ').length, 6, 'v l f s c p');
    // what an older replica's put or TOUCH leaves: the row with the node hash's descriptor line after it
    const d = String(await raw.sendCommand(['HGET', 'lean:node:q', 'd']));
    await raw.sendCommand(['HSET', 'lean:search', 'q', `${row} ${d}`]);
    // b holds neither node: it describes both from their node hashes
    const found = await b.nearest({ lat: 35.68, lon: 139.7 }, 2, 'edge', { eligibility: { caps: ['infer'] } });
    assert.equal(found.map((n) => n.node.url), ['wss://p.example/v1', 'wss://q.example/v1']);
    // a status update writes the lean row back
    assert.ok(await a.touch('q', { load: 0.5, freeCapacity: 1 }));
    assert.is(String(await raw.sendCommand(['HGET', 'lean:search', 'q'])).split(' ').length, 6);
    assert.equal((await b.nearest({ lat: 35.0, lon: 135.77 }, 1, 'edge')).map((n) => [n.node.id, n.node.load]), [['q', 0.5]]);
  }));

replicas.after(async () => {
  await redis?.stop();
});
clustered.after(async () => {
  await cluster?.stop();
});

memory.run();
sweeping.run();
shared.run();
tilesOnly.run();
replicas.run();
clustered.run();
