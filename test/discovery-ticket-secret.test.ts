/**
 * Replicas share the report-ticket secret (`--ticket-secret-file` / EDGE_OFFLOAD_TICKET_SECRET):
 * a ticket one replica issued is redeemed at another; with secrets of their own it is refused.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DiscoveryServer } from '../discovery/DiscoveryServer.js';
import { MemoryRegistry } from '../discovery/registry/MemoryRegistry.js';
import { loadTicketSecret } from '../discovery/tickets.js';
import { makeNode, makeOperator, trustOf } from './support/discoveryFixtures.js';

const test = suite('discovery-ticket-secret');
const dir = mkdtempSync(path.join(tmpdir(), 'eo-ticket-'));
const CLIENT = { lat: 52.52, lon: 13.405 };
const BIN = new URL('../bin/edge-offload.js', import.meta.url).pathname;

async function post(url: string, p: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(url + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

test('the secret comes from the file (base64 or hex), else the env var, else none; short or unreadable ones are refused', () => {
  const key = randomBytes(32);
  const b64 = path.join(dir, 'b64');
  writeFileSync(b64, key.toString('base64') + '\n');
  const hex = path.join(dir, 'hex');
  writeFileSync(hex, key.toString('hex'));
  assert.equal(Buffer.from(loadTicketSecret(b64, {})!), key);
  assert.equal(Buffer.from(loadTicketSecret(hex, {})!), key);
  assert.equal(Buffer.from(loadTicketSecret(undefined, { EDGE_OFFLOAD_TICKET_SECRET: key.toString('base64url') })!), key);
  assert.is(loadTicketSecret(undefined, {}), undefined);
  const short = path.join(dir, 'short');
  writeFileSync(short, randomBytes(16).toString('base64'));
  assert.throws(() => loadTicketSecret(short, {}), TypeError);
  assert.throws(() => loadTicketSecret(path.join(dir, 'missing'), {}), TypeError);
  // the CLI refuses to start on it, with a non-zero exit rather than a random secret
  const run = spawnSync(process.execPath, [BIN, 'discovery', '--port', '0', '--ticket-secret-file', short], { encoding: 'utf8', timeout: 60_000 });
  assert.is.not(run.status, 0);
  assert.is.not(run.status, null);
});

test('a ticket from one replica is redeemed at another that shares the secret, and refused by one that does not', async () => {
  const acme = makeOperator('acme');
  const shared = loadTicketSecret(undefined, { EDGE_OFFLOAD_TICKET_SECRET: randomBytes(32).toString('base64') })!;
  const replica = async (secret?: Uint8Array) => {
    const server = new DiscoveryServer({
      registry: new MemoryRegistry({ heartbeatIntervalMs: 3_600_000 }),
      operators: trustOf(acme),
      ...(secret ? { trust: { tickets: { secret } } } : {}),
    });
    const { url } = await server.listen();
    const node = makeNode(acme, 'n1', { lat: 52.6, lon: 13.4 });
    assert.is((await post(url, '/v1/register', node.registration())).status, 200);
    return { server, url };
  };
  const a = await replica(shared);
  const b = await replica(shared);
  const other = await replica();
  try {
    const { ticket } = (await post(a.url, '/v1/query', CLIENT)).json;
    const atOther = await post(other.url, '/v1/report', { ...CLIENT, ticket, reports: [{ id: 'n1' }] });
    assert.is(atOther.status, 403);
    assert.is(atOther.json.error.code, 'TICKET_FORGED');
    const atB = await post(b.url, '/v1/report', { ...CLIENT, ticket, reports: [{ id: 'n1' }] });
    assert.is(atB.status, 200, JSON.stringify(atB.json));
    assert.is(atB.json.learned, 1);
  } finally {
    await Promise.all([a.server.close(), b.server.close(), other.server.close()]);
  }
});

test.run();
