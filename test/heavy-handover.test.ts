/**
 * A received `infer` frame in a buffer of its own goes to the heavy worker whole, without a copy
 * (edge-server/offload/messages.ts): the transfer detaches it from the event loop, so V8 stops
 * counting its bytes there at once (issue #15, attack 4b). What must not change: the answer, bit
 * for bit, and the signed entry binding the input the client sent (its digest is taken before the
 * bytes leave). Real worker thread, real tfjs backend, real sockets.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair } from '../discovery/identity.js';
import { EdgeServer } from '../edge-server/index.js';
import { loadInference, type LoadedInference } from '../edge-server/inference/index.js';
import { DEFAULT_WINDOW_SPEC, featureCount } from '../edge-server/inference/motionWindow.js';
import { HeavyPool } from '../edge-server/offload/index.js';
import { handOverFrame, transferableTensor } from '../edge-server/offload/messages.js';
import { decode, encode, ErrorCode, inferEntry, toWireTensor, verifySegment, type Message, type Tensor } from '../protocol/index.js';
import { chainSegments } from './support/chainSegments.js';
import { RawClient } from './support/rawClient.js';

const WIDTH = featureCount(DEFAULT_WINDOW_SPEC);
const MODEL = 'head-predictor';

function sample(rows: number, seed: number): Tensor {
  const data = new Float32Array(rows * WIDTH);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed + i * 0.37) * 0.2;
  return toWireTensor(data, [rows, WIDTH]);
}

/** `bytes` as ws hands over a frame it reassembled: alone in a buffer of its own. */
function ownFrame(bytes: Uint8Array): Uint8Array {
  const own = new Uint8Array(bytes.byteLength);
  own.set(bytes);
  return own;
}

const test = suite('heavy hand-over');

test('a handed-over frame is transferred whole, once; a frame sharing its buffer is copied', () => {
  const message = { t: 'infer', id: 1, model: MODEL, input: sample(4, 1) } as const;
  const frame = ownFrame(encode(message));
  const decoded = decode(frame) as Extract<Message, { t: 'infer' }>;
  assert.ok(decoded.input.data.buffer === frame.buffer, 'the decoded tensor is a view into the frame');
  handOverFrame(frame);
  const transfer: ArrayBuffer[] = [];
  const moved = transferableTensor(decoded.input, transfer);
  assert.ok(transfer.length === 1 && transfer[0] === frame.buffer, 'the frame itself goes in the transfer list');
  assert.ok(moved.data === decoded.input.data, 'no copy');
  // a second hand-off of the same tensor (the frame is already gone with the first) copies
  const again: ArrayBuffer[] = [];
  assert.ok(transferableTensor(decoded.input, again).data.buffer !== frame.buffer);

  // two frames in one buffer (a socket read holding the next frame too): never transferred
  const one = encode(message);
  const shared = new Uint8Array(one.byteLength * 2);
  shared.set(one);
  shared.set(one, one.byteLength);
  const first = shared.subarray(0, one.byteLength);
  handOverFrame(first);
  const copied: ArrayBuffer[] = [];
  const tensor = transferableTensor((decode(first) as Extract<Message, { t: 'infer' }>).input, copied);
  assert.ok(copied[0] !== shared.buffer && tensor.data.buffer === copied[0], 'its tensor is copied into a buffer of its own');
  assert.equal([...tensor.data], [...decoded.input.data]);
});

const context: { pool?: HeavyPool; local?: LoadedInference; server?: EdgeServer; url?: string; publicKey?: string } = {};

test.before(async () => {
  context.pool = await HeavyPool.create({ size: 1, inference: {} });
  context.local = await loadInference({ log: () => {} });
  const keys = generateKeyPair();
  context.publicKey = keys.publicKey;
  context.server = new EdgeServer({
    nodeId: 'heavy-handover-test',
    inference: context.pool.inference!,
    predictors: context.local.predictors,
    nodeKey: keys.privateKeyPem,
    resultSigning: { sealEvery: 4096, sealAfterMs: 50 },
    guards: { heavy: { concurrency: context.pool.size } },
  });
  context.url = (await context.server.listen()).url;
});

test.after(async () => {
  await context.server?.close({ deadlineMs: 1000 }); // closes the pool with its engines
  await context.local?.engine.close();
});

