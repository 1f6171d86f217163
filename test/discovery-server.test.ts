/**
 * DiscoveryServer on real loopback sockets: registration and heartbeats end to end, every
 * rejection kind with its code, hostile bodies, rate limits, the node agent, and a client that
 * queries, probes real session sockets, picks the fastest and teaches discovery.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { request } from 'node:http';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { NodeAgent } from '../discovery/NodeAgent.js';
import { authorizeNode, generateKeyPair, signRegistration } from '../discovery/identity.js';
import { DiscoveryLocator } from '../client-sdk/placement/DiscoveryLocator.js';
import { selectNode } from '../client-sdk/placement/probe.js';
import { connectionPinger } from '../client-sdk/placement/connectionPinger.js';
import type { WebSocketConstructor } from '../client-sdk/index.js';
import { eventually, makeNode, makeOperator, trustOf, type TestOperator } from './support/discoveryFixtures.js';
import { startSessionNode, type SessionNode } from './support/sessionNode.js';

// ttl = 3 heartbeats = 3 s: long enough that nothing expires while a loaded machine is still setting up
const HEARTBEAT_MS = 1000;

interface Ctx {
  server: DiscoveryServer;
  /** The registry's and admission's clock: expiry happens when a test moves it, never while it sets up. */
  clock: { t: number };
  url: string;
  acme: TestOperator;
}

async function call(url: string, path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST'): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
  return { status: res.status, json: await res.json() };
}

const test = suite<Ctx>('discovery server', {} as Ctx);
test.before.each(async (ctx) => {
  ctx.clock = { t: Date.now() };
  const now = () => ctx.clock.t;
  ctx.acme = makeOperator('acme');
  ctx.server = new DiscoveryServer({
    registry: new MemoryRegistry({ heartbeatIntervalMs: HEARTBEAT_MS, now }),
    admission: { now },
    operators: trustOf(ctx.acme),
    rateLimits: { query: { ratePerSecond: 1000, burst: 1000 }, register: { ratePerSecond: 1000, burst: 1000 } },
    maxBodyBytes: 4096,
  });
  ctx.url = (await ctx.server.listen()).url;
});
test.after.each(async ({ server }) => {
  await server.close();
});

test('register → heartbeat → query finds the node; silence for 3 intervals removes it', async ({ url, acme, clock }) => {
  const node = makeNode(acme, 'berlin-1');
  const reg = await call(url, '/v1/register', node.registration());
  assert.is(reg.status, 200, JSON.stringify(reg.json));
  assert.equal(reg.json, { id: 'berlin-1', heartbeatIntervalMs: HEARTBEAT_MS, ttlMs: 3 * HEARTBEAT_MS });
  const hb = await call(url, '/v1/heartbeat', node.heartbeat({ load: 0.4, freeCapacity: 6 }));
  assert.is(hb.status, 200, JSON.stringify(hb.json));
  const q = await call(url, '/v1/query?lat=52.5&lon=13.4');
  assert.is(q.status, 200);
  assert.equal(q.json.location, { lat: 52.5, lon: 13.4, source: 'client' });
  assert.is(q.json.edge[0].id, 'berlin-1');
  assert.is(q.json.edge[0].freeCapacity, 6);
  assert.ok(q.json.edge[0].estimatedRttMs > 0);
  clock.t += 3 * HEARTBEAT_MS - 1;
  assert.is((await call(url, '/v1/query?lat=52.5&lon=13.4')).json.edge.length, 1, 'still there a moment before 3 silent intervals');
  clock.t += 1;
  assert.is((await call(url, '/v1/query?lat=52.5&lon=13.4')).json.edge.length, 0, 'gone after 3 silent intervals');
  const late = await call(url, '/v1/heartbeat', node.heartbeat());
  assert.is(late.json.error.code, 'UNKNOWN_NODE');
});

