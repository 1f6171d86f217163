/**
 * The learned predictor's Dense layers as a WebAssembly SIMD loop (f64x2), for denseStack.ts'
 * `runJs`: the same arithmetic as its JavaScript loop, two outputs per instruction and no bounds
 * checks (issue #15: the JS loop was ~8 µs of the node's ~46 µs per predict frame).
 *
 * Bit for bit the JavaScript loop's result: float64 lanes, the same operations in the same order
 * (bias, then per group of four non-zero inputs `dst + (((x0·k0 + x1·k1) + x2·k2) + x3·k3)`, then
 * the rest one at a time; ReLU as `x > 0 ? x : +0`), no fused multiply-add. test/predictors.test.ts
 * compares the two on random rows. Only ReLU and linear layers with an even width are compiled;
 * any other stack stays on the JavaScript loop.
 *
 * The module is written here byte by byte (one function, ~80 instructions) rather than shipped as
 * a binary or built with a toolchain the repository does not have.
 */

/** One layer as denseStack.ts holds it: row-major [in, out] kernel, float64. */
export interface WasmDenseLayer {
  kernel: Float64Array;
  bias: Float64Array;
  inSize: number;
  outSize: number;
  activation: string;
}

/** Runs one row through the stack: `input` (inputSize values) in, the last layer's outputs written to `out`. */
export type DenseRow = (input: Float32Array, inputOffset: number, out: Float32Array, outOffset: number) => void;

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
};
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// locals of `layer`: parameters 0-8, then scratch
const SRC = 0, DST = 1, KERNEL = 2, BIAS = 3, IN = 4, OUT = 5, RELU = 6, G_AT = 7, G_X = 8;
const I = 9, N = 10, M = 11, J = 12, ROW = 13, K0 = 14; // K0..K0+3
const X = 18, X0 = 19, T = 23; // X0..X0+3 (v128)

const get = (l: number) => [0x20, ...uleb(l)];
const set = (l: number) => [0x21, ...uleb(l)];
const tee = (l: number) => [0x22, ...uleb(l)];
const i32 = (v: number) => [0x41, ...sleb(v)];
const ADD = 0x6a, SHL = 0x74, MUL = 0x6c, GE_U = 0x4f, GT_S = 0x4a;
const f64Load = (offset: number) => [0x2b, 3, ...uleb(offset)];
const f64Store = [0x39, 3, 0];
const i32Load = (offset: number) => [0x28, 2, ...uleb(offset)];
const i32Store = [0x36, 2, 0];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const v128Load = simd(0x00, 3, 0);
const v128Store = simd(0x0b, 3, 0);
const splat = simd(0x14);
const f64x2Add = simd(0xf0);
const f64x2Mul = simd(0xf2);
const f64x2Gt = simd(0x4a);
const v128And = simd(0x4e);
const v128Zero = simd(0x0c, ...new Array<number>(16).fill(0));
/** `for (; local < limit; local += step) body`, as block/loop/br_if. */
const forLoop = (local: number, limit: number[], step: number, body: number[]) => [
  0x02, 0x40, 0x03, 0x40,
  ...get(local), ...limit, GE_U, 0x0d, 1,
  ...body,
  ...get(local), ...i32(step), ADD, ...set(local),
  0x0c, 0, 0x0b, 0x0b,
];
/** `dst + j` style addresses */
const at = (base: number, index: number) => [...get(base), ...get(index), ADD];

