import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, fromWireTensor, toWireTensor, type Tensor } from '../protocol/index.js';
import { loadInference, type LoadedInference } from '../edge-server/inference/index.js';

const test = suite('inference engine');
let inference: LoadedInference;
const MODEL = 'head-predictor';
const WIDTH = 73;

test.before(async () => {
  inference = await loadInference({ log: () => {}, maxElements: 4096 });
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

test('malformed requests are rejected with stable codes and the engine keeps serving', async () => {
  assert.is(await code(inference.engine.infer('no-such-model', sample(1))), ErrorCode.UNKNOWN_MODEL);
  assert.is(await code(inference.engine.infer(MODEL, toWireTensor(new Float32Array(10), [10]))), ErrorCode.BAD_REQUEST);
  assert.is(await code(inference.engine.infer(MODEL, toWireTensor(new Float32Array(WIDTH * 2), [2, WIDTH / 73, 73]))), ErrorCode.BAD_REQUEST);
  assert.is(await code(inference.engine.infer(MODEL, toWireTensor(new Int32Array(WIDTH), [WIDTH]))), ErrorCode.BAD_REQUEST);
  const nan = new Float32Array(WIDTH);
  nan[5] = NaN;
  assert.is(await code(inference.engine.infer(MODEL, toWireTensor(nan, [WIDTH]))), ErrorCode.BAD_REQUEST);
  const inf = new Float32Array(WIDTH);
  inf[0] = Infinity;
  assert.is(await code(inference.engine.infer(MODEL, toWireTensor(inf, [WIDTH]))), ErrorCode.BAD_REQUEST);
  assert.is(await code(inference.engine.infer(MODEL, sample(1, 100))), ErrorCode.TOO_LARGE); // 7300 > 4096
  // shape that claims more bytes than sent
  assert.is(await code(inference.engine.infer(MODEL, { dtype: 'float32', shape: [WIDTH], data: new Uint8Array(8) })), ErrorCode.BAD_REQUEST);
  const ok = await inference.engine.infer(MODEL, sample(2));
  assert.equal(ok.shape, [6]);
  assert.ok((inference.engine.describe() as { rejected: number }).rejected >= 8);
});

test.run();
