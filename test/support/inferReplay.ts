/**
 * Child process for cross-backend checks of `infer`: loads the shipped models on the backend
 * EDGE_TF_BACKEND names, runs each `{ model, input }` of the JSON file in argv[2] (input as
 * { shape, data: number[] }, float32) one at a time and again all at once (the engine stacks
 * concurrent requests into one batch, as a busy node does), and prints
 * {"backend", "outputs": [number[]...], "batched": [number[]...]} on stdout.
 */
import { readFileSync } from 'node:fs';
import { loadInference } from '../../edge-server/inference/index.js';
import { fromWireTensor, toWireTensor } from '../../protocol/index.js';

const requests = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { model: string; shape: number[]; data: number[] }[];
const inference = await loadInference({ log: () => {} });
const outputs: number[][] = [];
for (const r of requests) {
  const output = await inference.engine.infer(r.model, toWireTensor(Float32Array.from(r.data), r.shape));
  outputs.push(Array.from(fromWireTensor(output)));
}
const batched = await Promise.all(requests.map(async (r) => Array.from(fromWireTensor(await inference.engine.infer(r.model, toWireTensor(Float32Array.from(r.data), r.shape))))));
process.stdout.write(JSON.stringify({ backend: inference.runtime.backend, outputs, batched }) + '\n');
await inference.engine.close();
inference.registry.dispose();
