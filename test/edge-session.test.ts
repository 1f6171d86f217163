import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Packr } from 'msgpackr';
import { connect, type Session } from '../client-sdk/node.js';
import { EdgeServer, constantVelocity, type RenderEngine } from '../edge-server/index.js';
import { kalmanPredictor } from '../edge-server/inference/index.js';
import { CloseCode, ErrorCode, PROTOCOL_VERSION, quaternion, type Message } from '../protocol/index.js';
import { pose } from './support/messages.js';
import { RawClient } from './support/rawClient.js';
import { rejects } from './support/assertions.js';
import { waitFor } from './support/wait.js';

interface Context {
  server: EdgeServer;
  url: string;
  /** A well-behaved session that must keep working whatever the others send. */
  bystander: Session;
}

const edge = suite<Context>('edge session');

edge.before.each(async (ctx) => {
  ctx.server = new EdgeServer({ nodeId: 'test-edge', helloTimeoutMs: 300, limits: { maxFrameBytes: 64 * 1024 } });
  ctx.url = (await ctx.server.listen()).url;
  ctx.bystander = await connect(ctx.url, { pingIntervalMs: 0 });
  ctx.bystander.sendPose(pose);
});

edge.after.each(async (ctx) => {
  ctx.bystander.close();
  await ctx.server.close({ deadlineMs: 0 });
});

/** The bystander still gets a correct prediction: the server is unharmed. */
async function bystanderServed(ctx: Context): Promise<void> {
  const prediction = await ctx.bystander.predict(20);
  assert.is(prediction.pose.time, pose.time + 20_000);
}

edge('predict over loopback extrapolates the streamed head pose at constant velocity', async (ctx) => {
  const session = await connect(ctx.url, { pingIntervalMs: 0 });
  // yaw at 90°/s: +50 ms must be 4.5° further round
  const yawRate = Math.PI / 2;
  for (let i = 0; i < 10; i++) {
    const t = i * 11_111;
    session.sendPose({ device: 'head', time: t, position: [0, 1.6, 0], orientation: quaternion.fromRotationVector([0, (yawRate * t) / 1e6, 0]) });
  }
  const prediction = await session.predict(50);
  assert.is(prediction.tier, 'edge');
  assert.is(prediction.nodeId, 'test-edge');
  assert.is(prediction.predictor, 'constant-velocity');
  const expected = quaternion.fromRotationVector([0, (yawRate * (99_999 + 50_000)) / 1e6, 0]);
  const errorDeg = (quaternion.angleBetween(prediction.pose.orientation, expected) * 180) / Math.PI;
  assert.ok(errorDeg < 0.01, `prediction off by ${errorDeg}°`);
  session.close();
});

edge('rtt() reports median and p99 from real pings', async (ctx) => {
  const session = await connect(ctx.url, { pingIntervalMs: 5 });
  await waitFor(() => session.rtt().count >= 5, '5 pongs');
  const rtt = session.rtt();
  assert.ok(rtt.p50 > 0 && rtt.p50 < 50, `p50 ${rtt.p50}`);
  assert.ok(rtt.p99 >= rtt.p50);
  session.close();
});

edge('predict before any pose is a non-fatal BAD_REQUEST; unknown predictor too', async (ctx) => {
  const session = await connect(ctx.url, { pingIntervalMs: 0 });
  await rejects(session.predict(20), ErrorCode.BAD_REQUEST);
  session.sendPose(pose);
  await rejects(session.predict(20, { predictor: 'crystal-ball' }), ErrorCode.BAD_REQUEST);
  assert.is((await session.predict(20)).pose.time, pose.time + 20_000);
  session.close();
});

edge('infer and render on a node without those engines answer UNSUPPORTED and the session lives on', async (ctx) => {
  const session = await connect(ctx.url, { pingIntervalMs: 0 });
  await rejects(session.infer('m', { dtype: 'float32', shape: [1], data: new Uint8Array(4) }), ErrorCode.UNSUPPORTED);
  await rejects(session.render({ pose, camera: { fovY: 90, ipd: 0.064, width: 64, height: 64 } }), ErrorCode.UNSUPPORTED);
  session.sendPose(pose);
  await session.predict(10);
  session.close();
});

const plain = new Packr({ useRecords: false });
const risky = new Packr({ useRecords: true, moreTypes: true });
const badInputs: [string, Uint8Array | string, string, number][] = [
  ['garbage bytes', new Uint8Array([0xc1, 0x00, 0xff]), ErrorCode.BAD_FRAME, CloseCode.PROTOCOL],
  ['truncated msgpack', plain.pack({ t: 'ping', id: 1, c: 5 }).subarray(0, 6), ErrorCode.TRUNCATED, CloseCode.PROTOCOL],
  ['wrong field types', plain.pack({ t: 'ping', id: 'one', c: 5 }), ErrorCode.BAD_MESSAGE, CloseCode.PROTOCOL],
  ['unknown type', plain.pack({ t: 'format-disk' }), ErrorCode.UNKNOWN_TYPE, CloseCode.PROTOCOL],
  ['RegExp extension', risky.pack({ t: 'ping', id: 1, c: /(a+)+$/ }), ErrorCode.FORBIDDEN_EXTENSION, CloseCode.PROTOCOL],
  ['Error extension', risky.pack({ t: 'ping', id: 1, c: new Error('x') }), ErrorCode.FORBIDDEN_EXTENSION, CloseCode.PROTOCOL],
  ['oversize frame', new Uint8Array(64 * 1024 + 1), ErrorCode.TOO_LARGE, CloseCode.TOO_BIG],
  ['text frame', 'hello', ErrorCode.BAD_FRAME, CloseCode.PROTOCOL],
];

