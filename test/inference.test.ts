import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, fromWireTensor, toWireTensor, type Tensor } from '../protocol/index.js';
import { loadInference, type LoadedInference } from '../edge-server/inference/index.js';
import { DEFAULT_WINDOW_SPEC, featureCount } from '../edge-server/inference/motionWindow.js';
import { EdgeServer } from '../edge-server/index.js';
import { connect, type Session } from '../client-sdk/node.js';
import { angleBetween } from '../protocol/motion/quaternion.js';
import { rejects } from './support/assertions.js';
import { constantMotion, DEG } from './support/motionFixtures.js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const test = suite('inference engine');
let inference: LoadedInference;
const MODEL = 'head-predictor';
// the shipped model's input width (its window spec), as the registry reads it from model.json
const WIDTH = featureCount(DEFAULT_WINDOW_SPEC);

test.before(async () => {
  inference = await loadInference({ log: () => {}, maxElements: 1024 });
});
test.after(async () => {
  await inference.engine.close();
});

function sample(seed: number, rows?: number): Tensor {
  const n = (rows ?? 1) * WIDTH;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(seed * 13.1 + i * 0.7) * 0.2;
  return toWireTensor(data, rows === undefined ? [WIDTH] : [rows, WIDTH]);
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

test('loads the committed model from disk with its input signature and reports the backend', () => {
  assert.ok(inference.engine.models.includes(MODEL));
  const d = inference.engine.describe() as { backend: string; models: { name: string; input: { shape: number[]; dtype: string } }[] };
  assert.ok(['tensorflow', 'wasm', 'cpu'].includes(d.backend));
  const m = d.models.find((x) => x.name === MODEL)!;
  assert.equal(m.input, { shape: [WIDTH], dtype: 'float32' });
  assert.is(inference.predictors[0]!.name, 'learned');
});

test('single sample and batch answers agree, and concurrent requests are batched', async () => {
  const single = fromWireTensor(await inference.engine.infer(MODEL, sample(1))) as Float32Array;
  assert.is(single.length, 6);
  const batch = await inference.engine.infer(MODEL, sample(1, 3));
  assert.equal(batch.shape, [3, 6]);
  const before = (inference.engine.describe() as { batching: { perModel: Record<string, { batches: number; requests: number }> } }).batching.perModel[MODEL]!;
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => inference.engine.infer(MODEL, sample(i % 4 === 0 ? 1 : i))));
  const after = (inference.engine.describe() as { batching: { perModel: Record<string, { batches: number; requests: number }> } }).batching.perModel[MODEL]!;
  assert.is(after.requests - before.requests, 40);
  assert.ok(after.batches - before.batches < 5, `40 concurrent requests ran in ${after.batches - before.batches} batches`);
  // each request gets its own row back, equal to running it alone
  const again = fromWireTensor(answers[0]!) as Float32Array;
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(again[i]! - single[i]!) < 1e-5);
  const other = fromWireTensor(answers[2]!) as Float32Array;
  assert.ok(other.some((v, i) => Math.abs(v - single[i]!) > 1e-6), 'different inputs give different outputs');
});

test("the learned predictor's JavaScript forward pass equals the tfjs one, row by row and batched", () => {
  const dense = inference.registry.get(MODEL)!.denseStack!;
  assert.ok(dense, 'the shipped model is a Dense stack');
  for (const rows of [1, 3, 17]) {
    const input = fromWireTensor(sample(rows + 5, rows)) as Float32Array;
    // exact zeros and large values too: the JS loop skips zero inputs and must not lose them
    for (let i = 0; i < input.length; i += 7) input[i] = 0;
    input[1] = 4;
    const js = dense.runJs(input, rows);
    const tf = dense.run(input, rows);
    assert.is(js.length, rows * 6);
    for (let i = 0; i < js.length; i++) assert.ok(Math.abs(js[i]! - tf[i]!) <= 1e-4 * (1 + Math.abs(tf[i]!)), `row ${Math.floor(i / 6)} output ${i % 6}: js ${js[i]} vs tfjs ${tf[i]}`);
  }
});

test('malformed requests are rejected with stable codes and the engine keeps serving', async () => {
  assert.is(await code(inference.engine.infer('no-such-model', sample(1))), ErrorCode.UNKNOWN_MODEL);
  assert.is(await code(inference.engine.infer(MODEL, toWireTensor(new Float32Array(10), [10]))), ErrorCode.BAD_REQUEST);
  assert.is(await code(inference.engine.infer(MODEL, toWireTensor(new Float32Array(WIDTH * 2), [2, 1, WIDTH]))), ErrorCode.BAD_REQUEST);
  assert.is(await code(inference.engine.infer(MODEL, toWireTensor(new Int32Array(WIDTH), [WIDTH]))), ErrorCode.BAD_REQUEST);
  const nan = new Float32Array(WIDTH);
  nan[5] = NaN;
  assert.is(await code(inference.engine.infer(MODEL, toWireTensor(nan, [WIDTH]))), ErrorCode.BAD_REQUEST);
  const inf = new Float32Array(WIDTH);
  inf[0] = Infinity;
  assert.is(await code(inference.engine.infer(MODEL, toWireTensor(inf, [WIDTH]))), ErrorCode.BAD_REQUEST);
  assert.is(await code(inference.engine.infer(MODEL, sample(1, 100))), ErrorCode.TOO_LARGE); // 100 rows × WIDTH > 1024
  // shape that claims more bytes than sent
  assert.is(await code(inference.engine.infer(MODEL, { dtype: 'float32', shape: [WIDTH], data: new Uint8Array(8) })), ErrorCode.BAD_REQUEST);
  const ok = await inference.engine.infer(MODEL, sample(2));
  assert.equal(ok.shape, [6]);
  assert.ok((inference.engine.describe() as { rejected: number }).rejected >= 8);
});

