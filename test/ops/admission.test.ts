import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createWebServer } from '../../protocol/server/webAccess.js';
import { makeSelfSignedCertificate } from '../support/tls.js';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import sharp from 'sharp';
import { CloseCode, ErrorCode, InvalidStateError, ProtocolError, RequestError } from '../../protocol/index.js';
import {
  ConnectionGuard,
  FairScheduler,
  HmacTokenVerifier,
  IdleTimer,
  MemoryBudget,
  SendBudget,
  SessionAdmission,
  AdmissionRefusal,
  addressKey,
  estimateTextureBytes,
  imageSize,
} from '../../edge-server/admission/index.js';
import { buildGlb, parseGlb } from '../../edge-server/render/glb.js';
import { texturedQuadGlb, solidPng } from '../support/sceneFixtures.js';
import { waitFor, withTimeout } from '../support/wait.js';

const codeOf = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'resolved';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
};

const test = suite('ops: admission');

// --- send budget, on a real socket whose reader stopped reading ---

test('a session that stops reading: droppable answers are dropped at the soft cap, the socket buffer stays bounded, then SLOW_CONSUMER', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const serverSide = new Promise<import('ws').WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  await withTimeout(new Promise((resolve) => client.once('open', resolve)), 'client open');
  (client as unknown as { _socket: Socket })._socket.pause(); // the reader stops reading
  const ws = await serverSide;
  let t = 0;
  let exceeded: string | undefined;
  const budget = new SendBudget(ws, (why) => (exceeded = why), { softBytes: 256 << 10, hardBytes: 1 << 20, stallMs: 5000, now: () => t });
  const answer = new Uint8Array(1024);
  let maxBuffered = 0;
  // keep answering until the kernel buffers are full and ws starts queueing in user space
  await waitFor(async () => {
    for (let i = 0; i < 200; i++) budget.send(answer, 'droppable');
    maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
    await new Promise((resolve) => setImmediate(resolve));
    return budget.stats().dropped > 1000;
  }, 'answers to be dropped', 20_000);
  assert.ok(maxBuffered <= (256 << 10) + 1024, `buffered ${maxBuffered}`); // the soft cap plus one answer
  assert.is(budget.canTake(1024), false);
  assert.is(exceeded, undefined);
  t += 5000; // the stall clock runs out: the reader has read nothing for stallMs
  assert.is(budget.send(answer, 'droppable'), 'closed');
  assert.type(exceeded, 'string');
  assert.is(budget.send(answer, 'required'), 'closed');
  client.terminate();
  ws.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

test('the caps bound the backlog: any message goes onto an empty socket, droppable ones wait out a backlog, required ones past the hard cap close', () => {
  let buffered = 0;
  const sink = { get bufferedAmount() { return buffered; }, send: (d: Uint8Array) => void (buffered += d.byteLength) };
  const reasons: string[] = [];
  const budget = new SendBudget(sink, (why) => reasons.push(why), { softBytes: 100, hardBytes: 300 });
  assert.is(budget.send(new Uint8Array(1000), 'droppable'), 'sent'); // larger than both caps, onto an empty socket
  assert.is(budget.send(new Uint8Array(10), 'droppable'), 'dropped');
  assert.is(budget.canTake(10), false);
  buffered = 0; // the client read it all
  assert.is(budget.canTake(10), true);
  assert.is(budget.send(new Uint8Array(90), 'droppable'), 'sent');
  assert.is(budget.send(new Uint8Array(90), 'droppable'), 'sent'); // backlog 90 is under the soft cap
  assert.is(budget.send(new Uint8Array(90), 'droppable'), 'dropped'); // backlog 180 is over it
  assert.is(budget.send(new Uint8Array(100), 'required'), 'sent'); // required: up to the hard cap
  assert.is(budget.send(new Uint8Array(100), 'required'), 'closed');
  assert.is(buffered, 280);
  assert.is(reasons.length, 1);
  assert.equal(budget.stats().dropped, 2);
});

// --- session admission ---

test('per-address caps count IPv6 clients by /64 and IPv4-mapped addresses as IPv4', async () => {
  assert.is(addressKey('::ffff:10.1.2.3'), '10.1.2.3');
  assert.is(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
  assert.is.not(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
  const admission = new SessionAdmission({ maxSessions: 10, maxSessionsPerIp: 2 });
  const a = admission.admit('2001:db8:1:2::1');
  admission.admit('2001:db8:1:2::2');
  assert.is(await codeOf(() => admission.admit('2001:db8:1:2:ffff::9')), 'ADDRESS_FULL');
  a.release();
  a.release(); // idempotent
  admission.admit('2001:db8:1:2::3');
  for (let i = 0; i < 8; i++) admission.admit(`10.0.0.${i}`);
  let refusal: unknown;
  try {
    admission.admit('10.9.9.9');
  } catch (err) {
    refusal = err;
  }
  assert.instance(refusal, AdmissionRefusal);
  assert.is((refusal as AdmissionRefusal).code, 'NODE_FULL');
  assert.is((refusal as AdmissionRefusal).status, 503);
  assert.equal(admission.refusals(), { ADDRESS_FULL: 1, NODE_FULL: 1 });
});

test('hello.token: verified identities are capped; missing, forged, expired and tampered tokens are UNAUTHORIZED', async () => {
  let now = 1_000_000;
  const verifier = new HmacTokenVerifier('x'.repeat(32), () => now);
  const admission = new SessionAdmission({ verifier, maxSessionsPerToken: 2 });
  const token = verifier.issue('acme-customer-7', now + 60_000);
  const t1 = admission.admit('1.1.1.1');
  assert.is(await t1.authorize(token), 'acme-customer-7');
  assert.is(await admission.admit('1.1.1.2').authorize(token), 'acme-customer-7');
  assert.is(await codeOf(() => admission.admit('1.1.1.3').authorize(token)), ErrorCode.UNAUTHORIZED);
  t1.release();
  assert.is(await admission.admit('1.1.1.4').authorize(token), 'acme-customer-7');
  assert.is(await codeOf(() => admission.admit('1.1.1.5').authorize(undefined)), ErrorCode.UNAUTHORIZED);
  const other = new HmacTokenVerifier('y'.repeat(32), () => now).issue('acme-customer-7', now + 60_000);
  assert.is(await codeOf(() => admission.admit('1.1.1.6').authorize(other)), ErrorCode.UNAUTHORIZED);
  const tampered = token.replace(/\.\d+\./, `.${now + 10_000_000}.`);
  assert.is(await codeOf(() => admission.admit('1.1.1.7').authorize(tampered)), ErrorCode.UNAUTHORIZED);
  now += 61_000;
  let err: unknown;
  try {
    admission.admit('1.1.1.8').authorize(verifier.issue('late', now - 1));
  } catch (e) {
    err = e;
  }
  assert.instance(err, ProtocolError);
  assert.is((err as ProtocolError).closeCode, CloseCode.UNAUTHORIZED);
  assert.is(await codeOf(() => admission.admit('1.1.1.9').authorize('v1.' + 'A'.repeat(5000))), ErrorCode.UNAUTHORIZED);
  // an open node (no verifier) ignores tokens
  assert.is(await new SessionAdmission().admit('1.1.1.1').authorize('anything'), undefined);
});

// --- raw connections: slowloris, per-address socket caps ---

async function guardedServer(guard: ConnectionGuard): Promise<{ server: Server; port: number }> {
  const server = createServer(guard.httpServerOptions(), (_req, res) => res.end('up'));
  guard.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function rawSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

test('slowloris and silent sockets are reaped; a second address still gets answers while one address is at its cap', async () => {
  const guard = new ConnectionGuard({ idleMs: 300, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000, maxConnectionsPerIp: 20 });
  const { server, port } = await guardedServer(guard);
  const sockets = await Promise.all(Array.from({ length: 20 }, () => rawSocket(port)));
  const closed = sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
  sockets.forEach((s, i) => s.on('error', () => {}) && i % 2 === 0 && s.write('GET / HTTP/1.1\r\nHost: x\r\n')); // half trickle a partial header
  // the 21st socket from the same address is refused at accept
  const extra = await rawSocket(port);
  await withTimeout(new Promise((resolve) => extra.once('close', resolve)), 'the over-cap socket to be closed');
  // another address is served while the first one is at its cap
  const other = await rawSocket(port, '127.0.0.2');
  other.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const reply = await withTimeout(new Promise<string>((resolve) => { let text = ''; other.on('data', (d) => (text += d)); other.once('end', () => resolve(text)); }), 'an answer on 127.0.0.2');
  assert.match(reply, /^HTTP\/1.1 200/);
  await withTimeout(Promise.all(closed), 'the idle sockets to be reaped', 10_000);
  assert.ok(guard.stats().reaped >= 20, JSON.stringify(guard.stats()));
  assert.ok(guard.stats().refused >= 1);
  await waitFor(() => guard.stats().open === 0, 'every socket to be counted closed');
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('sockets whose headers time out together are answered 408 and closed, a few per event-loop turn; a bad request still gets 400', async () => {
  // Node's own header check is pushed out to the request timeout (60 s): the 408s are the guard's own deadline queue's
  const guard = new ConnectionGuard({ idleMs: 60_000, headersTimeoutMs: 200, requestTimeoutMs: 60_000, maxConnectionsPerIp: 200, reapPerTurn: 8 });
  assert.is(guard.httpServerOptions().headersTimeout, 60_000);
  const { server, port } = await guardedServer(guard);
  // turns in which the guard closed sockets: more than one, since 50 expire in one sweep and 8 go per turn
  const turnsWithReaps = new Set<number>();
  let turn = 0;
  const ticker = setInterval(() => turn++, 0);
  const sockets = await Promise.all(Array.from({ length: 50 }, () => rawSocket(port)));
  const replies = sockets.map((s) => {
    s.on('error', () => {});
    s.write('GET / HTTP/1.1\r\nHost: x\r\n'); // never finished
    let text = '';
    s.on('data', (d) => (text += d));
    return new Promise<string>((resolve) => s.once('close', () => (turnsWithReaps.add(turn), resolve(text))));
  });
  const texts = await withTimeout(Promise.all(replies), 'every slowloris socket to be closed', 20_000);
  clearInterval(ticker);
  for (const text of texts) assert.match(text, /^HTTP\/1.1 408/);
  assert.ok(guard.stats().reaped >= 50, JSON.stringify(guard.stats()));
  assert.ok(turnsWithReaps.size > 1, `all 50 closed in ${turnsWithReaps.size} turn(s)`);
  assert.is(guard.stats().awaitingHeaders, 0);
  // other client errors keep Node's answer
  const bad = await rawSocket(port);
  bad.write('NOT HTTP\r\n\r\n');
  const badReply = await withTimeout(new Promise<string>((resolve) => { let text = ''; bad.on('data', (d) => (text += d)); bad.once('close', () => resolve(text)); }), 'a 400 for a malformed request');
  assert.match(badReply, /^HTTP\/1.1 400/);
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('a socket whose request arrived leaves the header deadline queue: a kept-alive client outlives a later slowloris', async () => {
  const guard = new ConnectionGuard({ idleMs: 60_000, headersTimeoutMs: 100, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 60_000 });
  const { server, port } = await guardedServer(guard);
  const live = await rawSocket(port);
  let liveText = '';
  live.on('data', (d) => (liveText += d));
  let liveClosed = false;
  live.once('close', () => (liveClosed = true));
  live.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => liveText.includes('up'), 'the answer on the kept-alive socket');
  // opened later, so its deadline is later: once it is reaped, the live socket's deadline has passed too
  const silent = await rawSocket(port);
  let silentText = '';
  silent.on('data', (d) => (silentText += d));
  await withTimeout(new Promise((resolve) => silent.once('close', resolve)), 'the silent socket to be reaped');
  assert.match(silentText, /^HTTP\/1.1 408/);
  assert.is(liveClosed, false);
  live.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('under TLS too: the request arrives on the TLSSocket, its TCP socket leaves the deadline queue', async () => {
  const certificate = makeSelfSignedCertificate();
  const guard = new ConnectionGuard({ idleMs: 60_000, headersTimeoutMs: 100, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 60_000 });
  const server = createWebServer({ cert: certificate.cert, key: certificate.key }, (_req, res) => res.end('up'), guard.httpServerOptions());
  guard.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const live = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    let liveText = '';
    live.on('data', (d) => (liveText += d));
    let liveClosed = false;
    live.once('close', () => (liveClosed = true));
    await withTimeout(new Promise((resolve) => live.once('secureConnect', resolve)), 'the TLS handshake');
    live.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => liveText.includes('up'), 'the answer over TLS');
    const silent = await rawSocket(port);
    await withTimeout(new Promise((resolve) => silent.once('close', resolve)), 'the silent socket to be reaped');
    assert.is(liveClosed, false);
    live.destroy();
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    certificate.remove();
  }
});

test('deadlines are checked every checkIntervalMs (default 100), at most half the header timeout', () => {
  const interval = (o: ConstructorParameters<typeof ConnectionGuard>[0]) => new ConnectionGuard(o).httpServerOptions().connectionsCheckingInterval;
  assert.is(interval({}), 100);
  assert.is(interval({ checkIntervalMs: 250 }), 250);
  assert.is(interval({ headersTimeoutMs: 60, requestTimeoutMs: 60 }), 30);
  assert.throws(() => new ConnectionGuard({ checkIntervalMs: 0 }), TypeError);
});

test('an idle timer closes a silent session and stays quiet for one that keeps talking', async () => {
  let fired = 0;
  const talking = new IdleTimer(40, () => fired++);
  const silent = new Promise<number>((resolve) => new IdleTimer(40, resolve));
  const keepAlive = setInterval(() => talking.touch(), 5);
  const silentFor = await withTimeout(silent, 'the idle callback');
  assert.ok(silentFor >= 40);
  clearInterval(keepAlive);
  talking.stop();
  assert.is(fired, 0);
});

// --- decoded-memory budget, before decoding ---

/** A GLB with `textures` textures that all sample one embedded image. */
async function sharedImageGlb(image: Uint8Array, textures: number, mimeType = 'image/png'): Promise<Uint8Array> {
  const bin = new Uint8Array(Math.ceil(image.byteLength / 4) * 4);
  bin.set(image);
  return buildGlb(
    {
      asset: { version: '2.0' },
      images: [{ bufferView: 0, mimeType }],
      textures: Array.from({ length: textures }, () => ({ source: 0 })),
      bufferViews: [{ buffer: 0, byteOffset: 0, byteLength: image.byteLength }],
      buffers: [{ byteLength: bin.byteLength }],
    },
    bin,
  );
}

test('image headers give the size before decoding: PNG, JPEG, WebP (lossy and lossless)', async () => {
  const base = sharp({ create: { width: 300, height: 170, channels: 3, background: { r: 9, g: 9, b: 9 } } });
  for (const bytes of [await base.clone().png().toBuffer(), await base.clone().jpeg().toBuffer(), await base.clone().webp().toBuffer(), await base.clone().webp({ lossless: true }).toBuffer()]) {
    assert.equal(imageSize(new Uint8Array(bytes)), { width: 300, height: 170 });
  }
  assert.is(imageSize(new Uint8Array([1, 2, 3])), undefined);
});

test('16 textures sharing one 2048² PNG are counted as 16 decodes and refused by the session budget before decoding', async () => {
  const png = await solidPng(2048, 2048, [200, 10, 10]);
  const glb = await sharedImageGlb(png, 16);
  assert.ok(glb.byteLength < 64 << 10, `the attack scene is small on the wire (${glb.byteLength} B)`);
  const estimate = estimateTextureBytes(parseGlb(glb), 2048);
  assert.is(estimate.textures, 16);
  assert.ok(estimate.bytes >= 16 * 2048 * 2048 * 4, `estimate ${estimate.bytes}`);
  const budget = new MemoryBudget({ perSessionBytes: 200 << 20, perNodeBytes: 512 << 20 });
  assert.is(await codeOf(() => budget.reserve('s1', estimate.bytes)), ErrorCode.TOO_LARGE);
  // a normal textured scene fits, and several sessions fill the node budget: BUSY, not a crash
  const normal = estimateTextureBytes(parseGlb(await texturedQuadGlb(await solidPng(1024, 1024, [0, 0, 0]))), 2048);
  const held = ['a', 'b', 'c'].map((s) => budget.reserve(s, normal.bytes * 30));
  assert.is(await codeOf(() => budget.reserve('d', normal.bytes * 30)), ErrorCode.BUSY);
  held[0]!.release();
  held[0]!.release();
  budget.reserve('d', normal.bytes * 30);
  budget.releaseSession('b');
  assert.is(budget.sessionBytes('b'), 0);
  assert.is(budget.usedBytes, normal.bytes * 60);
});

test('an image over maxTextureSize or with an unreadable header is refused from its header', async () => {
  assert.is(await codeOf(async () => estimateTextureBytes(parseGlb(await sharedImageGlb(await solidPng(4096, 8, [1, 1, 1]), 1)), 2048)), ErrorCode.TOO_LARGE);
  assert.is(await codeOf(async () => estimateTextureBytes(parseGlb(await sharedImageGlb(new Uint8Array(64).fill(7), 1)), 2048)), ErrorCode.BAD_REQUEST);
  const err = await (async () => estimateTextureBytes(parseGlb(await sharedImageGlb(new Uint8Array(64), 1)), 2048))().catch((e: unknown) => e);
  assert.instance(err, RequestError);
});

// --- fair scheduling of heavy work ---

test('fair scheduler: a session with a backlog of heavy jobs does not delay another session by more than one job', async () => {
  let clock = 0;
  const scheduler = new FairScheduler({ now: () => clock, maxQueuedPerSession: 8 });
  const order: string[] = [];
  const heavy = (name: string, ms: number) => () => {
    order.push(name);
    clock += ms; // the job's measured cost
    return name;
  };
  const a = Array.from({ length: 8 }, (_, i) => scheduler.schedule('hog', heavy(`hog${i}`, 50)));
  await a[0];
  const b = [scheduler.schedule('bystander', heavy('b0', 1)), scheduler.schedule('bystander', heavy('b1', 1))];
  await Promise.all([...a, ...b]);
  // the bystander's jobs run right after the hog's running job, not after its backlog
  assert.equal(order.slice(0, 4), ['hog0', 'b0', 'b1', 'hog1']);
  assert.is(await codeOf(Promise.all(Array.from({ length: 9 }, () => scheduler.schedule('hog', heavy('x', 1))))), ErrorCode.BUSY);
});

test('fair scheduler: two busy sessions share by measured cost; cancel rejects waiting jobs with InvalidStateError', async () => {
  let clock = 0;
  const scheduler = new FairScheduler({ now: () => clock, maxQueuedPerSession: 64 });
  const order: string[] = [];
  const job = (name: string, ms: number) => () => {
    order.push(name);
    clock += ms;
  };
  const all = [
    ...Array.from({ length: 12 }, () => scheduler.schedule('slow', job('S', 30))),
    ...Array.from({ length: 12 }, () => scheduler.schedule('fast', job('F', 10))),
  ];
  await Promise.all(all);
  // by the time 'slow' has run 3 jobs (90 ms), 'fast' has run about 9 (90 ms)
  const firstTwelve = order.slice(0, 12).join('');
  assert.ok((firstTwelve.match(/F/g) ?? []).length >= 8, firstTwelve);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const running = scheduler.schedule('c', () => gate);
  const waiting = scheduler.schedule('c', () => 1);
  await new Promise((resolve) => setImmediate(resolve));
  scheduler.cancel('c');
  const err = await waiting.catch((e: unknown) => e);
  assert.instance(err, InvalidStateError);
  release();
  await running;
  scheduler.close();
  assert.instance(await scheduler.schedule('d', () => 1).catch((e: unknown) => e), InvalidStateError);
});

test.run();
