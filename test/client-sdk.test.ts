import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { connect, ConnectError, ConnectErrorCode, EnhancedEventEmitter } from '../client-sdk/node.js';
import { NodeConnection } from '../client-sdk/link/NodeConnection.js';
import { RttStats } from '../client-sdk/link/RttStats.js';
import { EdgeServer } from '../edge-server/index.js';
import { ErrorCode, PROTOCOL_VERSION, decode, encode, type Message } from '../protocol/index.js';
import { examples, pose } from './support/messages.js';
import { rejects } from './support/assertions.js';
import { waitFor } from './support/wait.js';

const sdk = suite('client sdk');

sdk('RttStats keeps a sliding window and interpolates percentiles', () => {
  const stats = new RttStats(4);
  assert.ok(Number.isNaN(stats.summary().p50));
  for (const v of [10, 1, 2, 3, 4]) stats.add(v); // 10 falls out of the window
  const { p50, p99, last, count } = stats.summary();
  assert.equal({ p50, last, count }, { p50: 2.5, last: 4, count: 4 });
  assert.ok(Math.abs(p99 - 3.97) < 1e-9);
});

sdk('a throwing listener does not break the emitter; listenererror reports it', () => {
  class Emitter extends EnhancedEventEmitter<{ tick: [number] }> {
    tick(n: number) {
      this.safeEmit('tick', n);
    }
  }
  const emitter = new Emitter();
  const seen: number[] = [];
  const failures: string[] = [];
  emitter.on('tick', () => {
    throw new Error('app bug');
  });
  emitter.on('tick', (n) => seen.push(n));
  emitter.on('listenererror', (event, error) => failures.push(`${event}: ${(error as Error).message}`));
  emitter.tick(1);
  assert.equal(seen, [1]);
  assert.equal(failures, ['tick: app bug']);
});

sdk('sendPose rejects malformed poses with a TypeError naming the field', async () => {
  const server = new EdgeServer();
  const session = await connect((await server.listen()).url, {});
  assert.throws(() => session.sendPose({ ...pose, orientation: [0, 0, 1] as never }), /pose\.orientation/);
  assert.throws(() => session.sendPose({ ...pose, position: [0, Number.NaN, 0] }), /pose\.position/);
  assert.throws(() => session.sendPose({ ...pose, device: 'knee' as never }), /pose\.device/);
  session.sendPose(pose);
  assert.is(session.predictLocally(10).tier, 'local');
  session.close();
  await server.close({ deadlineMs: 0 });
});

sdk('connecting to a port where nothing listens fails with a message saying what to check', async () => {
  const server = new EdgeServer();
  const { url } = await server.listen();
  await server.close({ deadlineMs: 0 });
  await rejects(connect(url, { pingIntervalMs: 0, connectTimeoutMs: 1000 }), ConnectErrorCode.NODE_UNREACHABLE);
});

sdk('a node that refuses the hello fails connect with HANDSHAKE_REJECTED, its own code kept as the cause', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) =>
    ws.on('message', (data: Buffer) => {
      if (decode(data).t === 'hello') ws.send(encode({ t: 'error', code: ErrorCode.VERSION_MISMATCH, message: 'speak v99', fatal: true }));
    }),
  );
  const error = await rejects(connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { pingIntervalMs: 0 }), ConnectErrorCode.HANDSHAKE_REJECTED);
  assert.instance(error, ConnectError);
  assert.is((error.cause as { code?: string }).code, ErrorCode.VERSION_MISMATCH);
  await new Promise((resolve) => wss.close(resolve));
});

sdk('a socket that opens but never says welcome fails connect with HANDSHAKE_TIMEOUT', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  await rejects(connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { pingIntervalMs: 0, connectTimeoutMs: 300 }), ConnectErrorCode.HANDSHAKE_TIMEOUT);
  for (const client of wss.clients) client.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

/** A node that says welcome and then answers nothing: requests must time out, then fail on close. */
async function mutePeer() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) =>
    ws.on('message', (data: Buffer) => {
      if (decode(data).t === 'hello') ws.send(encode({ ...examples.welcome, v: PROTOCOL_VERSION }));
    }),
  );
  return { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

sdk('a request with no answer rejects with TIMEOUT; pending requests reject with CLOSED on close', async () => {
  const { wss, url } = await mutePeer();
  const connection = await NodeConnection.open(url, {});
  await rejects(connection.request({ t: 'predict', horizonMs: 10 }, 50), ErrorCode.TIMEOUT);
  const pending = connection.request({ t: 'predict', horizonMs: 10 }, 5000);
  connection.close();
  const error = await rejects(pending, ErrorCode.CLOSED);
  assert.is(error.name, 'InvalidStateError');
  await rejects(connection.request({ t: 'predict', horizonMs: 10 }, 50), ErrorCode.CLOSED);
  await new Promise((resolve) => wss.close(resolve));
});

sdk('a node that sends garbage is dropped by the client, with the pending call rejected', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) =>
    ws.on('message', (data: Buffer) => {
      ws.send(decode(data).t === 'hello' ? encode(examples.welcome) : new Uint8Array([0xc1]));
    }),
  );
  const connection = await NodeConnection.open(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {});
  const nodeError = connection.waitFor('nodeerror', 1000);
  await rejects(connection.request({ t: 'predict', horizonMs: 10 }, 1000), ErrorCode.CLOSED);
  assert.is((await nodeError)[0].code, ErrorCode.BAD_FRAME);
  await new Promise((resolve) => wss.close(resolve));
});

sdk('a pose and the predict asked in the same turn leave as one frame; a lone pose leaves at the end of its turn, in order', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const frames: Message[] = [];
  wss.on('connection', (ws) =>
    ws.on('message', (data: Buffer) => {
      const m = decode(data);
      if (m.t === 'hello') ws.send(encode({ ...examples.welcome, v: PROTOCOL_VERSION }));
      else frames.push(m);
    }),
  );
  const connection = await NodeConnection.open(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {});
  const at = (ms: number) => ({ ...pose, time: pose.time + ms * 1000 });
  connection.sendPose(at(0));
  connection.sendPose(at(11));
  void connection.request({ t: 'predict', horizonMs: 20 }, 5000).catch(() => {});
  connection.sendPose(at(22)); // nothing follows in this turn: it goes alone
  await waitFor(() => frames.length >= 2, 'the first two frames');
  connection.sendPose(at(33));
  void connection.request({ t: 'ping', c: 1 }, 5000).catch(() => {}); // not a predict: the pose goes first
  await waitFor(() => frames.length >= 4, 'four frames');
  const summary = frames.map((m) => (m.t === 'predict' ? `predict+${m.poses?.length ?? 0}` : m.t === 'pose' ? `pose:${m.poses.map((p) => (p.time - pose.time) / 1000).join(',')}` : m.t));
  assert.equal(summary, ['predict+2', 'pose:22', 'pose:33', 'ping']);
  connection.close();
  await new Promise((resolve) => wss.close(resolve));
});

sdk.run();