test('the pooled engine moves a handed-over frame to its worker: detached on this thread, the answer unchanged', async () => {
  const frame = ownFrame(encode({ t: 'infer', id: 1, model: MODEL, input: sample(512, 3) }));
  const request = decode(frame) as Extract<Message, { t: 'infer' }>;
  const expected = await context.local!.engine.infer(MODEL, request.input);
  handOverFrame(frame);
  const answer = context.pool!.inference!.infer(MODEL, request.input);
  assert.is(frame.buffer.byteLength, 0, 'the frame left with the request (transferred, not copied)');
  const output = await answer;
  assert.ok(Buffer.from(output.data).equals(Buffer.from(expected.data)));
});

test("a caller's own tensor is copied, not taken: the same input twice, the same answer, still readable after", async () => {
  const input = sample(8, 5); // its bytes fill their buffer: the case a transfer would detach
  const expected = await context.local!.engine.infer(MODEL, input);
  const bytes = Buffer.from(input.data);
  for (let i = 0; i < 2; i++) {
    const output = await context.pool!.inference!.infer(MODEL, input);
    assert.ok(Buffer.from(output.data).equals(Buffer.from(expected.data)), `answer ${i + 1}`);
    assert.ok(Buffer.from(input.data).equals(bytes), `the input after call ${i + 1}`);
  }
});

test('a request holding a detached buffer fails with an error instead of being dropped unanswered', async () => {
  const input = sample(8, 6);
  structuredClone(input.data.buffer, { transfer: [input.data.buffer as ArrayBuffer] }); // detach it
  const err = await context.pool!.call({ t: 'infer', model: MODEL, input }, [input.data.buffer as ArrayBuffer]).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(err instanceof Error && /detached/i.test(err.message), `rejected: ${err?.message}`);
});

test('infer frames larger than a socket read (handed over whole) and small ones: answers equal the in-process engine bit for bit, the seals bind the inputs sent', async () => {
  const client = await RawClient.open(context.url!);
  try {
    const welcome = (await client.hello()) as Extract<Message, { t: 'welcome' }>;
    // 1024 rows: a 156 kB frame, reassembled by ws from several socket reads into a buffer of its
    // own (handed over); 16 rows: 2.5 kB, a slice of a socket read or of Node's Buffer pool (copied)
    const requests = [1024, 16, 1024, 512].map((rows, i) => ({ t: 'infer' as const, id: i + 1, model: MODEL, input: sample(rows, i) }));
    const results: Extract<Message, { t: 'result' }>[] = [];
    // one at a time: the chain's order is the send order
    for (const request of requests) {
      client.send(request);
      const reply = await client.next((m) => 'id' in m && m.id === request.id, 30_000);
      assert.is(reply.t, 'result', `request ${request.id} answered ${reply.t}${reply.t === 'error' ? ` (${reply.code})` : ''}`);
      results.push(reply as Extract<Message, { t: 'result' }>);
    }
    for (const [i, request] of requests.entries()) {
      const local = await context.local!.engine.infer(MODEL, request.input);
      assert.equal(results[i]!.output.shape, local.shape);
      assert.ok(Buffer.from(results[i]!.output.data).equals(Buffer.from(local.data)), `request ${request.id}: the same bytes as in-process`);
    }
    await client.next((m) => m.t === 'seal' && m.to === requests.length, 10_000);
    const seals = client.received.filter((m): m is Extract<Message, { t: 'seal' }> => m.t === 'seal').map(({ t: _t, ...s }) => s);
    const entries = await Promise.all(results.map((r, i) => inferEntry(r.id, 0, MODEL, requests[i]!.input, r.output)));
    for (const segment of await chainSegments('heavy-handover-test', welcome.session, entries, seals)) {
      assert.ok(await verifySegment(segment, context.publicKey!), `block to ${segment.seal.to} verifies with the inputs as sent`);
    }
    // a bad large request keeps its code (checked in the worker, after the hand-over)
    const bad = sample(1024, 9);
    new Float32Array(bad.data.buffer, bad.data.byteOffset, 4)[2] = Number.NaN;
    client.send({ t: 'infer', id: 99, model: MODEL, input: bad });
    const refused = await client.next((m) => 'id' in m && m.id === 99, 30_000);
    assert.ok(refused.t === 'error' && refused.code === ErrorCode.BAD_REQUEST, `NaN input answered ${refused.t}`);
  } finally {
    client.close();
  }
});

test.run();
