import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket, WebSocketServer } from 'ws';
import { ErrorCode } from '../protocol/index.js';
import { FrameBackpressure } from '../edge-server/render/frameBackpressure.js';

const test = suite('frameBackpressure');

const ctx: { wss?: WebSocketServer; client?: WebSocket; server?: WebSocket } = {};

test.before.each(async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const port = (wss.address() as { port: number }).port;
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise<void>((resolve, reject) => {
    client.once('open', resolve);
    client.once('error', reject);
  });
  Object.assign(ctx, { wss, client, server: await accepted });
});

test.after.each(async () => {
  ctx.client?.terminate();
  await new Promise<void>((resolve) => ctx.wss?.close(() => resolve()) ?? resolve());
});

test('frames are dropped while a client that stopped reading leaves more than maxBufferedBytes unsent, and flow again once it catches up', async () => {
  const { client, server } = ctx as Required<typeof ctx>;
  const backpressure = new FrameBackpressure({ maxBufferedBytes: 512 << 10 });
  let received = 0;
  client.on('message', () => received++);
  // The client stops reading its TCP socket: the server's kernel buffers fill, then ws buffers.
  (client as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
  const frame = new Uint8Array(256 << 10);
  let sent = 0;
  while (backpressure.admit(server)) {
    server.send(frame);
    sent++;
    if (sent > 400) assert.unreachable('bufferedAmount never passed the limit');
    // Let the socket write what the kernel accepts before deciding on the next frame.
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(server.bufferedAmount > backpressure.maxBufferedBytes);
  assert.is(backpressure.dropped, 1);
  const error = backpressure.droppedError(7, server);
  assert.is(error.code, ErrorCode.FRAME_DROPPED);
  assert.is(error.id, 7);
  assert.is(error.fatal, false);

  const allReceived = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received}/${sent} frames arrived in 10 s`)), 10_000);
    client.on('message', () => {
      if (received === sent) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  (client as unknown as { _socket: { resume(): void } })._socket.resume();
  await allReceived;
  assert.ok(backpressure.admit(server), `admits again (bufferedAmount ${server.bufferedAmount})`);
});

test.run();