for (const [name, bytes, code, closeCode] of badInputs) {
  edge(`${name} → fatal error ${code}, close ${closeCode}, other sessions unharmed`, async (ctx) => {
    const client = await RawClient.open(ctx.url);
    await client.hello();
    client.sendBytes(bytes);
    const error = await client.next((m) => m.t === 'error');
    assert.ok(error.t === 'error');
    assert.is(error.code, code);
    assert.is(error.fatal, true);
    assert.is((await client.closed).code, closeCode);
    await bystanderServed(ctx);
  });
}

edge('a frame far over the limit is cut off by ws itself (1009) without reading it', async (ctx) => {
  const client = await RawClient.open(ctx.url);
  client.sendBytes(new Uint8Array(64 * 1024 * 2 + 1));
  assert.is((await client.closed).code, 1009);
  await bystanderServed(ctx);
});

edge('anything before hello is NOT_READY; a session that never says hello is closed', async (ctx) => {
  const early = await RawClient.open(ctx.url);
  early.send({ t: 'ping', id: 1, c: 1 });
  assert.is(((await early.next((m) => m.t === 'error')) as Extract<Message, { t: 'error' }>).code, ErrorCode.NOT_READY);
  const silent = await RawClient.open(ctx.url);
  assert.is((await silent.closed).code, CloseCode.HELLO_TIMEOUT);
  await bystanderServed(ctx);
});

edge('a client speaking another protocol version is refused with VERSION_MISMATCH', async (ctx) => {
  const client = await RawClient.open(ctx.url);
  client.send({ t: 'hello', v: PROTOCOL_VERSION + 1 });
  assert.is(((await client.next((m) => m.t === 'error')) as Extract<Message, { t: 'error' }>).code, ErrorCode.VERSION_MISMATCH);
  assert.is((await client.closed).code, CloseCode.VERSION_MISMATCH);
  await rejects(connect(ctx.url.replace('/v1/session', '/v0'), { pingIntervalMs: 0 }), /could not connect/);
});

edge('a session flooding faster than its rate cap is closed with RATE_LIMITED; others keep going', async () => {
  // a low cap keeps this deterministic on a loaded machine: 200 messages can never take 9 s
  const strict = new EdgeServer({ limits: { maxMessagesPerSecond: 20, rateBurst: 20 } });
  const url = (await strict.listen()).url;
  const bystander = await connect(url, { pingIntervalMs: 0 });
  const client = await RawClient.open(url);
  await client.hello();
  const ping = plain.pack({ t: 'ping', id: 1, c: 1 });
  for (let i = 0; i < 200; i++) client.sendBytes(ping);
  assert.is(((await client.next((m) => m.t === 'error' && m.fatal)) as Extract<Message, { t: 'error' }>).code, ErrorCode.RATE_LIMITED);
  assert.is((await client.closed).code, CloseCode.RATE_LIMITED);
  bystander.sendPose(pose);
  assert.is((await bystander.predict(10)).pose.time, pose.time + 10_000);
  bystander.close();
  await strict.close({ deadlineMs: 0 });
});

edge('a predict carrying poses is answered from them, and they join the history for later predicts', async (ctx) => {
  const client = await RawClient.open(ctx.url);
  await client.hello();
  // no pose message at all: the frame's pose rides on its predict
  client.send({ t: 'predict', id: 1, horizonMs: 20, predictor: 'constant-velocity', poses: [pose, { ...pose, time: pose.time + 11_000 }] });
  const first = await client.next((m) => m.t === 'prediction' && m.id === 1);
  assert.is(first.t === 'prediction' && first.pose.time, pose.time + 11_000 + 20_000);
  client.send({ t: 'predict', id: 2, horizonMs: 10 });
  const second = await client.next((m) => m.t === 'prediction' && m.id === 2);
  assert.is(second.t === 'prediction' && second.pose.time, pose.time + 11_000 + 10_000);
  // a malformed carried pose fails the whole message like any bad field, naming the field
  client.sendBytes(plain.pack({ t: 'predict', id: 3, horizonMs: 10, poses: [{ ...pose, orientation: [0, 0, 1] }] }));
  const error = await client.next((m) => m.t === 'error');
  assert.ok(error.t === 'error' && error.code === ErrorCode.BAD_MESSAGE && /predict\.poses\[0\]\.orientation/.test(error.message), JSON.stringify(error));
  client.close();
});

