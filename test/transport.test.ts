/**
 * WebSocketTransport against a peer that accepts TCP but never answers the upgrade: the connect
 * timeout rejects with NODE_UNREACHABLE, and closing the still-CONNECTING ws socket (which makes
 * ws emit 'error') does not become an uncaught exception that takes the process down.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocket } from 'ws';
import { ConnectError } from '../client-sdk/errors.js';
import { WebSocketTransport, type WebSocketConstructor } from '../client-sdk/transport/WebSocketTransport.js';

const test = suite('websocket transport');

test('a connect timeout on a silent peer rejects with NODE_UNREACHABLE and raises nothing uncaught', async () => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => sockets.add(socket.on('error', () => {})));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    const { port } = silent.address() as AddressInfo;
    const error = await WebSocketTransport.open(`ws://127.0.0.1:${port}/v1/session`, { WebSocket: WebSocket as unknown as WebSocketConstructor, maxFrameBytes: 1 << 20, connectTimeoutMs: 50 }).then(
      () => assert.unreachable('connected to a peer that never answers'),
      (err: unknown) => err,
    );
    assert.instance(error, ConnectError);
    assert.is((error as ConnectError).code, 'NODE_UNREACHABLE');
    // ws emits its 'error' for the aborted handshake on a later tick
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test.run();
