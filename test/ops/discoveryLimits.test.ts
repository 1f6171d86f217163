/**
 * Issue #15, attack 8, re-run: discovery's limits hold per subnet and per proven identity, not
 * only per address, and still let a NAT's worth of honest clients query from one address.
 * Real server on loopback; each client binds its own 127.0.0.x source address (Linux routes the
 * whole 127/8 to lo). Default limits throughout: these are the numbers an operator gets.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Agent, request } from 'node:http';
import { DiscoveryServer } from '../../discovery/DiscoveryServer.js';
import { DEFAULT_ADDRESS_LIMITS, DEFAULT_IDENTITY_LIMITS, DEFAULT_SUBNET_LIMITS } from '../../discovery/clientLimits.js';
import { subnetKey, addressKey } from '../../protocol/server/addressKey.js';
import { makeNode, makeOperator, trustOf, type TestOperator } from '../support/discoveryFixtures.js';

interface Answer {
  status: number;
  code?: string;
}

const agents = new Map<string, Agent>();
function post(url: string, path: string, body: unknown, localAddress: string): Promise<Answer> {
  const { hostname, port } = new URL(url);
  let agent = agents.get(localAddress);
  if (!agent) agents.set(localAddress, (agent = new Agent({ keepAlive: true, maxSockets: 8, localAddress } as ConstructorParameters<typeof Agent>[0])));
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port: Number(port), path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': data.byteLength } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const json = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { error?: { code?: string } };
        resolve({ status: res.statusCode ?? 0, ...(json.error?.code ? { code: json.error.code } : {}) });
      });
    });
    req.once('error', reject);
    req.end(data);
  });
}

const tally = (answers: Answer[]) => answers.reduce<Record<string, number>>((t, a) => ((t[a.code ?? String(a.status)] = (t[a.code ?? String(a.status)] ?? 0) + 1), t), {});

interface Ctx {
  server: DiscoveryServer;
  url: string;
  acme: TestOperator;
}
const test = suite<Ctx>('ops: attack 8, discovery limits per subnet and identity', {} as Ctx);

test.before.each(async (ctx) => {
  ctx.acme = makeOperator('acme');
  ctx.server = new DiscoveryServer({ operators: trustOf(ctx.acme) });
  ctx.url = (await ctx.server.listen()).url;
});
test.after.each(async (ctx) => {
  for (const a of agents.values()) a.destroy();
  agents.clear();
  await ctx.server.close();
});

/**
 * The same server with the defaults' bursts and no refill: what a burst lets through does not then
 * depend on how fast a busy machine sends it.
 */
async function frozen(ctx: Ctx): Promise<string> {
  await ctx.server.close();
  const still = 1e-6;
  ctx.server = new DiscoveryServer({
    operators: trustOf(ctx.acme),
    rateLimits: { query: { ratePerSecond: still, burst: DEFAULT_ADDRESS_LIMITS.query.burst } },
    subnetRateLimits: { query: { ratePerSecond: still, burst: DEFAULT_SUBNET_LIMITS.query.burst } },
  });
  return (ctx.url = (await ctx.server.listen()).url);
}

test('subnet and address keys: a /24 of IPv4, a /56 of IPv6, mapped addresses as IPv4', () => {
  assert.is(subnetKey('127.0.0.2'), subnetKey('127.0.0.21'));
  assert.is.not(subnetKey('10.0.1.2'), subnetKey('10.0.2.2'));
  assert.is(subnetKey('::ffff:10.0.1.2'), '10.0.1.0/24');
  assert.is(subnetKey('2001:db8:1:2a00::1'), subnetKey('2001:db8:1:2aff:ffff::1'));
  assert.is.not(subnetKey('2001:db8:1:2a00::1'), subnetKey('2001:db8:1:2b00::1'));
  assert.is.not(addressKey('2001:db8:1:2a00::1'), addressKey('2001:db8:1:2a01::1'));
});