test('each kind of bad registration is rejected with its own code', async ({ url, acme }) => {
  const node = makeNode(acme, 'n1');
  const stranger = makeOperator('acme'); // same name, key not trusted
  const cases: [string, unknown, string][] = [];
  const unsigned = node.registration();
  delete (unsigned as { signature?: string }).signature;
  cases.push(['unsigned', unsigned, 'UNSIGNED']);
  const tampered = node.registration();
  tampered.descriptor = { ...tampered.descriptor, url: 'ws://127.0.0.1:2/evil' };
  cases.push(['tampered descriptor', tampered, 'BAD_SIGNATURE']);
  const otherKey = generateKeyPair();
  cases.push(['signed by another key', signRegistration(node.descriptor, otherKey.privateKeyPem, node.authorization), 'BAD_SIGNATURE']);
  const noAuth = node.registration();
  delete (noAuth as { authorization?: unknown }).authorization;
  cases.push(['no operator authorisation', noAuth, 'UNAUTHORISED_OPERATOR']);
  cases.push(['untrusted operator key', signRegistration(node.descriptor, node.key.privateKeyPem, authorizeNode(stranger, 'n1', node.key.publicKey)), 'UNAUTHORISED_OPERATOR']);
  cases.push(['authorisation for another node id', signRegistration(node.descriptor, node.key.privateKeyPem, authorizeNode(acme, 'n2', node.key.publicKey)), 'UNAUTHORISED_OPERATOR']);
  const otherOp = makeNode(makeOperator('globex'), 'n3');
  cases.push(['descriptor names another operator', signRegistration({ ...otherOp.descriptor }, otherOp.key.privateKeyPem, authorizeNode(acme, 'n3', otherOp.key.publicKey)), 'UNAUTHORISED_OPERATOR']);
  cases.push(['timestamp too old', node.registration(Date.now() - 10 * 60_000), 'STALE_TIMESTAMP']);
  cases.push(['timestamp in the future', node.registration(Date.now() + 10 * 60_000), 'STALE_TIMESTAMP']);
  cases.push(['missing field', { ...node.registration(), descriptor: { ...node.descriptor, capacity: undefined } }, 'MALFORMED']);
  cases.push(['lat without lon', { ...node.registration(), descriptor: { ...node.descriptor, lon: undefined } }, 'MALFORMED']);
  cases.push(['http url', { ...node.registration(), descriptor: { ...node.descriptor, url: 'http://x' } }, 'MALFORMED']);
  cases.push(['not an object', [1, 2], 'MALFORMED']);
  for (const [what, body, code] of cases) {
    const res = await call(url, '/v1/register', body);
    assert.is(res.json.error?.code, code, `${what}: ${JSON.stringify(res.json)}`);
    assert.ok(res.status >= 400 && res.status < 500, what);
    assert.type(res.json.error.message, 'string');
  }
  const good = node.registration();
  assert.is((await call(url, '/v1/register', good)).status, 200, 'the honest registration still works');
  const replay = await call(url, '/v1/register', good);
  assert.is(replay.json.error?.code, 'REPLAYED_NONCE', 'the same signed registration twice is a replay');
  const hb = node.heartbeat();
  assert.is((await call(url, '/v1/heartbeat', hb)).status, 200);
  assert.is((await call(url, '/v1/heartbeat', hb)).json.error?.code, 'REPLAYED_NONCE', 'heartbeat replay');
  const forged = makeNode(acme, 'n1').heartbeat(); // same id, another key
  assert.is((await call(url, '/v1/heartbeat', forged)).json.error?.code, 'BAD_SIGNATURE', 'heartbeat signed by another key');
  const unsignedHb = node.heartbeat();
  delete (unsignedHb as { signature?: string }).signature;
  assert.is((await call(url, '/v1/heartbeat', unsignedHb)).json.error?.code, 'UNSIGNED');
});

