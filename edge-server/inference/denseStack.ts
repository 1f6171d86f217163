/**
 * Fast execution of a sequential stack of Dense layers, two ways:
 * - `run`: the layer weights as a handful of raw tfjs ops (matMul + bias + activation per layer)
 *   in one `tidy`, skipping the layers API's per-call bookkeeping; a batch of 64 costs barely more
 *   than one row, which is what cross-session batching exploits (generic `infer`).
 * - `runJs`: the same weights in a float64 loop on the calling thread, as WebAssembly SIMD where it
 *   compiles (denseWasm.ts, ~1.6 µs a row for the head predictor) and plain JavaScript otherwise
 *   (`denseRowJs`, ~6 µs). For a model as small as the head predictor (~7k multiply-adds per row)
 *   this beats any call into a native runtime or tfjs' wasm backend, whose fixed cost per call is
 *   0.1–0.5 ms here; it is the learned predictor's hot path.
 * bench/inference-latency.ts measures model.predict, `run` and `runJs` per backend side by side.
 */
import type * as TF from '@tensorflow/tfjs';
import type { Tf } from './backend.js';
import { compileDenseWasm, type DenseRow, type WasmDenseLayer } from './denseWasm.js';

const ACTIVATIONS = ['linear', 'relu', 'tanh', 'sigmoid'] as const;
type Activation = (typeof ACTIVATIONS)[number];

interface DenseLayer {
  kernel: TF.Tensor2D;
  bias: TF.Tensor1D | undefined;
  activation: Activation;
}

export interface DenseStack {
  readonly inputSize: number;
  readonly outputSize: number;
  /** `rows` × inputSize values in, rows × outputSize out, on the tfjs backend. */
  run(input: Float32Array, rows: number): Float32Array;
  /** Same result computed in JavaScript (float64 arithmetic on the float32 weights). */
  runJs(input: Float32Array, rows: number): Float32Array;
  dispose(): void;
}

/** A DenseStack for `model` when it is a plain Dense sequence (else undefined: use model.predict). */
export interface DenseStackOptions {
  /** [simd=true] run `runJs` as WebAssembly SIMD where it compiles (denseWasm.ts); false: the JS loop. */
  simd?: boolean;
}

export function compileDenseStack(tf: Tf, model: TF.LayersModel, options: DenseStackOptions = {}): DenseStack | undefined {
  const layers: DenseLayer[] = [];
  for (const layer of model.layers) {
    const config = layer.getConfig() as { activation?: string; useBias?: boolean };
    if (layer.getClassName() === 'InputLayer') continue;
    if (layer.getClassName() !== 'Dense') return undefined;
    const activation = (config.activation ?? 'linear') as Activation;
    if (!ACTIVATIONS.includes(activation)) return undefined;
    const [kernel, bias] = layer.getWeights() as [TF.Tensor2D, TF.Tensor1D | undefined];
    layers.push({ kernel: tf.keep(kernel.clone()), bias: bias ? tf.keep(bias.clone()) : undefined, activation });
  }
  const first = layers[0];
  const last = layers[layers.length - 1];
  if (!first || !last) return undefined;
  const inputSize = first.kernel.shape[0];
  const outputSize = last.kernel.shape[1];
  // row-major [in, out] kernels as plain arrays for runJs (the inner loop walks one kernel row)
  const jsLayers = layers.map((l) => ({
    // float64 copies keep the loop monomorphic (one array type), which V8 compiles tighter
    kernel: Float64Array.from(l.kernel.dataSync()),
    bias: l.bias ? Float64Array.from(l.bias.dataSync()) : new Float64Array(l.kernel.shape[1]),
    inSize: l.kernel.shape[0],
    outSize: l.kernel.shape[1],
    activation: l.activation,
  }));
  // the same loop in WebAssembly SIMD where it compiles (denseWasm.ts: bit for bit its result)
  const row = (options.simd !== false && compileDenseWasm(jsLayers)) || denseRowJs(jsLayers);
  return {
    inputSize,
    outputSize,
    run(input, rows) {
      const out = tf.tidy(() => {
        let h: TF.Tensor2D = tf.tensor2d(input, [rows, inputSize], 'float32');
        for (const l of layers) {
          h = tf.matMul(h, l.kernel);
          if (l.bias) h = tf.add(h, l.bias);
          if (l.activation === 'relu') h = tf.relu(h);
          else if (l.activation === 'tanh') h = tf.tanh(h);
          else if (l.activation === 'sigmoid') h = tf.sigmoid(h);
        }
        return h;
      });
      const data = out.dataSync() as Float32Array;
      out.dispose();
      return data;
    },
    runJs(input, rows) {
      const out = new Float32Array(rows * outputSize);
      for (let r = 0; r < rows; r++) row(input, r * inputSize, out, r * outputSize);
      return out;
    },
    dispose() {
      for (const l of layers) {
        l.kernel.dispose();
        l.bias?.dispose();
      }
    },
  };
}