test('20 loopback addresses × 20 registrations of fresh nodes: the /24 gets its burst, the rest SUBNET_RATE_LIMITED', async ({ url, acme }) => {
  const nodes = Array.from({ length: 400 }, (_, i) => makeNode(acme, `n${i}`));
  const started = performance.now();
  const answers = await Promise.all(nodes.map((node, i) => post(url, '/v1/register', node.registration(), `127.0.0.${2 + (i % 20)}`)));
  const elapsedS = (performance.now() - started) / 1000;
  const t = tally(answers);
  const accepted = t['200'] ?? 0;
  // the subnet's burst plus what refilled while the attack ran: an exact bound, not a timing guess
  const bound = DEFAULT_SUBNET_LIMITS.register.burst + Math.ceil(DEFAULT_SUBNET_LIMITS.register.ratePerSecond * elapsedS) + 1;
  assert.ok(accepted <= bound, `${accepted} registrations accepted (bound ${bound}): ${JSON.stringify(t)}`);
  assert.ok(accepted >= DEFAULT_SUBNET_LIMITS.register.burst, `the burst itself is served: ${JSON.stringify(t)}`);
  assert.ok((t.SUBNET_RATE_LIMITED ?? 0) >= 400 - bound, JSON.stringify(t));
  assert.ok(answers.filter((a) => a.status !== 200).every((a) => a.status === 429), JSON.stringify(t));
});

test('one node key re-registering from 20 addresses of different subnets: KEY_RATE_LIMITED past its burst', async ({ url, acme }) => {
  const node = makeNode(acme, 'roamer');
  const started = performance.now();
  const answers: Answer[] = [];
  // one /24 each (127.0.N.2), so neither the address nor the subnet limit is what stops it
  for (let i = 0; i < 20; i++) answers.push(await post(url, '/v1/register', node.registration(), `127.0.${i + 1}.2`));
  const elapsedS = (performance.now() - started) / 1000;
  const t = tally(answers);
  const bound = DEFAULT_IDENTITY_LIMITS.register.burst + Math.ceil(DEFAULT_IDENTITY_LIMITS.register.ratePerSecond * elapsedS);
  assert.ok((t['200'] ?? 0) <= bound && (t['200'] ?? 0) >= DEFAULT_IDENTITY_LIMITS.register.burst, JSON.stringify(t));
  assert.is(t['200']! + (t.KEY_RATE_LIMITED ?? 0), 20, JSON.stringify(t));
  // another node (another key) from the same addresses is not affected
  assert.is((await post(url, '/v1/register', makeNode(acme, 'other').registration(), '127.0.1.2')).status, 200);
});

test("a replayed or forged registration does not spend the node key's tokens", async ({ url, acme }) => {
  const node = makeNode(acme, 'victim');
  const captured = node.registration();
  assert.is((await post(url, '/v1/register', captured, '127.0.0.2')).status, 200);
  // the attacker replays the captured registration many times, from many subnets
  const replays = await Promise.all(Array.from({ length: 20 }, (_, i) => post(url, '/v1/register', captured, `127.0.${i + 1}.3`)));
  assert.equal(tally(replays), { REPLAYED_NONCE: 20 });
  // the node itself still registers
  assert.is((await post(url, '/v1/register', node.registration(), '127.0.0.2')).status, 200);
});

test('a NAT: 400 honest queries at once from one address all get through; a flooding address is stopped, its /24 neighbour is not', async (ctx) => {
  const url = await frozen(ctx);
  const nat = await Promise.all(Array.from({ length: 400 }, (_, i) => post(url, '/v1/query', { lat: 52.5 + i * 1e-4, lon: 13.4 }, '127.0.5.2')));
  assert.equal(tally(nat), { 200: 400 });
  const flood = await Promise.all(Array.from({ length: DEFAULT_ADDRESS_LIMITS.query.burst * 2 }, () => post(url, '/v1/query', { lat: 1, lon: 1 }, '127.0.6.2')));
  const t = tally(flood);
  assert.equal(t, { 200: DEFAULT_ADDRESS_LIMITS.query.burst, RATE_LIMITED: DEFAULT_ADDRESS_LIMITS.query.burst });
  const neighbour = await Promise.all(Array.from({ length: 100 }, () => post(url, '/v1/query', { lat: 1, lon: 1 }, '127.0.6.3')));
  assert.equal(tally(neighbour), { 200: 100 });
});

test('a host walking the addresses of its /24 is one client: SUBNET_RATE_LIMITED on queries too', async (ctx) => {
  const url = await frozen(ctx);
  const perAddress = 100;
  const addresses = Math.ceil((DEFAULT_SUBNET_LIMITS.query.burst * 1.5) / perAddress);
  const answers = (await Promise.all(Array.from({ length: addresses }, (_, a) => Promise.all(Array.from({ length: perAddress }, () => post(url, '/v1/query', { lat: 1, lon: 1 }, `127.0.7.${2 + a}`)))))).flat();
  const t = tally(answers);
  assert.equal(t, { 200: DEFAULT_SUBNET_LIMITS.query.burst, SUBNET_RATE_LIMITED: addresses * perAddress - DEFAULT_SUBNET_LIMITS.query.burst }, 'no single address went over its own limit');
});

test.run();