function layerBody(): number[] {
  const groupOfFour = [
    ...[0, 1, 2, 3].flatMap((q) => [...get(G_X), ...get(M), ...i32(3), SHL, ADD, ...f64Load(q * 8), ...splat, ...set(X0 + q)]),
    ...[0, 1, 2, 3].flatMap((q) => [...get(KERNEL), ...get(G_AT), ...get(M), ...i32(2), SHL, ADD, ...i32Load(q * 4), ADD, ...set(K0 + q)]),
    ...i32(0), ...set(J),
    ...forLoop(J, get(ROW), 16, [
      ...get(X0), ...at(K0, J), ...v128Load, ...f64x2Mul, ...set(T),
      ...[1, 2, 3].flatMap((q) => [...get(T), ...get(X0 + q), ...at(K0 + q, J), ...v128Load, ...f64x2Mul, ...f64x2Add, ...set(T)]),
      ...at(DST, J), ...at(DST, J), ...v128Load, ...get(T), ...f64x2Add, ...v128Store,
    ]),
    ...get(M), ...i32(4), ADD, ...set(M),
  ];
  return [
    ...get(OUT), ...i32(3), SHL, ...set(ROW),
    // the non-zero inputs: kernel row offsets and values
    ...i32(0), ...set(N),
    ...i32(0), ...set(I),
    ...forLoop(I, get(IN), 1, [
      ...get(SRC), ...get(I), ...i32(3), SHL, ADD, ...f64Load(0), ...tee(X),
      0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x62, // f64.const 0, f64.ne
      0x04, 0x40,
      ...get(G_AT), ...get(N), ...i32(2), SHL, ADD, ...get(I), ...get(ROW), MUL, ...i32Store,
      ...get(G_X), ...get(N), ...i32(3), SHL, ADD, ...get(X), ...f64Store,
      ...get(N), ...i32(1), ADD, ...set(N),
      0x0b,
    ]),
    // dst = bias (memory.copy)
    ...get(DST), ...get(BIAS), ...get(ROW), 0xfc, 10, 0, 0,
    ...i32(0), ...set(M),
    // groups of four inputs while four remain
    0x02, 0x40, 0x03, 0x40,
    ...get(M), ...i32(4), ADD, ...get(N), GT_S, 0x0d, 1,
    ...groupOfFour,
    0x0c, 0, 0x0b, 0x0b,
    // the rest one at a time
    ...forLoop(M, get(N), 1, [
      ...get(G_X), ...get(M), ...i32(3), SHL, ADD, ...f64Load(0), ...splat, ...set(X0),
      ...get(KERNEL), ...get(G_AT), ...get(M), ...i32(2), SHL, ADD, ...i32Load(0), ADD, ...set(K0),
      ...i32(0), ...set(J),
      ...forLoop(J, get(ROW), 16, [...at(DST, J), ...at(DST, J), ...v128Load, ...get(X0), ...at(K0, J), ...v128Load, ...f64x2Mul, ...f64x2Add, ...v128Store]),
    ]),
    // ReLU: x > 0 ? x : +0 (a NaN becomes 0, as in the JS loop)
    ...get(RELU), 0x04, 0x40,
    ...i32(0), ...set(J),
    ...forLoop(J, get(ROW), 16, [...at(DST, J), ...at(DST, J), ...v128Load, ...tee(T), ...get(T), ...v128Zero, ...f64x2Gt, ...v128And, ...v128Store]),
    0x0b,
    0x0b,
  ];
}

function moduleBytes(pages: number): Uint8Array<ArrayBuffer> {
  const body = [...uleb(3), 9, 0x7f, 1, 0x7c, 5, 0x7b, ...layerBody()];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 9, ...new Array<number>(9).fill(0x7f), 0]),
    ...section(2, [1, ...name('e'), ...name('m'), 0x02, 0x00, ...uleb(pages)]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('layer'), 0x00, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

/**
 * The stack as one SIMD row function, or undefined where it cannot be (no WebAssembly SIMD here,
 * an activation other than ReLU/linear, an odd layer width): the caller keeps its JS loop.
 */
export function compileDenseWasm(layers: readonly WasmDenseLayer[]): DenseRow | undefined {
  if (typeof WebAssembly !== 'object' || layers.length === 0) return undefined;
  if (!layers.every((l) => (l.activation === 'relu' || l.activation === 'linear') && l.outSize % 2 === 0)) return undefined;
  const widest = Math.max(layers[0]!.inSize, ...layers.map((l) => l.outSize));
  // byte layout, 16-aligned: every layer's kernel and bias, three row buffers, the gathered inputs
  let top = 0;
  const place = (bytes: number) => {
    const at = top;
    top += Math.ceil(bytes / 16) * 16;
    return at;
  };
  const placed = layers.map((l) => ({ ...l, kernelAt: place(l.kernel.byteLength), biasAt: place(l.bias.byteLength) }));
  const inAt = place(widest * 8), aAt = place(widest * 8), bAt = place(widest * 8), gAtAt = place(widest * 4), gXAt = place(widest * 8);
  const pages = Math.ceil(top / 65536);
  let layer: (...args: number[]) => void;
  let memory: WebAssembly.Memory;
  try {
    const bytes = moduleBytes(pages);
    if (!WebAssembly.validate(bytes)) return undefined;
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { e: { m: memory } });
    layer = instance.exports.layer as typeof layer;
  } catch {
    return undefined; // a runtime without SIMD or bulk memory
  }
  const f64 = new Float64Array(memory.buffer);
  for (const l of placed) {
    f64.set(l.kernel, l.kernelAt / 8);
    f64.set(l.bias, l.biasAt / 8);
  }
  const inputSize = layers[0]!.inSize;
  const outputSize = layers[layers.length - 1]!.outSize;
  const inIndex = inAt / 8;
  return (input, inputOffset, out, outOffset) => {
    for (let i = 0; i < inputSize; i++) f64[inIndex + i] = input[inputOffset + i]!;
    let src = inAt;
    let dst = aAt;
    for (let li = 0; li < placed.length; li++) {
      const l = placed[li]!;
      layer(src, dst, l.kernelAt, l.biasAt, l.inSize, l.outSize, l.activation === 'relu' ? 1 : 0, gAtAt, gXAt);
      src = dst;
      dst = dst === aAt ? bAt : aAt;
    }
    const from = src / 8;
    for (let j = 0; j < outputSize; j++) out[outOffset + j] = f64[from + j]!;
  };
}
