/**
 * What the app sees of requests during failover, with in-process nodes on loopback: calls in
 * flight when a node goes away are re-sent, app mistakes are not, and the deadline bounds all.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import '../client-sdk/node.js';
import { EdgeServer } from '../edge-server/index.js';
import type { InferenceEngine, RenderEngine, RenderedFrame } from '../edge-server/engines.js';
import { openSession } from '../client-sdk/openSession.js';
import type { Session } from '../client-sdk/session/Session.js';
import { MutableLocator } from '../client-sdk/placement/MutableLocator.js';
import { ErrorCode, RequestError, type RenderMessage, type Tensor } from '../protocol/index.js';

/** These tests are about nodes dying, not latency: a budget that a loaded machine's loopback cannot exceed. */
const LOOPBACK_BUDGET_MS = 1000;

/** A real (tiny) engine: `double` multiplies float32 inputs by 2; `hold` answers only when released. */
class DoublingEngine implements InferenceEngine {
  readonly models = ['double', 'hold'];
  readonly calls: string[] = [];
  readonly #held: (() => void)[] = [];
  async infer(model: string, input: Tensor): Promise<Tensor> {
    this.calls.push(model);
    if (!this.models.includes(model)) throw new RequestError(ErrorCode.UNKNOWN_MODEL, `no model '${model}'`);
    if (model === 'hold') await new Promise<void>((resolve) => this.#held.push(resolve));
    const values = new Float32Array(input.data.buffer.slice(input.data.byteOffset, input.data.byteOffset + input.data.byteLength)).map((v) => v * 2);
    return { dtype: 'float32', shape: input.shape, data: new Uint8Array(values.buffer) };
  }
  describe() {
    return { name: 'doubling' };
  }
  async close() {
    for (const release of this.#held.splice(0)) release();
  }
}

/** A real (tiny) renderer: a raw frame filled with the first byte of the session's scene. */
class SolidColorRenderer implements RenderEngine {
  readonly #scenes = new Map<string, Uint8Array>();
  async render(sessionId: string, request: RenderMessage): Promise<RenderedFrame> {
    const scene = this.#scenes.get(sessionId);
    if (!scene) throw new RequestError(ErrorCode.BAD_REQUEST, 'no scene uploaded in this session');
    const { width, height } = request.camera;
    return {
      pose: request.pose,
      eye: request.eye,
      codec: 'raw',
      width,
      height,
      data: new Uint8Array(width * height * 4).fill(scene[0]!),
      timings: { queueMs: 0, renderMs: 0, readbackMs: 0, encodeMs: 0 },
    };
  }
  async loadScene(sessionId: string, _name: string, glb: Uint8Array): Promise<void> {
    this.#scenes.set(sessionId, glb);
  }
  releaseSession(sessionId: string): void {
    this.#scenes.delete(sessionId);
  }
  describe() {
    return { name: 'solid-color' };
  }
  async close() {}
}

const tensor = (...values: number[]): Tensor => ({ dtype: 'float32', shape: [values.length], data: new Uint8Array(new Float32Array(values).buffer) });
const floats = (t: Tensor) => [...new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength))];

interface Ctx {
  servers: EdgeServer[];
  session?: Session;
}
const requests = suite<Ctx>('failover: requests across a switch', { servers: [] });

requests.before.each((ctx) => {
  ctx.servers = [];
  ctx.session = undefined;
});
requests.after.each(async (ctx) => {
  ctx.session?.close();
  await Promise.all(ctx.servers.map((s) => s.close({ deadlineMs: 0 })));
});

async function node(ctx: Ctx, tier: 'edge' | 'cloud', engine = new DoublingEngine()) {
  const server = new EdgeServer({ tier, inference: engine });
  ctx.servers.push(server);
  const { url } = await server.listen();
  return { server, engine, candidate: { id: server.nodeId, url, tier } };
}

requests('infer() in flight when the edge closes is re-sent to the standby cloud and resolves', async (ctx) => {
  const edge = await node(ctx, 'edge');
  const cloud = await node(ctx, 'cloud');
  const session = (ctx.session = await openSession({ locator: new MutableLocator({ edge: [edge.candidate], cloud: [cloud.candidate] }), budgetMs: LOOPBACK_BUDGET_MS }));
  while (!session.failover!.standbyNode) await session.waitFor('latency', 3000);
  const call = session.infer('hold', tensor(1, 2));
  while (!edge.engine.calls.includes('hold')) await session.waitFor('latency', 3000);
  await edge.server.close({ deadlineMs: 0 }); // closes sessions mid-request, no drain period
  // the cloud's engine holds it too; release it once it has arrived there
  while (!cloud.engine.calls.includes('hold')) await session.waitFor('latency', 3000);
  await cloud.engine.close();
  assert.equal(floats(await call), [2, 4]);
  assert.is(session.tier, 'cloud');
});

requests('a request the node refuses as wrong (unknown model) is rejected once, not retried', async (ctx) => {
  const edge = await node(ctx, 'edge');
  const session = (ctx.session = await openSession({ locator: new MutableLocator({ edge: [edge.candidate] }), budgetMs: LOOPBACK_BUDGET_MS, standby: false }));
  try {
    await session.infer('nope', tensor(1));
    assert.unreachable('should have rejected');
  } catch (err) {
    assert.is((err as RequestError).code, ErrorCode.UNKNOWN_MODEL);
  }
  assert.equal(edge.engine.calls.filter((m) => m === 'nope').length, 1);
});

