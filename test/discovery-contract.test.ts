/**
 * The discovery contract (protocol/discovery.ts) from the client's side: the locator treats what
 * discovery answers as untrusted peer input. A real HTTP server on loopback plays a discovery
 * that answers wrongly (bad shapes, hostile values, oversize bodies, refusals without a code),
 * and a real DiscoveryServer checks that the genuine answers pass the same schemas.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DiscoveryLocator, DiscoveryRequestError } from '../client-sdk/placement/DiscoveryLocator.js';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { DEFAULT_LIMITS } from '../protocol/index.js';
import { DiscoveryRoute, healthAnswerSchema, queryAnswerSchema, registerAnswerSchema } from '../protocol/discovery.js';
import { makeNode, makeOperator, trustOf } from './support/discoveryFixtures.js';

const candidate = {
  id: 'n1',
  url: 'ws://127.0.0.1:1/n1',
  tier: 'edge',
  caps: ['predict'],
  estimatedRttMs: 4.2,
  distanceKm: 10,
  pricePerMinute: 0.01,
  freeCapacity: 3,
  load: 0.2,
};
const goodAnswer = { location: { lat: 1, lon: 2, source: 'client' }, edge: [candidate], cloud: [] };

/** A "discovery" that answers whatever the test sets, over a real socket. */
interface Ctx {
  server: Server;
  url: string;
  reply: { status: number; body: string; headers?: Record<string, string> };
}

const test = suite<Ctx>('discovery contract: the locator validates answers', {} as Ctx);
test.before.each(async (ctx) => {
  ctx.reply = { status: 200, body: JSON.stringify(goodAnswer) };
  ctx.server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(ctx.reply.status, { 'content-type': 'application/json', ...ctx.reply.headers });
      res.end(ctx.reply.body);
    });
  });
  await new Promise<void>((resolve) => ctx.server.listen(0, '127.0.0.1', resolve));
  ctx.url = `http://127.0.0.1:${(ctx.server.address() as AddressInfo).port}`;
});
test.after.each(async ({ server }) => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, DiscoveryRequestError);
    return (err as DiscoveryRequestError).code;
  }
  throw new Error('expected a DiscoveryRequestError');
}

test('a well-formed answer becomes candidates carrying only the fields the contract names', async (ctx) => {
  ctx.reply.body = JSON.stringify({ ...goodAnswer, edge: [{ ...candidate, extra: 'dropped' }] });
  const list = await new DiscoveryLocator({ url: ctx.url }).shortlist();
  assert.equal(list.edge, [{ id: 'n1', url: 'ws://127.0.0.1:1/n1', tier: 'edge', estimatedRttMs: 4.2, caps: ['predict'] }]);
  assert.equal(list.cloud, []);
});

test('answers that break the contract are refused with BAD_ANSWER', async (ctx) => {
  const locator = new DiscoveryLocator({ url: ctx.url });
  const broken = [
    'not json',
    JSON.stringify({ edge: [candidate] }), // no location, no cloud
    JSON.stringify({ ...goodAnswer, edge: [{ ...candidate, url: 'javascript:alert(1)' }] }),
    JSON.stringify({ ...goodAnswer, edge: [{ ...candidate, tier: 'mars' }] }),
    JSON.stringify({ ...goodAnswer, edge: [{ ...candidate, estimatedRttMs: -1 }] }),
    JSON.stringify({ ...goodAnswer, edge: [{ ...candidate, caps: ['teleport'] }] }),
    JSON.stringify({ ...goodAnswer, edge: [{ ...candidate, id: 'x'.repeat(500) }] }),
    JSON.stringify({ ...goodAnswer, edge: new Array(65).fill(candidate) }),
    JSON.stringify([goodAnswer]),
  ];
  for (const body of broken) {
    ctx.reply.body = body;
    assert.is(await codeOf(locator.shortlist()), 'BAD_ANSWER', body.slice(0, 80));
  }
  ctx.reply.body = JSON.stringify({ learned: -3 });
  assert.is(await codeOf(locator.reportNow([{ id: 'n1', rttMs: 3 }])), 'BAD_ANSWER');
});

