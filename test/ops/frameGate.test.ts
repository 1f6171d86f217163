/**
 * Bounded work per session per socket read (edge-server/admission/FrameGate.ts, issue #15 attack
 * 2): a burst that arrives as one socket read is handled a few frames per event-loop turn, every
 * frame still answered in order, while another session's frame read in the same turn is answered
 * before the burst's tail. A backlog past its byte cap closes the session RATE_LIMITED.
 *
 * The clients run in the node's process on purpose: everything they write before the test yields
 * is in the node's socket buffers when it next reads, so each burst is one read (no timing).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { EdgeServer } from '../../edge-server/index.js';
import { CloseCode, ErrorCode, PROTOCOL_VERSION, decode, encode, type Message } from '../../protocol/index.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { LAX_LIMITS } from '../../bench/lib/laxLimits.js';

/** Arrival order of every message any client received. */
const arrival = new WeakMap<object, number>();
let arrivals = 0;

interface Client {
  ws: WebSocket;
  messages: Message[];
  closed: Promise<number>;
}

async function client(url: string): Promise<Client> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const messages: Message[] = [];
  ws.on('message', (d: Buffer) => {
    const m = decode(d, LAX_LIMITS);
    arrival.set(m, ++arrivals);
    messages.push(m);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 'connect');
  ws.send(encode({ t: 'hello', v: PROTOCOL_VERSION }));
  await waitFor(() => messages.some((m) => m.t === 'welcome'), 'welcome');
  return { ws, messages, closed };
}

/** `payloads` as client frames (masked, with a zero key so the payload bytes stay as they are), in one buffer. */
function maskedFrames(payloads: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of payloads) {
    const head = p.byteLength < 126 ? Buffer.from([0x82, 0x80 | p.byteLength, 0, 0, 0, 0]) : Buffer.from([0x82, 0x80 | 126, p.byteLength >> 8, p.byteLength & 0xff, 0, 0, 0, 0]);
    parts.push(head, Buffer.from(p));
  }
  return Buffer.concat(parts);
}

/** Writes the frames as one socket write, under ws (which has nothing else queued at this point). */
const writeBurst = (c: Client, payloads: Uint8Array[]) => (c.ws as unknown as { _socket: Socket })._socket.write(maskedFrames(payloads));

const pose = { device: 'head' as const, time: 1000, position: [0, 1.6, 0] as [number, number, number], orientation: [0, 0, 0, 1] as [number, number, number, number] };
const predict = (id: number) => encode({ t: 'predict', id, horizonMs: 20, poses: [{ ...pose, time: 1000 + id }] });
const answers = (c: Client) => c.messages.filter((m): m is Extract<Message, { t: 'prediction' }> => m.t === 'prediction');

const test = suite('ops: frame gate (bounded work per session per read)');
let server: EdgeServer | undefined;
test.after.each(async () => {
  await server?.close({ deadlineMs: 0 });
  server = undefined;
});

test("a 500-frame burst in one read is answered whole and in order, and another session's frame read with it is answered before the burst's tail", async () => {
  server = new EdgeServer({ limits: { maxMessagesPerSecond: 1e6, rateBurst: 1e5 }, guards: { frames: { perRead: 4 } } });
  const { url } = await server.listen();
  const [flooder, bystander] = await Promise.all([client(url), client(url)]);
  const n = 500;
  writeBurst(flooder, Array.from({ length: n }, (_, i) => predict(i + 1)));
  bystander.ws.send(predict(1));
  await waitFor(() => answers(flooder).length === n && answers(bystander).length === 1, 'every predict answered');
  const ids = answers(flooder).map((m) => m.id);
  assert.equal(ids, Array.from({ length: n }, (_, i) => i + 1), 'answers in request order, none lost');
  assert.ok(!flooder.messages.some((m) => m.t === 'error'), JSON.stringify(flooder.messages.find((m) => m.t === 'error')));
  // the bystander's answer came while the burst was still being worked through: the client
  // side saw it before the burst's last answer (same process: arrival order is handling order)
  const bystanderAnswerAt = flooderAnswersBefore(flooder, bystander);
  assert.ok(bystanderAnswerAt < n, `bystander answered only after all ${n} burst frames`);
  flooder.ws.terminate();
  bystander.ws.terminate();
});

test('with framesPerRead 0 (no bound) the same burst is still answered whole', async () => {
  server = new EdgeServer({ limits: { maxMessagesPerSecond: 1e6, rateBurst: 1e5 }, guards: { frames: { perRead: 0 } } });
  const { url } = await server.listen();
  const c = await client(url);
  writeBurst(c, Array.from({ length: 200 }, (_, i) => predict(i + 1)));
  await waitFor(() => answers(c).length === 200, 'every predict answered');
  c.ws.terminate();
});

test('a backlog past maxQueuedBytes closes the session RATE_LIMITED; another session carries on', async () => {
  server = new EdgeServer({ limits: { maxMessagesPerSecond: 1e6, rateBurst: 1e5 }, guards: { frames: { perRead: 1, maxQueuedBytes: 1024 } } });
  const { url } = await server.listen();
  const [flooder, other] = await Promise.all([client(url), client(url)]);
  writeBurst(flooder, Array.from({ length: 200 }, (_, i) => predict(i + 1)));
  assert.is(await withTimeout(flooder.closed, 'the flooder to be closed'), CloseCode.RATE_LIMITED);
  assert.ok(flooder.messages.some((m) => m.t === 'error' && m.code === ErrorCode.RATE_LIMITED && m.fatal));
  other.ws.send(predict(7));
  await waitFor(() => answers(other).some((m) => m.id === 7), 'the other session answered');
  other.ws.terminate();
});

/** How many of the flooder's answers had arrived when the bystander's answer arrived (the clients stamp each message as it comes). */
function flooderAnswersBefore(flooder: Client, bystander: Client): number {
  const at = arrival.get(bystander.messages.find((m) => m.t === 'prediction')!)!;
  return answers(flooder).filter((m) => arrival.get(m)! < at).length;
}

test.run();