/** A Dense layer's weights as the JS and SIMD loops take them (row-major [in, out], float64). */
export interface JsDenseLayer extends WasmDenseLayer {
  activation: Activation;
}

/**
 * The stack's forward pass for one row as a plain JavaScript loop (float64 arithmetic on the
 * float32 weights): where WebAssembly SIMD is not available, and the reference denseWasm.ts is
 * held to (test/dense-wasm.test.ts).
 */
export function denseRowJs(jsLayers: readonly JsDenseLayer[]): DenseRow {
  const inputSize = jsLayers[0]!.inSize;
  const outputSize = jsLayers[jsLayers.length - 1]!.outSize;
  const widest = Math.max(inputSize, ...jsLayers.map((l) => l.outSize));
  const bufIn = new Float64Array(widest);
  const bufA = new Float64Array(widest);
  const bufB = new Float64Array(widest);
  // the gathered non-zero inputs of a layer: kernel row offsets and values
  const rowAt = new Int32Array(widest);
  const rowX = new Float64Array(widest);
  return (input, inputOffset, out, outOffset) => {
    for (let i = 0; i < inputSize; i++) bufIn[i] = input[inputOffset + i]!;
    let src = bufIn;
    let dst = bufA;
    for (let li = 0; li < jsLayers.length; li++) {
      const l = jsLayers[li]!;
      const kernel = l.kernel;
      const outSize = l.outSize;
      // the non-zero inputs first (relu outputs are about half zeros), then four kernel rows
      // per pass over `dst`: a quarter of the loads and stores of one row at a time, which
      // is what bounds this loop (bench/inference-latency.ts: ~2× the row-at-a-time loop)
      let n = 0;
      for (let i = 0; i < l.inSize; i++) {
        const x = src[i]!;
        if (x !== 0) {
          rowAt[n] = i * outSize;
          rowX[n++] = x;
        }
      }
      for (let j = 0; j < outSize; j++) dst[j] = l.bias[j]!;
      let m = 0;
      for (; m + 4 <= n; m += 4) {
        const x0 = rowX[m]!, x1 = rowX[m + 1]!, x2 = rowX[m + 2]!, x3 = rowX[m + 3]!;
        const k0 = rowAt[m]!, k1 = rowAt[m + 1]!, k2 = rowAt[m + 2]!, k3 = rowAt[m + 3]!;
        for (let j = 0; j < outSize; j++) dst[j]! += x0 * kernel[k0 + j]! + x1 * kernel[k1 + j]! + x2 * kernel[k2 + j]! + x3 * kernel[k3 + j]!;
      }
      for (; m < n; m++) {
        const x = rowX[m]!;
        const k = rowAt[m]!;
        for (let j = 0; j < outSize; j++) dst[j]! += x * kernel[k + j]!;
      }
      if (l.activation === 'relu') for (let j = 0; j < outSize; j++) dst[j] = dst[j]! > 0 ? dst[j]! : 0;
      else if (l.activation === 'tanh') for (let j = 0; j < outSize; j++) dst[j] = Math.tanh(dst[j]!);
      else if (l.activation === 'sigmoid') for (let j = 0; j < outSize; j++) dst[j] = 1 / (1 + Math.exp(-dst[j]!));
      src = dst;
      dst = dst === bufA ? bufB : bufA;
    }
    for (let j = 0; j < outputSize; j++) out[outOffset + j] = src[j]!;
  };
}