test.run();

interface SocketContext {
  server: EdgeServer;
  session: Session;
  url: string;
}
const socket = suite<SocketContext>('inference over a socket');

socket.before(async (ctx) => {
  const loaded = await loadInference({ log: () => {}, maxElements: 1024 });
  ctx.server = new EdgeServer({ nodeId: 'inference-test', inference: loaded.engine, predictors: loaded.predictors });
  ctx.url = (await ctx.server.listen()).url;
  ctx.session = await connect(ctx.url, { pingIntervalMs: 0 });
});
socket.after(async (ctx) => {
  ctx.session.close();
  await ctx.server.close({ deadlineMs: 0 });
});

socket('the learned model, loaded from disk, answers predict over a real socket', async (ctx) => {
  const turn = constantMotion([0, 60 * DEG, 0], [0.2, 0, 0]);
  const samples = turn.samples(0.4);
  for (const s of samples) ctx.session.sendPose(s);
  const last = samples[samples.length - 1]!;
  const truth = turn.at(last.time / 1e6 + 0.05);
  const learned = await ctx.session.predict(50, { predictor: 'learned' });
  assert.is(learned.predictor, 'learned');
  assert.is(learned.pose.time, last.time + 50_000);
  const moved = angleBetween(last.orientation, truth.orientation);
  assert.ok(angleBetween(learned.pose.orientation, truth.orientation) < 0.1 * moved, 'learned captures ≥ 90% of the turn');
  const kalman = await ctx.session.predict(50, { predictor: 'kalman' });
  assert.is(kalman.predictor, 'kalman');
  assert.ok(angleBetween(kalman.pose.orientation, truth.orientation) < 0.1 * moved);
});

socket('malformed infer gets an error with a code and the session keeps working', async (ctx) => {
  const good = await ctx.session.infer(MODEL, sample(3));
  assert.equal(good.shape, [6]);
  await rejects(ctx.session.infer('no-such-model', sample(3)), ErrorCode.UNKNOWN_MODEL);
  await rejects(ctx.session.infer(MODEL, toWireTensor(new Float32Array(12), [3, 4])), ErrorCode.BAD_REQUEST);
  const nan = new Float32Array(WIDTH).fill(0.1);
  nan[WIDTH - 1] = NaN;
  await rejects(ctx.session.infer(MODEL, toWireTensor(nan, [WIDTH])), ErrorCode.BAD_REQUEST);
  await rejects(ctx.session.infer(MODEL, sample(3, 60)), ErrorCode.TOO_LARGE);
  const again = await ctx.session.infer(MODEL, sample(3));
  assert.equal([...(fromWireTensor(again) as Float32Array)], [...(fromWireTensor(good) as Float32Array)]);
  ctx.session.sendPose(constantMotion([0, 0, 0], [0, 0, 0]).at(1));
  assert.is((await ctx.session.predict(20, { predictor: 'learned' })).predictor, 'learned');
});

socket('the node health reports the tfjs backend, models and batching', async (ctx) => {
  const health = ctx.server.health() as { inference: { backend: string; models: { name: string }[]; batching: unknown } };
  assert.ok(['tensorflow', 'wasm', 'cpu'].includes(health.inference.backend));
  assert.ok(health.inference.models.some((m) => m.name === MODEL));
  assert.ok(health.inference.batching);
});

socket.run();

const fallback = suite('inference without tfjs-node');

fallback('an edge node on the wasm backend serves learned predict and infer, and says so in its log; its public health says only up', async () => {
  const cli = fileURLToPath(new URL('../bin/edge-offload.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'edge', '--port', '0'], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, EDGE_TF_BACKEND: 'wasm' } });
  try {
    const logs: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`edge node did not start in 20 s; output: ${logs.join(' | ')}`)), 20_000);
      child.once('exit', (code) => reject(new Error(`edge node exited with ${code}: ${logs.join(' | ')}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        logs.push(line);
        const event = JSON.parse(line) as { event: string; url?: string };
        if (event.event === 'listening') {
          clearTimeout(timer);
          resolve(event.url!);
        }
      });
    });
    assert.ok(logs.some((l) => l.includes('tfjs backend: wasm')), logs.join('\n'));
    // the backend is an operator detail (GET /admin/health); the public health says only up
    assert.equal(await (await fetch(url.replace('ws://', 'http://').replace('/v1/session', '/healthz'))).json(), { status: 'up' });
    const session = await connect(url, { pingIntervalMs: 0 });
    const turn = constantMotion([0, 60 * DEG, 0], [0, 0, 0]);
    for (const s of turn.samples(0.3)) session.sendPose(s);
    assert.is((await session.predict(50, { predictor: 'learned' })).predictor, 'learned');
    assert.equal((await session.infer(MODEL, sample(4))).shape, [6]);
    session.close();
  } finally {
    child.kill('SIGKILL');
  }
});

fallback.run();