test('an answer over maxAnswerBytes is refused, declared or streamed', async (ctx) => {
  const locator = new DiscoveryLocator({ url: ctx.url, maxAnswerBytes: 1024 });
  ctx.reply.body = JSON.stringify({ ...goodAnswer, pad: 'x'.repeat(4096) });
  assert.is(await codeOf(locator.shortlist()), 'BAD_ANSWER', 'content-length over the cap');
  ctx.reply.headers = { 'transfer-encoding': 'chunked' };
  assert.is(await codeOf(locator.shortlist()), 'BAD_ANSWER', 'chunked, no length');
});

test('refusals carry discovery\'s code; a refusal without a valid error body gets HTTP_<status>', async (ctx) => {
  const locator = new DiscoveryLocator({ url: ctx.url });
  ctx.reply = { status: 429, body: JSON.stringify({ error: { code: 'RATE_LIMITED', message: 'slow down' } }) };
  assert.is(await codeOf(locator.shortlist()), 'RATE_LIMITED');
  ctx.reply = { status: 503, body: '<html>bad gateway</html>' };
  assert.is(await codeOf(locator.shortlist()), 'HTTP_503');
  ctx.reply = { status: 500, body: JSON.stringify({ error: { code: 42 } }) };
  assert.is(await codeOf(locator.shortlist()), 'HTTP_500');
});

const real = suite('discovery contract: the server answers what the contract says');
real('register, query and health answers parse with the contract schemas', async () => {
  const acme = makeOperator('acme');
  const server = new DiscoveryServer({ registry: new MemoryRegistry({ heartbeatIntervalMs: 60_000 }), operators: trustOf(acme) });
  const { url } = await server.listen();
  try {
    const post = async (path: string, body: unknown) => (await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
    registerAnswerSchema.parse(await post(DiscoveryRoute.register, makeNode(acme, 'e1').registration()), 'register', DEFAULT_LIMITS);
    await post(DiscoveryRoute.register, makeNode(acme, 'c1', { tier: 'cloud', lat: 40, lon: -100 }).registration());
    const answer = queryAnswerSchema.parse(await post(DiscoveryRoute.query, { lat: 52.5, lon: 13.4 }), 'query', DEFAULT_LIMITS);
    assert.equal([answer.edge.map((c) => c.id), answer.cloud.map((c) => c.id)], [['e1'], ['c1']]);
    const health = healthAnswerSchema.parse(await (await fetch(url + DiscoveryRoute.health)).json(), 'health', DEFAULT_LIMITS);
    assert.equal(health.nodes, { edge: 1, cloud: 1 });
    const list = await new DiscoveryLocator({ url, location: { lat: 52.5, lon: 13.4 } }).shortlist();
    assert.equal(list.edge.map((c) => c.id), ['e1']);
    assert.is(list.pick, 'e1', 'the placement pick comes through');
    // the locator's options reach the query: a render-less node, a pricey one, and a far one
    await post(DiscoveryRoute.register, makeNode(acme, 'e2', { caps: ['predict'], lat: 52.51 }).registration());
    await post(DiscoveryRoute.register, makeNode(acme, 'e3', { pricePerMinute: 5, lat: 52.49 }).registration());
    const picky = new DiscoveryLocator({ url, location: { lat: 52.5, lon: 13.4 }, caps: ['render'], maxPrice: 1 });
    assert.equal((await picky.shortlist({ caps: ['infer'] })).edge.map((c) => c.id), ['e1']);
    const cheap = new DiscoveryLocator({ url, location: { lat: 52.5, lon: 13.4 }, priceWeight: 1000, budgetMs: 0.001 });
    const ranked = await cheap.shortlist();
    assert.is(ranked.edge.at(-1)?.id, 'e3', 'priceWeight puts the pricey node last');
    assert.is(ranked.pick, undefined, 'nothing within a 1 µs budget: no pick');
  } finally {
    await server.close();
  }
});

test.run();
real.run();
