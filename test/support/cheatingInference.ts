/**
 * Loaded with `node --import` into a real `edge-offload edge` process, for the trust tests only:
 * every `infer` result the node's engine returns has `EDGE_OFFLOAD_TEST_CHEAT_NOISE` (default
 * 0.01) of deterministic noise added to each float32 element — a node whose operator serves a
 * cheaper or corrupted model. Nothing in the product knows about it: it wraps
 * `TfjsInferenceEngine.prototype.infer`, so the node sends and signs the wrong result like any
 * other. Predictions do not use this method and stay honest.
 */
import { TfjsInferenceEngine } from '../../edge-server/inference/TfjsInferenceEngine.js';
import { fromWireTensor, toWireTensor } from '../../protocol/index.js';

const noise = Number(process.env.EDGE_OFFLOAD_TEST_CHEAT_NOISE ?? 0.01);
const original = TfjsInferenceEngine.prototype.infer;

TfjsInferenceEngine.prototype.infer = async function (this: TfjsInferenceEngine, ...args: Parameters<TfjsInferenceEngine['infer']>) {
  const output = await original.apply(this, args);
  if (output.dtype !== 'float32') return output;
  const values = Float32Array.from(fromWireTensor(output));
  for (let i = 0; i < values.length; i++) values[i]! += noise * Math.sin(i * 12.9898 + 1);
  return toWireTensor(values, output.shape);
};