test("a registration carries the node's load (signed, schema-checked): a busy node is ranked busy before any heartbeat", async ({ url, acme }) => {
  const busy = makeNode(acme, 'busy-1');
  const idle = makeNode(acme, 'idle-1', { lat: 52.53 });
  const signed = (n: typeof busy, status?: { load: number; freeCapacity: number }) => signRegistration(n.descriptor, n.key.privateKeyPem, n.authorization, Date.now(), undefined, status);
  // the status is covered by the signature: changed after signing, it does not verify
  const lowered = signed(busy, { load: 0.9, freeCapacity: 1 });
  assert.is((await call(url, '/v1/register', { ...lowered, status: { load: 0, freeCapacity: 1 } })).json.error?.code, 'BAD_SIGNATURE');
  // and checked like a heartbeat's: load in 0…1, free capacity a count
  for (const status of [{ load: 7, freeCapacity: 1 }, { load: 0.5, freeCapacity: -1 }, { load: 0.5 }]) {
    const res = await call(url, '/v1/register', { ...signed(busy), status });
    assert.is(res.json.error?.code, 'MALFORMED', JSON.stringify(status));
  }
  assert.is((await call(url, '/v1/register', signed(busy, { load: 0.9, freeCapacity: 1000 }))).status, 200);
  assert.is((await call(url, '/v1/register', signed(idle))).status, 200, 'a registration without a status is still accepted (idle)');
  const q = await call(url, '/v1/query?lat=52.52&lon=13.405');
  const byId = Object.fromEntries(q.json.edge.map((c: { id: string; load: number; freeCapacity: number }) => [c.id, [c.load, c.freeCapacity]]));
  assert.equal(byId, { 'busy-1': [0.9, 10], 'idle-1': [0, 10] }, 'free capacity capped at the registered capacity');
});

test('another trusted operator cannot take over a live node id (ID_TAKEN); the owner may rotate its key', async ({ acme }) => {
  const globex = makeOperator('globex');
  const server = new DiscoveryServer({ operators: trustOf(acme, globex) });
  const { url } = await server.listen();
  try {
    assert.is((await call(url, '/v1/register', makeNode(acme, 'shared-id').registration())).status, 200);
    const hijack = await call(url, '/v1/register', makeNode(globex, 'shared-id').registration());
    assert.equal([hijack.status, hijack.json.error?.code], [409, 'ID_TAKEN']);
    const rotated = makeNode(acme, 'shared-id');
    assert.is((await call(url, '/v1/register', rotated.registration())).status, 200, 'same operator, new key');
    assert.is((await call(url, '/v1/heartbeat', rotated.heartbeat())).status, 200, 'heartbeats verify against the new key');
  } finally {
    await server.close();
  }
});

test('bad JSON, oversize and unknown routes are refused while the server keeps serving', async ({ url, acme }) => {
  const bad = await call(url, '/v1/register', '{"descriptor": ');
  assert.equal([bad.status, bad.json.error.code], [400, 'BAD_JSON']);
  const empty = await call(url, '/v1/query', '');
  assert.is(empty.json.error.code, 'BAD_JSON');
  const big = await call(url, '/v1/register', JSON.stringify({ pad: 'x'.repeat(10_000) }));
  assert.equal([big.status, big.json.error.code], [413, 'TOO_LARGE']);
  // a chunked body without content-length, cut off by the streaming cap
  const chunked = await new Promise<number>((resolve, reject) => {
    const req = request(url + '/v1/query', { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let i = 0; i < 10; i++) req.write('x'.repeat(1000));
    req.end();
  });
  assert.is(chunked, 413);
  assert.is((await call(url, '/v1/nope')).json.error.code, 'NOT_FOUND');
  assert.is((await call(url, '/v1/register')).json.error.code, 'METHOD_NOT_ALLOWED');
  assert.is((await call(url, '/v1/query?lat=abc&lon=1')).json.error.code, 'MALFORMED');
  assert.is((await call(url, '/v1/query', { lat: 1, lon: 2, caps: ['teleport'] })).json.error.code, 'MALFORMED');
  // still serving
  assert.is((await call(url, '/v1/register', makeNode(acme, 'ok').registration())).status, 200);
  const health = await call(url, '/healthz');
  assert.equal(health.json, { ok: true, backend: 'memory', nodes: { edge: 1, cloud: 0 } });
});

test('the ws endpoint answers each message; garbage gets an error and the socket lives on; oversize closes only that socket', async ({ url, acme }) => {
  const ws = new WebSocket(url.replace('http', 'ws') + '/v1/ws');
  const replies: any[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (d) => {
    replies.push(JSON.parse(d.toString()));
    waiters.shift()?.();
  });
  await new Promise((r) => ws.once('open', r));
  const next = () => new Promise<any>((resolve) => waiters.push(() => resolve(replies.at(-1))));
  const send = (m: unknown) => {
    const p = next();
    ws.send(typeof m === 'string' ? m : JSON.stringify(m));
    return p;
  };
  assert.is((await send('not json')).error.code, 'BAD_JSON');
  assert.is((await send({ op: 'fly' })).error.code, 'MALFORMED');
  const reg = await send({ op: 'register', id: 1, body: makeNode(acme, 'ws-node').registration() });
  assert.equal([reg.id, reg.ok], [1, true]);
  const q = await send({ op: 'query', id: 'q', body: { lat: 52.5, lon: 13.4 } });
  assert.equal(q.result.edge.map((n: any) => n.id), ['ws-node']);
  const other = new WebSocket(url.replace('http', 'ws') + '/v1/ws');
  await new Promise((r) => other.once('open', r));
  const closed = new Promise<number>((r) => other.once('close', (code) => r(code)));
  other.send('x'.repeat(8000));
  assert.is(await closed, 1009, 'oversize message closes that socket with 1009');
  assert.is((await send({ op: 'query', id: 2, body: {} })).ok, true, 'the first socket is unaffected');
  ws.close();
});

test('per-IP rate limits answer 429 RATE_LIMITED', async ({ acme }) => {
  const server = new DiscoveryServer({ operators: trustOf(acme), rateLimits: { query: { ratePerSecond: 1, burst: 3 } } });
  const { url } = await server.listen();
  try {
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await call(url, '/v1/query?lat=0&lon=0')).status);
    assert.equal(codes, [200, 200, 200, 429, 429]);
    const res = await fetch(url + '/v1/query?lat=0&lon=0');
    assert.is(res.headers.get('retry-after'), '1');
    assert.is(((await res.json()) as any).error.code, 'RATE_LIMITED');
  } finally {
    await server.close();
  }
});

