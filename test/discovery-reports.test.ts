/**
 * Reports that cannot frame, over real HTTP: POST /v1/report learns only from reports that carry
 * the ticket of a query answer given to the same client, each shortlisted node once, the ticket
 * once, within the client's per-node cap; probe reputation recovers. Replays the old
 * report-poisoning request and the "tiny rttMs for my own node" promotion.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { DiscoveryLocator } from '../client-sdk/placement/DiscoveryLocator.js';
import { makeNode, makeOperator, trustOf } from './support/discoveryFixtures.js';

const test = suite('discovery reports');

const CLIENT = { lat: 52.52, lon: 13.405 }; // Berlin
const many = { ratePerSecond: 1000, burst: 1000 };

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

/** A discovery with an honest node ~9 km from the client and the attacker's own node ~255 km away (Hamburg). */
async function start(clock: { t: number } = { t: Date.now() }) {
  const acme = makeOperator('acme');
  const server = new DiscoveryServer({
    // long ttl and a clock only the test moves: nothing expires while a busy machine sets up
    registry: new MemoryRegistry({ heartbeatIntervalMs: 3_600_000, now: () => clock.t }),
    admission: { now: () => clock.t },
    operators: trustOf(acme),
    rateLimits: { query: many, report: many, register: many },
    subnetRateLimits: { query: many, report: many, register: many },
    identityRateLimits: { report: many, register: many },
    trust: { reputation: { now: () => clock.t }, tickets: { now: () => clock.t } },
  });
  const { url } = await server.listen();
  for (const [id, lat, lon] of [['honest', 52.6, 13.4], ['liar', 53.55, 9.99]] as const) {
    const reg = await post(url, '/v1/register', makeNode(acme, id, { lat, lon }).registration(clock.t));
    assert.is(reg.status, 200, JSON.stringify(reg.json));
  }
  return { server, url, clock };
}

const query = async (url: string) => (await post(url, '/v1/query', CLIENT)).json;
const ids = (answer: any) => answer.edge.map((c: any) => c.id);

test("the old poisoning request and a tiny rttMs for one's own node change neither selection nor ranking", async () => {
  const { server, url } = await start();
  try {
    const before = await query(url);
    assert.equal(ids(before), ['honest', 'liar']);
    assert.type(before.ticket, 'string');
    const attack = (ticket?: unknown) => ({ ...CLIENT, ...(ticket === undefined ? {} : { ticket }), reports: [{ id: 'honest' }, { id: 'honest' }, { id: 'honest' }, { id: 'honest' }, { id: 'liar', rttMs: 0.01 }] });

    // without a ticket, or with one altered, nothing is learned and the code says why
    const bare = await post(url, '/v1/report', attack());
    assert.is(bare.status, 403);
    assert.is(bare.json.error.code, 'TICKET_FORGED');
    const [body, mac] = (before.ticket as string).split('.');
    const forged = await post(url, '/v1/report', attack(`${body}.${mac!.startsWith('A') ? 'B' : 'A'}${mac!.slice(1)}`));
    assert.is(forged.json.error.code, 'TICKET_FORGED');
    const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), n: ['honest', 'liar', 'other'] })).toString('base64url');
    assert.is((await post(url, '/v1/report', attack(`${widened}.${mac}`))).json.error.code, 'TICKET_FORGED', 'a ticket widened to other nodes');

    // with a real ticket: the four listings count once, the liar's impossible rtt teaches nothing
    const first = await post(url, '/v1/report', attack(before.ticket));
    assert.is(first.status, 200, JSON.stringify(first.json));
    assert.is(first.json.learned, 1, 'the honest node once; the faster-than-light rtt dropped');
    assert.is(server.service.trust.standing('honest').reputation, 0.9 + 0.2 * (0 - 0.9), 'the honest node moved by one report, not four');
    assert.is((await post(url, '/v1/report', attack(before.ticket))).json.learned, 0, 'a ticket is redeemed once');
    // and again and again on fresh tickets: one client's weight on a node is capped
    for (let i = 0; i < 20; i++) await post(url, '/v1/report', attack((await query(url)).ticket));

    const standing = server.service.trust.standing('honest');
    assert.ok(standing.selectable, `honest node at reputation ${standing.reputation}`);
    const after = await query(url);
    assert.equal(ids(after), ['honest', 'liar'], 'the honest node is still shortlisted first; the liar was not promoted');
    assert.is(after.edge[1].estimatedRttMs, before.edge[1].estimatedRttMs);
  } finally {
    await server.close();
  }
});

test('a ticketed report from a real locator teaches base latency; reports on nodes not shortlisted to the client do not', async () => {
  const { server, url } = await start();
  try {
    const locator = new DiscoveryLocator({ url, location: CLIENT });
    const before = await locator.shortlist();
    assert.equal(before.edge.map((c) => c.id), ['honest', 'liar']);
    assert.is(await locator.reportNow([{ id: 'honest', rttMs: 40 }, { id: 'not-shortlisted', rttMs: 1 }]), 1);
    const after = await locator.shortlist();
    assert.equal(after.edge.map((c) => c.id), ['liar', 'honest'], 'the measured 40 ms puts the honest node behind');
    assert.ok(after.edge[1]!.estimatedRttMs! > 35, `learned ${after.edge[1]!.estimatedRttMs} ms`);
  } finally {
    await server.close();
  }
});

test('probe reputation recovers: a node reported down by many clients leaves shortlists, then comes back on its own', async () => {
  const clock = { t: Date.now() };
  const { server, url } = await start(clock);
  try {
    // many clients (only the trust desk sees who: the HTTP client key is the IP, all loopback here)
    const trust = server.service.trust;
    for (let c = 0; c < 10; c++) {
      const client = `198.51.100.${c}`;
      trust.report(trust.ticketFor(client, ['honest']), client, [{ id: 'honest' }]);
    }
    assert.not.ok(trust.selectable('honest'));
    assert.equal(ids(await query(url)), ['liar'], 'a node most clients cannot reach is left out');
    clock.t += 30 * 60_000; // three half-lives
    assert.ok(trust.selectable('honest'), `reputation ${trust.standing('honest').reputation}`);
    assert.equal(ids(await query(url)), ['honest', 'liar'], 'and comes back without anyone vouching for it');
  } finally {
    await server.close();
  }
});

test.run();
