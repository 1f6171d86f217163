import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPair } from '../../discovery/identity.js';
import { TrustedOperators } from '../../discovery/trust.js';
import { AdminEndpoint, AdminErrorCode, publicHealth, signAdminRequest } from '../../edge-server/admin/index.js';
import { Logger } from '../../protocol/index.js';

const operator = generateKeyPair();
const stranger = generateKeyPair();
const NODE = 'node-a';

interface Ctx {
  server: Server;
  base: string;
  drains: { deadlineMs?: number; reason?: string }[];
  now: number;
}

const test = suite<Ctx>('ops: admin endpoint');

test.before.each(async (ctx) => {
  Logger.configure({ sink: () => {} }); // refusals are logged as warnings; keep the test output clean
  ctx.drains = [];
  ctx.now = 1_700_000_000_000;
  const admin = new AdminEndpoint(
    NODE,
    { health: () => ({ sessions: 3, secretish: 'discovery url, last error' }), drain: (o) => void ctx.drains.push(o) },
    { operators: new TrustedOperators([{ name: 'acme', publicKey: operator.publicKey }]), maxSkewMs: 30_000, now: () => ctx.now },
  );
  ctx.server = createServer((req, res) => {
    if (admin.handles(req)) return void admin.handle(req, res);
    res.end(JSON.stringify(publicHealth(false)));
  });
  await new Promise<void>((resolve) => ctx.server.listen(0, '127.0.0.1', resolve));
  ctx.base = `http://127.0.0.1:${(ctx.server.address() as AddressInfo).port}`;
});
test.after.each(async (ctx) => {
  Logger.configure({ reset: true });
  await new Promise<void>((resolve) => ctx.server.close(() => resolve()));
});

async function call(ctx: Ctx, method: string, path: string, body = '', headers: Record<string, string> = {}) {
  const res = await fetch(ctx.base + path, { method, headers, ...(method === 'GET' ? {} : { body }) });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } & Record<string, unknown> };
}

const signed = (ctx: Ctx, method: string, path: string, body = '', key = operator, nodeId = NODE, time = ctx.now) =>
  signAdminRequest({ method, path, nodeId, body: Buffer.from(body) }, key, time);

test('a signed operator request reads detailed health and drains; the public health says only up', async (ctx) => {
  const health = await call(ctx, 'GET', '/admin/health', '', signed(ctx, 'GET', '/admin/health'));
  assert.is(health.status, 200);
  assert.is(health.body.sessions, 3);
  const body = JSON.stringify({ deadlineMs: 5000, reason: 'maintenance' });
  const drain = await call(ctx, 'POST', '/admin/drain', body, signed(ctx, 'POST', '/admin/drain', body));
  assert.is(drain.status, 202);
  assert.equal(ctx.drains, [{ deadlineMs: 5000, reason: 'maintenance' }]);
  const open = await call(ctx, 'GET', '/healthz');
  assert.equal(open.body, { status: 'up' });
});

test('unauthenticated, unknown-key, wrong-node, tampered, stale and replayed admin calls are refused with 401 and a code', async (ctx) => {
  const codeOf = async (r: Promise<{ status: number; body: { error?: { code: string } } }>) => {
    const { status, body } = await r;
    return `${status} ${body.error?.code}`;
  };
  const unauthorized = `401 ${AdminErrorCode.ADMIN_UNAUTHORIZED}`;
  assert.is(await codeOf(call(ctx, 'GET', '/admin/health')), unauthorized);
  assert.is(await codeOf(call(ctx, 'POST', '/admin/drain', '{}')), unauthorized);
  assert.is(await codeOf(call(ctx, 'GET', '/admin/health', '', signed(ctx, 'GET', '/admin/health', '', stranger))), unauthorized);
  assert.is(await codeOf(call(ctx, 'GET', '/admin/health', '', signed(ctx, 'GET', '/admin/health', '', operator, 'node-b'))), unauthorized);
  // a health signature used to drain, and a drain whose body changed after signing
  assert.is(await codeOf(call(ctx, 'POST', '/admin/drain', '', signed(ctx, 'GET', '/admin/health'))), unauthorized);
  assert.is(await codeOf(call(ctx, 'POST', '/admin/drain', '{"deadlineMs":0}', signed(ctx, 'POST', '/admin/drain', '{"deadlineMs":9000}'))), unauthorized);
  assert.is(await codeOf(call(ctx, 'GET', '/admin/health', '', signed(ctx, 'GET', '/admin/health', '', operator, NODE, ctx.now - 60_000))), `401 ${AdminErrorCode.ADMIN_STALE}`);
  const once = signed(ctx, 'GET', '/admin/health');
  assert.is((await call(ctx, 'GET', '/admin/health', '', once)).status, 200);
  assert.is(await codeOf(call(ctx, 'GET', '/admin/health', '', once)), `401 ${AdminErrorCode.ADMIN_REPLAY}`);
  assert.equal(ctx.drains, []);
});

test('bad drain bodies are refused after authentication, oversize ones before reading them', async (ctx) => {
  const bad = '{"deadlineMs":-5}';
  assert.is((await call(ctx, 'POST', '/admin/drain', bad, signed(ctx, 'POST', '/admin/drain', bad))).body.error?.code, 'BAD_REQUEST');
  const big = 'x'.repeat(5000);
  assert.is((await call(ctx, 'POST', '/admin/drain', big, signed(ctx, 'POST', '/admin/drain', big))).status, 413);
  assert.equal(ctx.drains, []);
});

test.run();