test('NodeAgent registers, heartbeats, and re-registers after discovery forgets it', async (ctx) => {
  const { server, url, acme } = ctx;
  const key = generateKeyPair();
  const agent = new NodeAgent({
    discoveryUrl: url,
    descriptor: { id: 'agent-1', url: 'ws://127.0.0.1:1/', tier: 'edge', lat: 1, lon: 1, caps: ['predict'], capacity: 4, pricePerMinute: 0, operator: 'acme' },
    privateKeyPem: key.privateKeyPem,
    authorization: authorizeNode(acme, 'agent-1', key.publicKey),
    status: () => ({ load: 0.25, freeCapacity: 3 }),
  });
  try {
    const registered = new Promise((r) => agent.once('registered', r));
    await agent.start();
    await registered;
    // the registration carried the agent's status: no push needed before discovery ranks it
    assert.equal([(await server.registry.get('agent-1'))?.load, (await server.registry.get('agent-1'))?.freeCapacity], [0.25, 3]);
    await server.registry.remove('agent-1'); // as if discovery restarted
    await new Promise((r) => agent.once('registered', r));
    assert.ok(await server.registry.get('agent-1'), 'registered again on its own');
    agent.close();
    await eventually(() => server.nodeChannels.size === 0, 'discovery saw the channel close');
    const last = server.nodeChannels.lastHeard('agent-1');
    assert.is(last, undefined);
    ctx.clock.t = Date.now() + 3 * HEARTBEAT_MS; // past the ttl of any pong it sent before closing
    assert.is(await server.registry.get('agent-1'), undefined, 'a closed agent stops sending pongs and expires');
  } finally {
    agent.close();
  }
});

