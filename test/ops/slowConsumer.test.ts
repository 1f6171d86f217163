/**
 * Issue #15 attack 2, a session that stops reading and keeps asking: once its backlog is unread
 * (more than `skipAboveBytes` unsent) its predictions are not computed at all, and `maxSkipped`
 * of them in a row close it SLOW_CONSUMER (SendBudget.wantsAnswer), while a bystander is served.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { EdgeServer } from '../../edge-server/index.js';
import { SendBudget } from '../../edge-server/admission/index.js';
import { PROTOCOL_VERSION, decode, encode, type Message } from '../../protocol/index.js';
import { parsePrometheusText, sampleValue } from '../../bench/lib/prometheusText.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { LAX_LIMITS } from '../../bench/lib/laxLimits.js';

const test = suite('ops: slow consumer (predictions skipped for a non-reader)');
let server: EdgeServer | undefined;
test.after.each(async () => {
  await server?.close({ deadlineMs: 0 });
  server = undefined;
});

test('wantsAnswer: true while the backlog is small; counts skips in a row, resets when the client reads, closes at maxSkipped', () => {
  const sink = { bufferedAmount: 0, send() {} };
  const reasons: string[] = [];
  const budget = new SendBudget(sink, (why) => reasons.push(why), { softBytes: 1000, hardBytes: 4000, skipAboveBytes: 100, maxSkipped: 3 });
  assert.ok(budget.wantsAnswer());
  sink.bufferedAmount = 101;
  assert.not.ok(budget.wantsAnswer());
  assert.not.ok(budget.wantsAnswer());
  sink.bufferedAmount = 100; // the client read: the run starts again
  assert.ok(budget.wantsAnswer());
  sink.bufferedAmount = 500;
  assert.not.ok(budget.wantsAnswer());
  assert.not.ok(budget.wantsAnswer());
  assert.is(reasons.length, 0);
  assert.not.ok(budget.wantsAnswer()); // the third in a row
  assert.is(reasons.length, 1);
  assert.ok(budget.exceeded);
  assert.is(budget.stats().skipped, 5);
  assert.throws(() => new SendBudget(sink, () => {}, { softBytes: 10, hardBytes: 20, skipAboveBytes: 21 }), TypeError);
  assert.throws(() => new SendBudget(sink, () => {}, { maxSkipped: 0 }), TypeError);
});

interface Client {
  ws: WebSocket;
  messages: Message[];
}

async function client(url: string, localAddress: string): Promise<Client> {
  const ws = new WebSocket(url, { localAddress, perMessageDeflate: false });
  const messages: Message[] = [];
  ws.on('message', (d: Buffer) => messages.push(decode(d, LAX_LIMITS)));
  await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), `connect from ${localAddress}`);
  ws.send(encode({ t: 'hello', v: PROTOCOL_VERSION }));
  await waitFor(() => messages.some((m) => m.t === 'welcome'), 'welcome');
  return { ws, messages };
}

const pose = { device: 'head' as const, time: 1000, position: [0, 1.6, 0] as [number, number, number], orientation: [0, 0, 0, 1] as [number, number, number, number] };

test('a non-reading flooder gets no more predictions computed once its backlog is unread, and is closed SLOW_CONSUMER after exactly maxSkipped; a bystander is answered', async () => {
  // stallMs far away: the close must come from the skip count, not the stall clock
  server = new EdgeServer({ limits: { maxMessagesPerSecond: 1e6, rateBurst: 1e5 }, guards: { send: { softBytes: 256 << 10, hardBytes: 1 << 20, stallMs: 600_000, skipAboveBytes: 16 << 10, maxSkipped: 40 } } });
  const { url } = await server.listen();
  const metric = async (name: string) => sampleValue(parsePrometheusText(await (await fetch(url.replace('ws://', 'http://').replace('/v1/session', '/metrics'))).text()), name) ?? 0;
  const attacker = await client(url, '127.0.0.2');
  attacker.ws.send(encode({ t: 'pose', poses: [pose] }));
  (attacker.ws as unknown as { _socket: Socket })._socket.pause();
  const bystander = await client(url, '127.0.0.3');
  let id = 0;
  // fast enough to fill the kernel's socket buffers (several MB on loopback) within a second or two
  const flood = setInterval(() => {
    for (let i = 0; i < 200 && attacker.ws.readyState === attacker.ws.OPEN; i++) attacker.ws.send(encode({ t: 'predict', id: ++id, horizonMs: 20 }));
  }, 5);
  try {
    await waitFor(async () => (await metric('edge_slow_consumer_total')) >= 1, 'the non-reader to be closed', 30_000, 50);
  } finally {
    clearInterval(flood);
  }
  assert.is(await metric('edge_answers_skipped_total'), 40);
  await waitFor(() => server!.sessionCount === 1, 'the attacker session to be gone');
  bystander.ws.send(encode({ t: 'predict', id: 1, horizonMs: 20, poses: [pose] }));
  await waitFor(() => bystander.messages.some((m) => m.t === 'prediction'), 'the bystander answered');
  attacker.ws.terminate();
  bystander.ws.terminate();
});

test.run();
