/**
 * Bounded handshake work per event-loop turn (edge-server/admission/UpgradePacer.ts, issue #15
 * attack 1): a connection storm's WebSocket handshakes run a few per turn, every client within the
 * caps still gets in, a live session is answered between them, and a storm past the queue's cap
 * is refused 503 instead of held.
 *
 * As in frameGate.test.ts the clients run in the node's process on purpose: what they write
 * before the test yields is in the node's socket buffers when it next polls, so a storm's
 * requests and a bystander's predict are read in one poll (no timing).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { EdgeServer } from '../../edge-server/index.js';
import { UpgradePacer } from '../../edge-server/admission/index.js';
import { PROTOCOL_VERSION, decode, encode, type Message } from '../../protocol/index.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { LAX_LIMITS } from '../../bench/lib/laxLimits.js';

const test = suite('ops: upgrade pacer (bounded handshakes per turn)');
let server: EdgeServer | undefined;
test.after.each(async () => {
  await server?.close({ deadlineMs: 0 });
  server = undefined;
});

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('queued handshakes run perTurn per turn, in order; dead sockets are skipped; past maxPending they are refused; close cancels', async () => {
  const pacer = new UpgradePacer({ perTurn: 3, maxPending: 8 });
  const ran: number[] = [];
  const cancelled: number[] = [];
  const accepted = Array.from({ length: 10 }, (_, i) => pacer.submit({ alive: () => i !== 4, run: () => ran.push(i), cancel: () => cancelled.push(i) }));
  assert.equal(accepted, [true, true, true, true, true, true, true, true, false, false]);
  assert.equal(ran, []); // nothing runs in the turn it arrived
  await nextTurn(); // the pacer's batch was scheduled first: it has run
  assert.equal(ran, [0, 1, 2]);
  await nextTurn();
  assert.equal(ran, [0, 1, 2, 3, 5, 6]); // 4's socket is gone: skipped, not counted
  pacer.submit({ alive: () => true, run: () => ran.push(10), cancel: () => cancelled.push(10) });
  pacer.close();
  assert.equal(cancelled, [7, 10]);
  await nextTurn();
  assert.equal(ran, [0, 1, 2, 3, 5, 6]);
  const stats = pacer.stats();
  assert.is(stats.refused, 2);
  assert.is(stats.mostInOneTurn, 3);
  assert.throws(() => new UpgradePacer({ maxPending: 0 }), TypeError);
});

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

const upgradeRequest = () =>
  `GET /v1/session HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`;

test('a storm of upgrades read in one poll is handshaken a few per turn: a live session read in the same poll is answered before any of them', async () => {
  server = new EdgeServer({ guards: { upgrades: { perTurn: 2 } } });
  const { url, port } = await server.listen();
  let arrivals = 0;
  const bystander = new WebSocket(url, { perMessageDeflate: false });
  const messages: { m: Message; at: number }[] = [];
  bystander.on('message', (d: Buffer) => messages.push({ m: decode(d, LAX_LIMITS), at: ++arrivals }));
  await withTimeout(new Promise((resolve, reject) => bystander.once('open', resolve).once('error', reject)), 'the bystander to connect');
  bystander.send(encode({ t: 'hello', v: PROTOCOL_VERSION }));
  await waitFor(() => messages.some(({ m }) => m.t === 'welcome'), 'the bystander welcomed');
  // connected, nothing sent yet: the node has accepted them and waits for their requests
  const storm = await Promise.all(Array.from({ length: 30 }, () => rawSocket(port)));
  const switched: number[] = [];
  for (const s of storm) {
    let text = '';
    s.on('data', (d) => {
      if (text.length < 12 && (text += d).startsWith('HTTP/1.1 101')) switched.push(++arrivals);
    });
  }
  // all in this turn: the node reads the 30 requests and the predict in one poll
  for (const s of storm) s.write(upgradeRequest());
  bystander.send(encode({ t: 'predict', id: 1, horizonMs: 20, poses: [{ device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] }] }));
  await waitFor(() => switched.length === 30, 'every storm upgrade to be switched to a WebSocket');
  const answeredAt = messages.find(({ m }) => m.t === 'prediction')?.at;
  assert.ok(answeredAt !== undefined, 'the bystander was answered');
  // handled in the poll that read it; the first handshakes run after that poll, in the turn's check phase
  assert.ok(answeredAt! < Math.min(...switched), `predict answered at ${answeredAt}, handshakes at ${switched.join(',')}`);
  const stats = server.health().admission as { upgrades: { mostInOneTurn: number; turns: number } };
  assert.ok(stats.upgrades.mostInOneTurn <= 2, JSON.stringify(stats.upgrades));
  assert.ok(stats.upgrades.turns >= 15, JSON.stringify(stats.upgrades));
  for (const s of storm) s.destroy();
  bystander.terminate();
});

test('a storm beyond the per-turn bound still admits every client within the caps; over the cap it is refused at the upgrade', async () => {
  server = new EdgeServer({ guards: { upgrades: { perTurn: 1 }, admission: { maxSessionsPerIp: 24 } } });
  const { url } = await server.listen();
  const outcomes = await Promise.all(
    Array.from({ length: 30 }, () =>
      withTimeout(
        new Promise<string>((resolve) => {
          const ws = new WebSocket(url, { perMessageDeflate: false });
          ws.once('open', () => ws.send(encode({ t: 'hello', v: PROTOCOL_VERSION })));
          ws.once('message', (d: Buffer) => resolve((decode(d, LAX_LIMITS) as Message).t));
          ws.once('unexpected-response', (_req, res) => resolve(`${res.statusCode} ${res.headers['x-edge-offload-refused']}`));
          ws.once('error', () => {});
        }),
        'a storm client to be welcomed or refused',
      ),
    ),
  );
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  assert.equal(counts, { welcome: 24, '429 ADDRESS_FULL': 6 });
  assert.is(server.sessionCount, 24);
});

test.run();
