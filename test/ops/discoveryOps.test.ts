import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Socket } from 'node:net';
import { DiscoveryServer } from '../../discovery/DiscoveryServer.js';
import { parsePrometheusText, sampleValue } from '../../bench/lib/prometheusText.js';
import { withTimeout } from '../support/wait.js';

const test = suite('ops: discovery metrics and sockets');

test('discovery /metrics counts HTTP requests by op and status, refusals by code, and nodes by tier', async () => {
  const server = new DiscoveryServer({ rateLimits: { query: { ratePerSecond: 1, burst: 2 } } });
  const { url } = await server.listen();
  for (let i = 0; i < 3; i++) await (await fetch(`${url}/v1/query`, { method: 'POST', body: JSON.stringify({ lat: 52.5, lon: 13.4 }) })).text();
  await (await fetch(`${url}/v1/register`, { method: 'POST', body: '{' })).text();
  const families = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
  assert.is(sampleValue(families, 'discovery_requests_total', { op: 'query', transport: 'http', status: '200' }), 2);
  assert.is(sampleValue(families, 'discovery_requests_total', { op: 'query', status: '429' }), 1);
  assert.is(sampleValue(families, 'discovery_rejected_total', { code: 'RATE_LIMITED' }), 1);
  assert.ok((sampleValue(families, 'discovery_rejected_total', { code: 'BAD_JSON' }) ?? 0) >= 1);
  assert.is(sampleValue(families, 'discovery_nodes', { tier: 'edge' }), 0);
  await server.close();
});

test('discovery reaps silent and slowloris sockets', async () => {
  const server = new DiscoveryServer({ connections: { idleMs: 300 } });
  const { port } = await server.listen();
  const sockets = await Promise.all(
    Array.from({ length: 10 }, () => new Promise<Socket>((resolve, reject) => { const s = connect({ port, host: '127.0.0.1' }, () => resolve(s)); s.once('error', reject); })),
  );
  sockets.forEach((s, i) => (s.on('error', () => {}), i % 2 && s.write('POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{')));
  await withTimeout(Promise.all(sockets.map((s) => new Promise((resolve) => s.once('close', resolve)))), 'every silent socket reaped', 10_000);
  assert.ok(server.connections.stats().reaped >= 10);
  await server.close();
});

test.run();
