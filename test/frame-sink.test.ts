import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { DIRECT_MAX_BYTES, frameSink } from '../edge-server/session/FrameSink.js';

const test = suite('session frame sink');

/** A real ws server whose first connection writes through frameSink, and a ws client reading it. */
async function pair(): Promise<{ server: WebSocketServer; serverSide: WebSocket; client: WebSocket; received: Buffer[] }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate: false });
  const received: Buffer[] = [];
  client.on('message', (data: Buffer, isBinary: boolean) => {
    assert.ok(isBinary, 'a binary frame');
    received.push(data);
  });
  const [[serverSide]] = await Promise.all([accepted, once(client, 'open')]);
  return { server, serverSide: serverSide as WebSocket, client, received };
}

async function waitForCount(received: unknown[], n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (received.length < n) {
    if (Date.now() > deadline) throw new Error(`got ${received.length} of ${n} messages within 20 s`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('every payload size (each header length, direct and via ws) arrives byte for byte and in order, interleaved with ws.send', async () => {
  const { server, serverSide, client, received } = await pair();
  try {
    const sink = frameSink(serverSide);
    const sizes = [0, 1, 125, 126, 127, 1000, 65535 % DIRECT_MAX_BYTES, DIRECT_MAX_BYTES, DIRECT_MAX_BYTES + 1, 65535, 65536, 200_000];
    const sent: Buffer[] = [];
    for (const [i, size] of sizes.entries()) {
      const payload = Buffer.alloc(size, i + 1);
      if (size > 0) payload[size - 1] = 0xee;
      sent.push(payload);
      sink.send(payload);
      // ws' own sends share the socket: order holds across both paths
      const own = Buffer.from([0xaa, i]);
      sent.push(own);
      serverSide.send(own);
    }
    await waitForCount(received, sent.length);
    assert.is(received.length, sent.length);
    for (let i = 0; i < sent.length; i++) assert.ok(received[i]!.equals(sent[i]!), `message ${i} (${sent[i]!.length} bytes) differs`);
    // the budget reads the backlog through the sink
    assert.type(sink.bufferedAmount, 'number');
  } finally {
    client.terminate();
    server.close();
  }
});

test('after the server started closing, the sink writes no data frame behind the close frame', async () => {
  const { server, serverSide, client, received } = await pair();
  try {
    const sink = frameSink(serverSide);
    const closed = once(client, 'close');
    serverSide.close(1000, 'bye');
    sink.send(Buffer.from([1, 2, 3]));
    const [code] = await closed;
    assert.is(code, 1000, 'a clean close: no protocol error from a frame after the close frame');
    assert.equal(received, []);
  } finally {
    client.terminate();
    server.close();
  }
});

test.run();
