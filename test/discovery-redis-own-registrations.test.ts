/**
 * A Redis replica holds the descriptor of every node it registers (RedisRegion.put): its own
 * queries that list such a node make no DESCRIBE round trip, another replica still fetches it once,
 * and the held record is the replica's own, not the caller's object. Counted with Redis's own
 * INFO commandstats (DESCRIBE is the only EVAL a query sends; NEAREST goes as EVALSHA).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisRegistry } from '../discovery/registry/RedisRegistry.js';
import { startRedis, type RedisProcess } from '../bench/lib/redisServer.js';
import { record } from './support/discoveryFixtures.js';
import { withReplicas, type RawRedis } from './support/redisReplicas.js';

const test = suite('discovery redis: own registrations');
let redis: RedisProcess | undefined;

/** EVAL calls Redis has run so far (commandstats). */
async function evalCalls(raw: RawRedis): Promise<number> {
  const info = String(await raw.sendCommand(['INFO', 'commandstats']));
  return Number(/^cmdstat_eval:calls=(\d+)/m.exec(info)?.[1] ?? 0);
}

test('the registering replica answers from its own copy; another fetches the descriptor once', async () => {
  redis = await startRedis();
  await withReplicas(redis.url, 'own:', 1000, async (a, b, raw) => {
    // the first search loads the script (NOSCRIPT, then EVAL): before anything is counted
    await a.nearest({ lat: 0, lon: 0 }, 1, 'edge');
    const p = record('p', 35.68, 139.69, { url: 'wss://p1.example/v1' });
    await a.put(p);
    await a.put(record('q', 35.0, 135.77, { url: 'wss://q1.example/v1' }));
    // the caller's object is not what the replica holds: changing it changes no answer
    p.url = 'wss://changed-by-the-caller.example/v1';
    const urls = async (r: RedisRegistry) => (await r.nearest({ lat: 35.68, lon: 139.7 }, 2, 'edge')).map((n) => n.node.url);

    const before = await evalCalls(raw);
    assert.equal(await urls(a), ['wss://p1.example/v1', 'wss://q1.example/v1']);
    assert.is(await evalCalls(raw), before, 'the registering replica sent no DESCRIBE');

    assert.equal(await urls(b), ['wss://p1.example/v1', 'wss://q1.example/v1']);
    assert.is(await evalCalls(raw), before + 1, 'the other replica fetched both descriptors in one DESCRIBE');
    assert.equal(await urls(b), ['wss://p1.example/v1', 'wss://q1.example/v1']);
    assert.is(await evalCalls(raw), before + 1, 'and held them');

    // a re-registration through b: a no longer holds that version, and fetches it
    await b.put(record('p', 35.681, 139.69, { url: 'wss://p2.example/v1' }));
    const reRegistered = await evalCalls(raw); // b's put runs PLACE as an EVAL
    assert.equal(await urls(a), ['wss://p2.example/v1', 'wss://q1.example/v1']);
    assert.is(await evalCalls(raw), reRegistered + 1, 'a fetched the new registration');
    assert.equal(await urls(b), ['wss://p2.example/v1', 'wss://q1.example/v1']);
    assert.is(await evalCalls(raw), reRegistered + 1, 'b, which registered it, did not');

    // the held record is live: the row's status reaches it
    await a.touch('q', { load: 0.75, freeCapacity: 3 });
    const q = (await a.nearest({ lat: 35.0, lon: 135.77 }, 1, 'edge'))[0]!;
    assert.equal([q.node.id, q.node.load, q.node.freeCapacity], ['q', 0.75, 3]);
  });
});

test.after(async () => {
  await redis?.stop();
});

test.run();
