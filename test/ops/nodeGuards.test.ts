import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { ErrorCode } from '../../protocol/index.js';
import { NodeGuards, SessionGuard } from '../../edge-server/admission/index.js';
import { buildGlb } from '../../edge-server/render/glb.js';
import { solidPng } from '../support/sceneFixtures.js';
import { waitFor, withTimeout } from '../support/wait.js';

/** A bare node: real HTTP + ws, every session guarded; answers each frame with `size` bytes. */
async function guardedNode(guards: NodeGuards, size = 1024) {
  const http = createServer(guards.httpServerOptions(), (_req, res) => res.end('up'));
  guards.attach(http);
  const wss = new WebSocketServer({ noServer: true });
  const sessions = new Set<SessionGuard>();
  const closes: string[] = [];
  http.on('upgrade', (req, socket, head) => {
    const ticket = guards.admitUpgrade(req, socket);
    if (!ticket) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const guard = guards.forSession(String(Math.random()), ws, ticket, {
        onIdle: () => (closes.push('idle'), ws.terminate()),
        onSlowConsumer: () => (closes.push('slow'), ws.terminate()),
      });
      sessions.add(guard);
      ws.on('message', () => {
        guard.touch();
        for (let i = 0; i < 50; i++) guard.send(new Uint8Array(size), 'droppable');
      });
      ws.on('close', () => (guard.close(), sessions.delete(guard)));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    url,
    sessions,
    closes,
    close: () => new Promise<void>((resolve) => (wss.close(), http.closeAllConnections(), http.close(() => resolve()))),
  };
}

const open = (url: string, localAddress = '127.0.0.1') =>
  new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, { localAddress });
    ws.once('open', () => resolve(ws)).once('error', reject).once('unexpected-response', (_req, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode, code: res.headers['x-edge-offload-refused'] })));
  });

const test = suite('ops: node guards');

test('attack 1: silent sessions are reaped by the idle timeout, one address is capped, and other clients keep getting in', async () => {
  const guards = new NodeGuards({ admission: { maxSessionsPerIp: 10 }, idleTimeoutMs: 300 });
  const node = await guardedNode(guards);
  const silent = await Promise.all(Array.from({ length: 10 }, () => open(node.url, '127.0.0.2')));
  const refused = await open(node.url, '127.0.0.2').catch((e: { status?: number; code?: string }) => e);
  assert.is((refused as { status?: number }).status, 429);
  assert.is((refused as { code?: string }).code, 'ADDRESS_FULL');
  const honest = await open(node.url, '127.0.0.1');
  const talk = setInterval(() => honest.send('x'), 50);
  await withTimeout(Promise.all(silent.map((ws) => new Promise((resolve) => ws.once('close', resolve)))), 'the silent sessions to be reaped', 10_000);
  assert.ok(node.closes.filter((c) => c === 'idle').length >= 10);
  assert.is(honest.readyState, WebSocket.OPEN);
  clearInterval(talk);
  // their slots are free again
  await waitFor(() => guards.admission.sessions === 1, 'the reaped sessions to release their slots');
  (await open(node.url, '127.0.0.2')).terminate();
  honest.terminate();
  await node.close();
});

test('attack 2: a session that stops reading is dropped and then closed; the node buffers at most the hard cap for it', async () => {
  const guards = new NodeGuards({ send: { softBytes: 64 << 10, hardBytes: 256 << 10, stallMs: 200 } });
  const node = await guardedNode(guards, 4096);
  const reader = await open(node.url);
  (reader as unknown as { _socket: import('node:net').Socket })._socket.pause();
  const sender = setInterval(() => reader.readyState === WebSocket.OPEN && reader.send('ask'), 5);
  await waitFor(() => node.closes.includes('slow'), 'the slow consumer to be closed', 15_000);
  clearInterval(sender);
  reader.terminate();
  await waitFor(() => node.sessions.size === 0, 'the session to go');
  await node.close();
});

test('scenes are reserved from their image headers before decoding; a re-upload replaces its own reservation', async () => {
  const guards = new NodeGuards({ memory: { perSessionBytes: 64 << 20, perNodeBytes: 128 << 20 } });
  const png = await solidPng(2048, 2048, [1, 2, 3]);
  const bin = new Uint8Array(Math.ceil(png.byteLength / 4) * 4);
  bin.set(png);
  const glb = (textures: number) =>
    buildGlb({ asset: { version: '2.0' }, images: [{ bufferView: 0, mimeType: 'image/png' }], textures: Array.from({ length: textures }, () => ({ source: 0 })), bufferViews: [{ buffer: 0, byteLength: png.byteLength }], buffers: [{ byteLength: bin.byteLength }] }, bin);
  const ticket = guards.admission.admit('10.0.0.1');
  const s = guards.forSession('s', { bufferedAmount: 0, send() {} }, ticket, { onIdle() {}, onSlowConsumer() {} });
  s.reserveScene('a', glb(2));
  const two = guards.memory.usedBytes;
  s.reserveScene('a', glb(2));
  assert.is(guards.memory.usedBytes, two);
  let code: string | undefined;
  try {
    s.reserveScene('b', glb(16));
  } catch (err) {
    code = (err as { code?: string }).code;
  }
  assert.is(code, ErrorCode.TOO_LARGE);
  s.close();
  assert.is(guards.memory.usedBytes, 0);
  assert.is(guards.admission.sessions, 0);
  guards.close();
});

test.run();
