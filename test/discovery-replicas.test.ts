/**
 * Two discovery replicas (DiscoveryServer processes' worth of state) over one real Redis:
 * what one admits, learns or expires, the other sees the same way.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { RedisRegistry } from '../discovery/registry/RedisRegistry.js';
import { makeNode, makeOperator, trustOf } from './support/discoveryFixtures.js';
import { startRedis, type RedisProcess } from '../bench/lib/redisServer.js';
import { withTimeout } from './support/wait.js';

// ttl = 3 heartbeats = 3 s: long enough that nothing expires while a loaded machine is still setting up
const HEARTBEAT_MS = 1000;

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const test = suite('discovery replicas over one Redis');
let redis: RedisProcess;
test.before(async () => {
  redis = await startRedis();
});
test.after(async () => {
  await redis.stop();
});

test('two replicas agree on registrations, heartbeats, replays, learned latency and expiry', async () => {
  const acme = makeOperator('acme');
  // both replicas' clock: nodes expire when the test moves it, never while a slow machine sets up
  const clock = { t: Date.now() };
  const now = () => clock.t;
  const replica = async () => {
    const server = new DiscoveryServer({
      registry: await RedisRegistry.connect({ url: redis.url, heartbeatIntervalMs: HEARTBEAT_MS, prefix: 'rep:', now }),
      operators: trustOf(acme),
      admission: { now },
    });
    return { server, url: (await server.listen()).url };
  };
  const a = await replica();
  const b = await replica();
  try {
    const tokyo = makeNode(acme, 'tokyo-1', { lat: 35.68, lon: 139.69 });
    const osaka = makeNode(acme, 'osaka-1', { lat: 34.69, lon: 135.5 });
    const regTokyo = tokyo.registration();
    assert.is((await post(a.url, '/v1/register', regTokyo)).status, 200);
    assert.is((await post(b.url, '/v1/register', osaka.registration())).status, 200);
    assert.is((await post(b.url, '/v1/register', regTokyo)).json.error?.code, 'REPLAYED_NONCE', 'a registration admitted by A is a replay at B');
    assert.is((await post(b.url, '/v1/heartbeat', tokyo.heartbeat({ load: 0.3, freeCapacity: 7 }))).status, 200, 'B verifies a node A registered');

    const query = { lat: 35.6, lon: 139.7 };
    const [qa, qb] = await Promise.all([post(a.url, '/v1/query', query), post(b.url, '/v1/query', query)]);
    assert.equal(qa.json.edge, qb.json.edge, 'same shortlist from both replicas');
    assert.equal(qa.json.edge.map((n: any) => n.id), ['tokyo-1', 'osaka-1']);
    assert.is(qa.json.edge[0].freeCapacity, 7);

    // clients of A measured tokyo-1 as slow; B ranks it by that too
    // (each batch on a fresh query's ticket: one client counts twice per node per window)
    for (let i = 0; i < 2; i++) {
      const { ticket } = (await post(a.url, '/v1/query', query)).json;
      await post(a.url, '/v1/report', { ...query, ticket, reports: [{ id: 'tokyo-1', rttMs: 60 }, { id: 'osaka-1', rttMs: 9 }] });
    }
    const learned = await post(b.url, '/v1/query', query);
    assert.equal(learned.json.edge.map((n: any) => n.id), ['osaka-1', 'tokyo-1']);

    // tokyo-1 last heartbeat at t0; osaka-1 beats once more just before tokyo-1's ttl runs out
    const t0 = clock.t;
    clock.t = t0 + 3 * HEARTBEAT_MS - 50;
    assert.is((await post(a.url, '/v1/heartbeat', osaka.heartbeat())).status, 200);
    clock.t = t0 + 3 * HEARTBEAT_MS;
    const [x, y] = await Promise.all([post(a.url, '/v1/query', query), post(b.url, '/v1/query', query)]);
    assert.equal([x.json.edge.map((n: any) => n.id), y.json.edge.map((n: any) => n.id)], [['osaka-1'], ['osaka-1']], 'the silent node left both replicas, the heartbeating one stays');
  } finally {
    await a.server.close();
    await b.server.close();
  }
});

test('when Redis goes away a replica answers 503 UNAVAILABLE at once instead of hanging', async () => {
  const own = await startRedis();
  const server = new DiscoveryServer({ registry: await RedisRegistry.connect({ url: own.url }), operators: trustOf(makeOperator()) });
  const { url } = await server.listen();
  try {
    assert.is((await fetch(url + '/v1/query?lat=1&lon=1')).status, 200);
    await own.stop();
    // "at once": without the offline-queue cut-off the query would wait for Redis forever; the
    // timeout only catches that hang (how fast it fails is not a test's business on a busy machine)
    const res = await withTimeout(post(url, '/v1/query', { lat: 1, lon: 1 }), 'a 503 while Redis is down');
    assert.equal([res.status, res.json.error.code], [503, 'UNAVAILABLE']);
    assert.is((await fetch(url + '/healthz')).status, 503);
  } finally {
    await server.close();
    await own.stop();
  }
});

test.run();