requests('with no node at all, infer() waits for one until its deadline, then rejects with TIMEOUT', async (ctx) => {
  const session = (ctx.session = await openSession({ locator: new MutableLocator(), budgetMs: LOOPBACK_BUDGET_MS, requestTimeoutMs: 200 }));
  assert.is(session.tier, 'local');
  const started = performance.now();
  try {
    await session.infer('double', tensor(1));
    assert.unreachable('should have rejected');
  } catch (err) {
    assert.is((err as RequestError).code, ErrorCode.TIMEOUT);
  }
  assert.ok(performance.now() - started >= 195);
});

requests('a call parked while no node answers is served as soon as one appears', async (ctx) => {
  const locator = new MutableLocator();
  const session = (ctx.session = await openSession({ locator, budgetMs: LOOPBACK_BUDGET_MS, requestTimeoutMs: 5000 }));
  const call = session.infer('double', tensor(3));
  const cloud = await node(ctx, 'cloud');
  locator.add(cloud.candidate);
  assert.equal(floats(await call), [6]);
  assert.is(session.tier, 'cloud');
});

requests('predict() before any pose and with no node waits for the deadline instead of inventing a pose', async (ctx) => {
  const session = (ctx.session = await openSession({ locator: new MutableLocator(), budgetMs: LOOPBACK_BUDGET_MS, requestTimeoutMs: 100 }));
  try {
    await session.predict(20);
    assert.unreachable('should have rejected');
  } catch (err) {
    assert.is((err as RequestError).code, ErrorCode.TIMEOUT);
  }
  session.sendPose({ device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] });
  const local = await session.predict(20);
  assert.is(local.tier, 'local');
});

requests('a malformed call is rejected with a TypeError naming the field, and no node sees it', async (ctx) => {
  const edge = await node(ctx, 'edge');
  const session = (ctx.session = await openSession({ locator: new MutableLocator({ edge: [edge.candidate] }), budgetMs: LOOPBACK_BUDGET_MS, standby: false }));
  session.sendPose({ device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] });
  try {
    await session.predict(20_000); // over the protocol's 10 s horizon cap
    assert.unreachable('should have rejected');
  } catch (err) {
    assert.instance(err, TypeError);
    assert.match((err as Error).message, 'horizonMs');
  }
  assert.is(session.tier, 'edge', 'the session stayed where it was');
  assert.is((await session.predict(20)).tier, 'edge');
});

requests('a node whose predictor keeps failing (INTERNAL) does not fail predict(): bounded retries, then a local answer', async (ctx) => {
  const server = new EdgeServer({
    tier: 'edge',
    predictors: [{ name: 'broken', create: () => ({ predict: () => { throw new Error('injected predictor bug'); } }) }],
  });
  ctx.servers.push(server);
  const { url } = await server.listen();
  const session = (ctx.session = await openSession({ locator: new MutableLocator({ edge: [{ id: server.nodeId, url, tier: 'edge' }] }), budgetMs: LOOPBACK_BUDGET_MS, standby: false }));
  session.sendPose({ device: 'head', time: 1000, position: [0, 1.6, 0], orientation: [0, 0, 0, 1] });
  session.sendPose({ device: 'head', time: 12_000, position: [0.011, 1.6, 0], orientation: [0, 0, 0, 1] });
  const logError = console.error; // the node logs each injected bug with its stack; expected here
  console.error = () => {};
  const prediction = await session.predict(20).finally(() => (console.error = logError));
  assert.is(prediction.tier, 'local');
  assert.ok(Math.abs(prediction.pose.position[0] - 0.031) < 1e-9, 'constant velocity from the local history');
  assert.ok((server.health().errors as Record<string, number>).INTERNAL! >= 2, 'the node was retried');
});

requests('an uploaded scene is replayed on the cloud, so render() works right after the edge dies', async (ctx) => {
  const servers = (['edge', 'cloud'] as const).map((tier) => new EdgeServer({ tier, renderer: new SolidColorRenderer() }));
  ctx.servers.push(...servers);
  const [edge, cloud] = await Promise.all(servers.map(async (server) => ({ server, candidate: { id: server.nodeId, url: (await server.listen()).url, tier: server.tier } })));
  const session = (ctx.session = await openSession({ locator: new MutableLocator({ edge: [edge!.candidate], cloud: [cloud!.candidate] }), budgetMs: LOOPBACK_BUDGET_MS }));
  while (!session.failover!.standbyNode) await session.waitFor('latency', 3000);
  await session.uploadScene('room', new Uint8Array([42, 1, 2, 3]));
  const request = { pose: { device: 'head' as const, time: 1, position: [0, 1.6, 0] as [number, number, number], orientation: [0, 0, 0, 1] as [number, number, number, number] }, camera: { fovY: 90, ipd: 0.063, width: 2, height: 2 }, codec: 'raw' as const };
  assert.is((await session.render(request)).data[0], 42);
  await edge!.server.close({ deadlineMs: 0 });
  const frame = await session.render(request);
  assert.is(session.tier, 'cloud');
  assert.is(frame.data[0], 42, 'the cloud rendered the scene the app uploaded to the edge');
});

requests.run();
