/**
 * What a web page needs from the servers, over real sockets: CORS on discovery's client endpoints
 * and the edge's /healthz (preflight included), https/wss with a certificate the test makes, and
 * discovery handing out the wss:// URL of a TLS node.
 */
import { request as httpsRequest } from 'node:https';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { DiscoveryServer } from '../discovery/index.js';
import { EdgeServer } from '../edge-server/index.js';
import { DiscoveryPlacement } from '../bin/demo/DiscoveryPlacement.js';
import { parseCorsOrigins, WebAccessError } from '../protocol/server/webAccess.js';
import { makeSelfSignedCertificate } from './support/tls.js';
import { buildClientBundle } from '../bench/lib/staticServer.js';

const test = suite('web access: CORS and TLS');

async function call(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

/** The status, with the body read (an unread one keeps its socket open past the test). */
async function statusOf(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

test('discovery answers CORS on the client endpoints for any origin by default, never on register', async () => {
  const server = new DiscoveryServer();
  const { url } = await server.listen();
  try {
    const origin = 'https://app.example:8443';
    const preflight = await call(`${url}/v1/query`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    assert.is(preflight.status, 204);
    assert.is(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /content-type/);
    const query = await call(`${url}/v1/query`, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: '{}' });
    assert.is(query.status, 200);
    assert.is(query.headers.get('access-control-allow-origin'), '*');
    const register = await call(`${url}/v1/register`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    assert.is(register.status, 405);
    assert.is(register.headers.get('access-control-allow-origin'), null);
  } finally {
    await server.close();
  }
});

test('discovery with configured origins allows those and refuses the preflight of others', async () => {
  const allowed = 'https://localhost:4443';
  const server = new DiscoveryServer({ corsOrigins: [allowed] });
  const { url } = await server.listen();
  try {
    const ok = await call(`${url}/v1/report`, { method: 'OPTIONS', headers: { origin: allowed, 'access-control-request-method': 'POST' } });
    assert.is(ok.status, 204);
    assert.is(ok.headers.get('access-control-allow-origin'), allowed);
    assert.match(ok.headers.get('vary') ?? '', /origin/i);
    const refused = await call(`${url}/v1/query`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.is(refused.status, 403);
    assert.is((refused.body as { error: { code: string } }).error.code, 'CORS_ORIGIN_REFUSED');
    const plain = await call(`${url}/healthz`, { headers: { origin: 'https://evil.example' } });
    assert.is(plain.status, 200);
    assert.is(plain.headers.get('access-control-allow-origin'), null, 'no CORS header: the browser keeps the answer from that page');
  } finally {
    await server.close();
  }
});

test('--cors-origin values are checked', () => {
  assert.equal(parseCorsOrigins(['https://a.example,https://b.example:8443']), ['https://a.example', 'https://b.example:8443']);
  assert.equal(parseCorsOrigins(['none']), []);
  assert.equal(parseCorsOrigins(['*']), ['*']);
  for (const bad of ['a.example', 'https://a.example/path']) {
    try {
      parseCorsOrigins([bad]);
      assert.unreachable(`'${bad}' was accepted`);
    } catch (err) {
      assert.instance(err, WebAccessError);
      assert.is((err as WebAccessError).code, 'CORS_CONFIG');
    }
  }
});

test('with a certificate, discovery serves https, the edge serves wss, and discovery hands out the wss:// URL', async () => {
  const certificate = makeSelfSignedCertificate();
  const tls = { cert: certificate.cert, key: certificate.key };
  const discovery = new DiscoveryServer({ tls });
  const edge = new EdgeServer({ nodeId: 'tls-edge', tls, corsOrigins: ['https://localhost:4443'] });
  const placement = await DiscoveryPlacement.start();
  try {
    const { url: discoveryUrl } = await discovery.listen();
    assert.match(discoveryUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(`${discoveryUrl}/healthz`, { ca: certificate.cert, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.is(health.status, 200);
    assert.is(JSON.parse(health.body).ok, true);

    const { url: edgeUrl } = await edge.listen();
    assert.match(edgeUrl, /^wss:\/\/127\.0\.0\.1:\d+\/v1\/session$/);
    // a TLS client trusting the certificate gets through; one that does not is refused
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(edgeUrl, { ca: certificate.cert });
      ws.once('open', () => (ws.close(), resolve()));
      ws.once('error', reject);
    });
    const untrusted = await new Promise<string>((resolve) => {
      const ws = new WebSocket(edgeUrl);
      ws.once('open', () => resolve('open'));
      ws.once('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? 'error'));
    });
    assert.is(untrusted, 'DEPTH_ZERO_SELF_SIGNED_CERT');

    await placement.announce({ id: 'tls-edge', url: edgeUrl, tier: 'edge' });
    const shortlist = await placement.locator.shortlist();
    assert.equal(shortlist.edge.map((n) => n.url), [edgeUrl]);
  } finally {
    await placement.close();
    await edge.close({ deadlineMs: 0 });
    await discovery.close();
    certificate.remove();
  }
});

test('an edge node with viewer: true serves the page, its module and the SDK bundle, nothing else; /healthz answers CORS', async () => {
  await buildClientBundle();
  const edge = new EdgeServer({ nodeId: 'viewer-edge', viewer: true, corsOrigins: ['https://app.example'] });
  const { url } = await edge.listen();
  const base = url.replace(/^ws/, 'http').replace(/\/v1\/session$/, '');
  try {
    const page = await fetch(`${base}/viewer/`);
    assert.is(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /<script type="module" src="\.\/viewer\.js">/);
    const module = await fetch(`${base}/viewer/viewer.js`);
    assert.match(await module.text(), /from '\.\/edge-offload-client\.js'/);
    const bundle = await fetch(`${base}/viewer/edge-offload-client.js`);
    assert.is(bundle.status, 200);
    assert.match(bundle.headers.get('content-type') ?? '', /javascript/);
    assert.match(await bundle.text(), /export\s*\{/);
    for (const path of ['/viewer/../package.json', '/viewer/%2e%2e/package.json', '/viewer/index.ts']) assert.is(await statusOf(`${base}${path}`), 404, path);
    const preflight = await call(`${base}/healthz`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } });
    assert.is(preflight.status, 204);
    assert.is(preflight.headers.get('access-control-allow-origin'), 'https://app.example');
    const health = await call(`${base}/healthz`, { headers: { origin: 'https://app.example' } });
    assert.is(health.headers.get('access-control-allow-origin'), 'https://app.example');
  } finally {
    await edge.close({ deadlineMs: 0 });
  }
  const plain = new EdgeServer({ nodeId: 'no-viewer' });
  const { url: plainUrl } = await plain.listen();
  try {
    assert.is((await statusOf(`${plainUrl.replace(/^ws/, 'http').replace(/\/v1\/session$/, '')}/viewer/`)), 404, 'no viewer unless asked');
  } finally {
    await plain.close({ deadlineMs: 0 });
  }
});

test.run();