test('a client queries, probes real session sockets, picks the lowest RTT within budget, and discovery learns', async ({ url, acme }) => {
  // "near" nodes by claimed location but with real delays on loopback
  const nodes: SessionNode[] = [];
  try {
    const specs = [
      // 400 ms: the winner's pings finish long before it even on a loaded machine, so it is cut off
      { id: 'claims-closest', delay: 400, lat: 52.52, lon: 13.41 },
      { id: 'honest-near', delay: 3, lat: 52.3, lon: 13.0 },
      { id: 'slow', delay: 25, lat: 52.0, lon: 13.0 },
    ];
    for (const s of specs) {
      const registered = makeNode(acme, s.id, { lat: s.lat, lon: s.lon });
      const session = await startSessionNode(s.id, s.delay, { privateKeyPem: registered.key.privateKeyPem });
      nodes.push(session);
      registered.descriptor.url = session.url;
      const reg = await call(url, '/v1/register', registered.registration());
      assert.is(reg.status, 200);
    }
    const cloudNode = makeNode(acme, 'cloud-1', { tier: 'cloud', lat: 40, lon: -100 });
    const cloud = await startSessionNode('cloud', 0, { privateKeyPem: cloudNode.key.privateKeyPem });
    nodes.push(cloud);
    cloudNode.descriptor.url = cloud.url;
    await call(url, '/v1/register', cloudNode.registration());

    const locator = new DiscoveryLocator({ url, location: { lat: 52.52, lon: 13.405 } });
    const first = await locator.shortlist();
    assert.is(first.edge[0]?.id, 'claims-closest', 'before any report, geography ranks the liar first');
    assert.equal(first.cloud.map((c) => c.id), ['cloud-1']);

    const open = connectionPinger({ WebSocket: WebSocket as unknown as WebSocketConstructor });
    const selection = await selectNode(locator, open, { pings: 4, pingTimeoutMs: 500, budgetMs: 20 });
    assert.is(selection.chosen?.candidate.id, 'honest-near');
    assert.is(selection.tier, 'edge');
    assert.is(selection.edge.length, 3);
    assert.is(selection.chosen!.samples.length, 3, 'first ping discarded');
    const liar = selection.edge.find((r) => r.candidate.id === 'claims-closest')!;
    // the liar is still on its first 400 ms ping when the winner has finished twice over: cut off,
    // with the time its ping has been outstanding as a lower bound
    assert.ok(liar.cutOff, 'a straggler is cut off instead of waited for');
    const winner = selection.chosen!.rttMs!;
    assert.ok(liar.rttMs! >= 2 * winner, `liar bounded at ${liar.rttMs} ms, winner ${winner} ms`);
    // how fast it decides is a timing claim, measured by `npm run bench -- discovery`, not asserted here

    // make sure a report landed: selectNode's went fire-and-forget on its shortlist's ticket, redeemed once
    await locator.shortlist();
    assert.is(await locator.reportNow([{ id: 'claims-closest', rttMs: liar.rttMs! }]), 1);
    const after = await locator.shortlist();
    assert.is(after.edge[0]?.id, 'honest-near', 'after reports the liar is ranked by measured RTT');
    assert.ok(after.edge.find((c) => c.id === 'claims-closest')!.estimatedRttMs! > after.edge[0]!.estimatedRttMs!);

    // nothing within a 1 ms budget: fall back to the cloud
    const fallback = await selectNode(locator, open, { pings: 3, budgetMs: 1 });
    assert.is(fallback.tier, 'cloud');
    assert.is(fallback.chosen?.candidate.id, 'cloud-1');
  } finally {
    for (const n of nodes) await n.close();
  }
});

test('a dead node in the shortlist times out its probe without delaying the pick', async ({ url, acme }) => {
  const aliveNode = makeNode(acme, 'alive');
  const alive = await startSessionNode('alive', 0, { privateKeyPem: aliveNode.key.privateKeyPem });
  try {
    aliveNode.descriptor.url = alive.url;
    await call(url, '/v1/register', aliveNode.registration());
    await call(url, '/v1/register', makeNode(acme, 'dead', { url: 'ws://127.0.0.1:9/', lat: 52.52, lon: 13.405 }).registration());
    const locator = new DiscoveryLocator({ url, location: { lat: 52.52, lon: 13.405 } });
    const open = connectionPinger({ WebSocket: WebSocket as unknown as WebSocketConstructor });
    const selection = await selectNode(locator, open, { pings: 3, connectTimeoutMs: 500 });
    assert.is(selection.chosen?.candidate.id, 'alive');
    const dead = selection.edge.find((r) => r.candidate.id === 'dead')!;
    assert.is(dead.rttMs, undefined);
    assert.ok(dead.error);
  } finally {
    await alive.close();
  }
});

test.run();