edge('a predictor answering NaN gets the client an INTERNAL error, not a closed session', async () => {
  const broken = { name: 'broken', create: () => ({ predict: () => ({ ...pose, position: [Number.NaN, 0, 0] as [number, number, number] }) }) };
  const server = new EdgeServer({ predictors: [constantVelocity, broken] });
  const session = await connect((await server.listen()).url, { pingIntervalMs: 0 });
  session.sendPose(pose);
  await rejects(session.predict(10, { predictor: 'broken' }), ErrorCode.INTERNAL);
  assert.is((await session.predict(10, { predictor: 'constant-velocity' })).predictor, 'constant-velocity');
  session.close();
  await server.close({ deadlineMs: 0 });
});

edge('hello with resume state replays poses, so predict works at once on a new node', async (ctx) => {
  const session = await connect(ctx.url, { pingIntervalMs: 0, hello: { resume: { poses: [pose, { ...pose, time: pose.time + 11_000 }] } } });
  const prediction = await session.predict(30);
  assert.is(prediction.pose.time, pose.time + 11_000 + 30_000);
  session.close();
});

edge('a resume naming a predictor this node lacks falls back to the default instead of failing', async (ctx) => {
  const session = await connect(ctx.url, { pingIntervalMs: 0, hello: { resume: { predictor: 'learned', poses: [pose] } } });
  assert.is((await session.predict(10)).predictor, 'constant-velocity');
  session.close();
});

edge('a render sent right after a scene upload waits for that scene', async () => {
  const order: string[] = [];
  const renderer: RenderEngine = {
    async loadScene(_session, name) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      order.push(`loaded ${name}`);
    },
    async render(_session, request) {
      order.push(`render ${request.scene}`);
      return { pose: request.pose, eye: request.eye, codec: 'raw', width: 1, height: 1, data: new Uint8Array(4), timings: { queueMs: 0, renderMs: 0, readbackMs: 0, encodeMs: 0 } };
    },
    releaseSession() {},
    describe: () => ({ engine: 'order-recorder' }),
    close: async () => {},
  };
  const server = new EdgeServer({ renderer });
  const session = await connect((await server.listen()).url, { pingIntervalMs: 0 });
  const upload = session.uploadScene('room', new Uint8Array(16));
  await session.render({ pose, camera: { fovY: 90, ipd: 0.064, width: 1, height: 1 } });
  await upload;
  assert.equal(order, ['loaded room', 'render room']);
  session.close();
  await server.close({ deadlineMs: 0 });
});

edge('public GET /healthz says only up; the detailed health (admin) reports sessions, predictors and error counts', async (ctx) => {
  const client = await RawClient.open(ctx.url);
  await client.hello();
  client.sendBytes(new Uint8Array([0xc1]));
  await client.closed;
  assert.equal(await (await fetch(ctx.url.replace('ws://', 'http://').replace('/v1/session', '/healthz'))).json(), { status: 'up' });
  const health = ctx.server.health() as { status: string; nodeId: string; sessions: number; predictors: string[]; errors: Record<string, number> };
  assert.is(health.status, 'ok');
  assert.is(health.nodeId, 'test-edge');
  assert.is(health.sessions, 1);
  assert.equal(health.predictors, ['constant-velocity', 'none']);
  assert.is(health.errors.BAD_FRAME, 1);
});

edge('close() drains: clients get drain, then the node stops accepting sessions', async (ctx) => {
  const drained = ctx.bystander.waitFor('drain', 2000);
  const closing = ctx.server.close({ deadlineMs: 200, reason: 'maintenance' });
  assert.equal(await drained, ['maintenance']);
  await rejects(connect(ctx.url, { pingIntervalMs: 0, connectTimeoutMs: 500 }));
  await closing;
  await waitFor(() => ctx.bystander.closed, 'bystander closed after the drain deadline');
});

edge('a tracking reset reaches the app: the prediction says the guard answered (fallback: reset)', async () => {
  const server = new EdgeServer({ nodeId: 'guarded-edge', predictors: [kalmanPredictor()], defaultPredictor: 'kalman' });
  const { url } = await server.listen();
  const session = await connect(url, { pingIntervalMs: 0 });
  try {
    // 36 Hz, still head; then the tracker re-localises: the position jumps 3 m in one sample
    for (let i = 0; i < 20; i++) session.sendPose({ device: 'head', time: i * 27_778, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] });
    assert.is((await session.predict(50)).fallback, undefined);
    session.sendPose({ device: 'head', time: 20 * 27_778, position: [3, 1.6, 0], orientation: [0, 0, 0, 1] });
    const prediction = await session.predict(50);
    assert.is(prediction.fallback, 'reset');
    assert.ok(quaternion.angleBetween(prediction.pose.orientation, [0, 0, 0, 1]) < 0.01, 'orientation stays put through a position reset');
  } finally {
    session.close();
    await server.close({ deadlineMs: 0 });
  }
});

edge.run();
