/** Discovery's pure parts: signatures, geometry, the spatial index, location, rate limits, ranking. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SIGNING_DOMAIN, canonicalJson, generateKeyPair, signPayload, verifyPayload, signHeartbeat, heartbeatPayload } from '../discovery/identity.js';
import { greatCircleKm, propagationRttMs } from '../discovery/geo.js';
import { SphereIndex } from '../discovery/registry/SphereIndex.js';
import { RegionGrid } from '../discovery/registry/regionGrid.js';
import { IpLocator, isPrivateIp, parseLatLon } from '../discovery/locate.js';
import { TokenBuckets } from '../discovery/rateLimit.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { learnFromReports } from '../discovery/feedback.js';
import { DEFAULT_RANK_OPTIONS, choosePlacement, shortlist } from '../discovery/rank.js';
import { TrustedOperators } from '../discovery/trust.js';
import { CITIES } from '../discovery/data/cities.js';
import { record } from './support/discoveryFixtures.js';

const identity = suite('discovery identity');

identity('canonical JSON ignores key order and drops undefined', () => {
  assert.is(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}');
});

identity('a signature verifies only for its key, its domain and its exact payload', () => {
  const k = generateKeyPair();
  const other = generateKeyPair();
  const sig = signPayload(SIGNING_DOMAIN.register, { a: 1 }, k.privateKeyPem);
  assert.ok(verifyPayload(SIGNING_DOMAIN.register, { a: 1 }, sig, k.publicKey));
  assert.not.ok(verifyPayload(SIGNING_DOMAIN.register, { a: 2 }, sig, k.publicKey), 'tampered payload');
  assert.not.ok(verifyPayload(SIGNING_DOMAIN.heartbeat, { a: 1 }, sig, k.publicKey), 'other domain');
  assert.not.ok(verifyPayload(SIGNING_DOMAIN.register, { a: 1 }, sig, other.publicKey), 'other key');
  assert.not.ok(verifyPayload(SIGNING_DOMAIN.register, { a: 1 }, 'x'.repeat(86), k.publicKey), 'garbage signature');
  const hb = signHeartbeat('n1', { load: 0.5, freeCapacity: 2 }, k.privateKeyPem);
  assert.ok(verifyPayload(SIGNING_DOMAIN.heartbeat, heartbeatPayload(hb), hb.signature!, k.publicKey));
});

identity('trusted operators load from JSON and reject malformed files with a hint', () => {
  const k = generateKeyPair();
  const trust = TrustedOperators.fromJson(JSON.stringify({ operators: [{ name: 'acme', publicKey: k.publicKey }] }), 'test');
  assert.is(trust.nameOf(k.publicKey), 'acme');
  assert.throws(() => TrustedOperators.fromJson('{"operators":[{"name":"x"}]}', 'test'), /publicKey/);
  assert.throws(() => TrustedOperators.fromJson('nope', 'test'), /not JSON/);
});

const geo = suite('discovery geo');

geo('great-circle distances match known city pairs', () => {
  const london = { lat: 51.5074, lon: -0.1278 };
  const paris = { lat: 48.8566, lon: 2.3522 };
  const sydney = { lat: -33.8688, lon: 151.2093 };
  assert.ok(Math.abs(greatCircleKm(london, paris) - 343.5) < 2);
  assert.ok(Math.abs(greatCircleKm(london, sydney) - 16_994) < 30);
  assert.is(greatCircleKm(london, london), 0);
});

geo('propagation RTT is distance / (2/3 c) × 2 × route factor', () => {
  // 1000 km at 199.86 km/ms, ×1.5 route, ×2 round trip ≈ 15.0 ms
  assert.ok(Math.abs(propagationRttMs(1000) - 15.01) < 0.02);
  assert.ok(Math.abs(propagationRttMs(1000, 1) - 10.007) < 0.01);
});

geo('SphereIndex k-nearest equals brute force on 5000 random points, incl. poles and the antimeridian', () => {
  let s = 42;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const index = new SphereIndex<number>({ leafCapacity: 8 });
  const points: { lat: number; lon: number }[] = [];
  for (let i = 0; i < 5000; i++) {
    const p = { lat: (Math.asin(2 * rand() - 1) * 180) / Math.PI, lon: rand() * 360 - 180 };
    points.push(p);
    index.insert(p, i);
  }
  // removing half exercises the incremental path
  const entries = points.map((p, i) => ({ p, i }));
  const idx2 = new SphereIndex<number>();
  const handles = entries.map(({ p, i }) => idx2.insert(p, i));
  for (let i = 0; i < handles.length; i += 2) assert.ok(idx2.remove(handles[i]!));
  assert.is(idx2.size, 2500);
  for (const q of [{ lat: 90, lon: 0 }, { lat: -89.9, lon: 12 }, { lat: 0, lon: 180 }, { lat: 0, lon: -180 }, { lat: 33, lon: 44 }]) {
    const want = points.map((p, i) => ({ i, d: greatCircleKm(q, p) })).sort((a, b) => a.d - b.d);
    assert.equal(index.nearest(q, 10).map((n) => n.value), want.slice(0, 10).map((w) => w.i));
    assert.equal(idx2.nearest(q, 5).map((n) => n.value), want.filter((w) => w.i % 2 === 1).slice(0, 5).map((w) => w.i));
    assert.equal(index.nearest(q, 3, { filter: (v) => v % 7 === 0 }).map((n) => n.value), want.filter((w) => w.i % 7 === 0).slice(0, 3).map((w) => w.i));
  }
});

geo('the city table covers 100 cities in 25+ countries', () => {
  assert.ok(CITIES.length >= 100);
  assert.ok(new Set(CITIES.map((c) => c.country)).size >= 25);
});

const locate = suite('discovery locate');

locate('private and loopback IPs are unplaceable; public ones are not', () => {
  for (const ip of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '10.1.2.3', '192.168.0.9', '172.20.0.1', 'fe80::1', 'garbage']) assert.ok(isPrivateIp(ip), ip);
  for (const ip of ['8.8.8.8', '::ffff:1.1.1.1', '2001:4860:4860::8888']) assert.not.ok(isPrivateIp(ip), ip);
});

locate('a client-sent lat/lon wins; loopback falls back to the configured default', async () => {
  const locator = new IpLocator({ defaultLocation: { lat: 1, lon: 2 }, lookup: () => ({ lat: 50, lon: 8 }) });
  assert.equal(await locator.locate('127.0.0.1', { lat: 10, lon: 20 }), { lat: 10, lon: 20, source: 'client' });
  assert.equal(await locator.locate('127.0.0.1'), { lat: 1, lon: 2, source: 'default' });
  assert.equal(await locator.locate('8.8.4.4'), { lat: 50, lon: 8, source: 'geoip' });
  assert.equal(parseLatLon('52.5, 13.4'), { lat: 52.5, lon: 13.4 });
  assert.throws(() => parseLatLon('95,0'), /lat,lon/);
});

locate('geoip-lite places a public address (offline database, no network)', async () => {
  const found = await new IpLocator({ defaultLocation: { lat: -1, lon: -1 } }).locate('8.8.8.8');
  assert.is(found.source, 'geoip');
  assert.ok(Math.abs(found.lat) <= 90 && Math.abs(found.lon) <= 180);
});

const limits = suite('discovery rate limits');

limits('a token bucket allows the burst, then refills at the rate', () => {
  const buckets = new TokenBuckets({ ratePerSecond: 10, burst: 3 });
  assert.equal([0, 1, 2].map(() => buckets.take('ip', 0)), [0, 0, 0]);
  assert.ok(buckets.take('ip', 0) > 0, 'fourth is refused');
  assert.is(buckets.take('other', 0), 0, 'buckets are per key');
  assert.is(buckets.take('ip', 100), 0, 'one token back after 100 ms at 10/s');
});

const rank = suite('discovery ranking');

rank('a node claiming a false location is ranked by what clients measured', async () => {
  const registry = new MemoryRegistry();
  const client = { lat: 48.85, lon: 2.35 };
  await registry.put(record('liar', 48.86, 2.35)); // claims 1 km away; really far
  await registry.put(record('honest', 50.85, 4.35)); // Brussels, ~260 km
  const before = await shortlist(registry, client, {});
  assert.is(before.edge[0]?.node.id, 'liar', 'at first geography decides');
  for (let i = 0; i < 3; i++) await learnFromReports(registry, client, [{ id: 'liar', rttMs: 80 }, { id: 'honest', rttMs: 6 }]);
  const after = await shortlist(registry, client, {});
  assert.equal(after.edge.map((n) => n.node.id), ['honest', 'liar']);
  assert.ok(after.edge[1]!.estimatedRttMs > 70, `liar estimated at ${after.edge[1]!.estimatedRttMs} ms`);
  await registry.close();
});

rank('priceWeight trades RTT for price; the placement pick is the less loaded of two candidates within budget', async () => {
  const registry = new MemoryRegistry();
  const client = { lat: 48.85, lon: 2.35 };
  await registry.put(record('near-pricey', 48.86, 2.35, { pricePerMinute: 0.5 }));
  await registry.put(record('far-cheap', 50.85, 4.35, { pricePerMinute: 0 })); // ~4 ms more RTT
  assert.equal((await shortlist(registry, client, {})).edge.map((n) => n.node.id), ['near-pricey', 'far-cheap']);
  const weighted = await shortlist(registry, client, { priceWeight: 20 }); // 0.5/min is worth 10 ms
  assert.equal(weighted.edge.map((n) => n.node.id), ['far-cheap', 'near-pricey']);
  assert.ok(weighted.edge[0]!.score < weighted.edge[1]!.score);

  await registry.put(record('busy', 48.85, 2.36, { load: 0.8 }));
  await registry.put(record('idle', 48.9, 2.4, { load: 0.1 }));
  await registry.put(record('too-far', 40, 2.4, { load: 0 })); // ~80 ms: never the pick
  const ranked = (await shortlist(registry, client, { budgetMs: 12 })).edge;
  const picks = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const pick = choosePlacement(ranked, 12, { spread: true, random: Math.random });
    picks.add(pick!.node.id);
    assert.ok(pick!.estimatedRttMs <= 12);
  }
  assert.not.ok(picks.has('too-far'));
  assert.not.ok(picks.has('busy'), 'the most loaded candidate in budget never wins a pair');
  const sequence = [0, 0.99]; // first and last in budget: busy (by score first) vs idle
  const inBudget = ranked.filter((r) => r.estimatedRttMs <= 12);
  const pair = choosePlacement(ranked, 12, { spread: true, random: () => sequence.shift()! });
  assert.is(pair?.node.load, Math.min(inBudget[0]!.node.load, inBudget.at(-1)!.node.load));
  assert.is(choosePlacement(ranked, 12, { spread: false, random: Math.random })?.node.id, ranked[0]!.node.id);
  assert.is(choosePlacement(ranked, 0.1, { spread: true, random: Math.random }), undefined, 'nothing within budget: no pick');
  await registry.close();
});

rank('caps, price, free capacity and reputation filter the shortlist; cloud comes back separately', async () => {
  const registry = new MemoryRegistry();
  const at = { lat: 0, lon: 0 };
  await registry.put(record('render-only', 0, 0.01, { caps: ['render'] }));
  await registry.put(record('pricey', 0, 0.02, { pricePerMinute: 5 }));
  await registry.put(record('full', 0, 0.03, { freeCapacity: 0 }));
  await registry.put(record('flaky', 0, 0.04));
  await registry.put(record('good', 0, 0.05));
  await registry.put(record('cloud', 40, 40, { tier: 'cloud' }));
  // unanswered probes are the trust desk's (TrustService.selectable), which the query passes in
  const got = await shortlist(registry, at, { caps: ['infer'], maxPrice: 1, selectable: (id) => id !== 'flaky' }, DEFAULT_RANK_OPTIONS);
  assert.equal(got.edge.map((n) => n.node.id), ['good']);
  assert.equal(got.cloud.map((n) => n.node.id), ['cloud']);
  await registry.close();
});

geo("a region's lower bound is never farther than any point of it (poles, antimeridian, high latitudes)", () => {
  const grid = new RegionGrid(10);
  let s = 11;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  let tight = 0;
  for (let i = 0; i < 20_000; i++) {
    const p = { lat: rand() * 180 - 90, lon: rand() * 360 - 180 };
    // half the targets near p (neighbouring cells, where a loose bound costs fan-out), half anywhere
    const near = rand() < 0.5;
    const q = near
      ? { lat: Math.max(-90, Math.min(90, p.lat + (rand() - 0.5) * 30)), lon: ((p.lon + (rand() - 0.5) * 40 + 540) % 360) - 180 }
      : { lat: rand() * 180 - 90, lon: rand() * 360 - 180 };
    const bound = grid.lowerBoundKm(p, grid.regionOf(q));
    const d = greatCircleKm(p, q);
    assert.ok(bound <= d, `bound ${bound} km > ${d} km from ${JSON.stringify(p)} to ${JSON.stringify(q)}`);
    if (d - bound < 300) tight++;
  }
  assert.ok(tight > 2000, 'and not trivially loose');
  assert.is(grid.lowerBoundKm({ lat: 48.85, lon: 2.35 }, grid.regionOf({ lat: 48.85, lon: 2.35 })), 0);
  assert.is(grid.regionOf({ lat: 0, lon: 180 }), grid.regionOf({ lat: 0, lon: -180 }));
});

identity.run();
geo.run();
locate.run();
limits.run();
rank.run();
