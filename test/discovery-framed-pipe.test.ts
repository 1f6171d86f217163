/**
 * The channel process's call pipe (discovery/channels/FramedPipe.ts): frames survive any split
 * into reads, Maps travel as Maps, and a frame over the cap or one that does not deserialise
 * breaks the pipe once, after which nothing more is delivered.
 */
import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FramedPipe } from '../discovery/channels/FramedPipe.js';

const test = suite('discovery framed pipe');

/** A pipe whose writes come back to its own reader (a PassThrough is a loopback Duplex). */
function loopback(maxFrameBytes?: number) {
  const stream = new PassThrough();
  const got: unknown[] = [];
  const broken: string[] = [];
  const pipe = new FramedPipe(stream, (m) => got.push(m), (why) => broken.push(why), maxFrameBytes);
  return { stream, pipe, got, broken };
}

const tick = () => new Promise((r) => setImmediate(r));

test('messages round-trip in order, Maps included, whatever the read boundaries', async () => {
  const { pipe, got, broken } = loopback();
  const seen = new Map([['node-a', 1.5], ['node-b', 2]]);
  assert.ok(pipe.send({ t: 'call', id: 1, op: 'refresh', args: { seen } }));
  assert.ok(pipe.send({ t: 'reply', id: 1, ok: true, result: ['node-b'] }));
  await tick();
  assert.equal(got, [{ t: 'call', id: 1, op: 'refresh', args: { seen } }, { t: 'reply', id: 1, ok: true, result: ['node-b'] }]);
  assert.ok((got[0] as { args: { seen: unknown } }).args.seen instanceof Map);
  assert.equal(broken, []);
});

test('a frame delivered one byte per read arrives once, whole', async () => {
  const sink = new PassThrough();
  const source = loopback();
  const got: unknown[] = [];
  new FramedPipe(sink, (m) => got.push(m), () => assert.unreachable('not broken'));
  source.stream.on('data', (chunk: Buffer) => {
    for (const byte of chunk) sink.emit('data', Buffer.from([byte]));
  });
  source.pipe.send({ t: 'size', size: 3 });
  source.pipe.send({ t: 'size', size: 4 });
  await tick();
  assert.equal(got, [{ t: 'size', size: 3 }, { t: 'size', size: 4 }]);
});

test('a frame over the cap breaks the pipe once; later frames are not delivered', async () => {
  const { stream, pipe, got, broken } = loopback(64);
  pipe.send({ t: 'size', size: 1 });
  pipe.send({ t: 'big', body: 'x'.repeat(200) });
  pipe.send({ t: 'size', size: 2 });
  await tick();
  assert.equal(got, [{ t: 'size', size: 1 }]);
  assert.is(broken.length, 1);
  assert.match(broken[0]!, /at most 64/);
  assert.not.ok(pipe.send({ t: 'size', size: 3 }), 'a broken pipe sends nothing');
  stream.emit('data', Buffer.from([1, 0, 0, 0, 0]));
  assert.is(broken.length, 1);
});

test('a frame that does not deserialise breaks the pipe', async () => {
  const { stream, got, broken } = loopback();
  stream.write(Buffer.from([3, 0, 0, 0, 0xff, 0xff, 0xff]));
  await tick();
  assert.equal(got, []);
  assert.is(broken.length, 1);
});

test.run();
