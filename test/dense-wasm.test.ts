import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { denseRowJs, type JsDenseLayer } from '../edge-server/inference/denseStack.js';
import { compileDenseWasm } from '../edge-server/inference/denseWasm.js';

const test = suite('inference: the Dense stack in WebAssembly SIMD against the JavaScript loop');

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random float32 weights (as the model's), some exactly zero, in the shipped model's shape by default. */
function stack(r: () => number, sizes: number[], activations: JsDenseLayer['activation'][]): JsDenseLayer[] {
  return activations.map((activation, i) => {
    const inSize = sizes[i]!;
    const outSize = sizes[i + 1]!;
    const f32 = (n: number) => Float64Array.from(Float32Array.from({ length: n }, () => (r() < 0.05 ? 0 : (r() - 0.5) * 0.6)));
    return { kernel: f32(inSize * outSize), bias: f32(outSize), inSize, outSize, activation };
  });
}

test("the SIMD forward pass is bit for bit the JS loop's, for the head predictor's shape and others", () => {
  const r = rng(42);
  const shapes: [number[], JsDenseLayer['activation'][]][] = [
    [[38, 96, 96, 6], ['relu', 'relu', 'linear']],
    [[5, 8, 2], ['relu', 'linear']],
    [[7, 2], ['linear']],
    [[64, 4, 4, 4, 2], ['relu', 'relu', 'relu', 'linear']],
  ];
  for (const [sizes, activations] of shapes) {
    const layers = stack(r, sizes, activations);
    const simd = compileDenseWasm(layers);
    assert.ok(simd, `compiles for ${sizes.join('-')}`);
    const js = denseRowJs(layers);
    const inSize = sizes[0]!;
    const outSize = sizes[sizes.length - 1]!;
    for (let row = 0; row < 200; row++) {
      // zeros (skipped by both loops), negatives, large values, a -0
      const input = Float32Array.from({ length: inSize }, (_, i) => (i % 7 === row % 7 ? 0 : row % 11 === 0 ? (r() - 0.5) * 1e4 : (r() - 0.5) * 4));
      if (row % 13 === 0) input[0] = -0;
      const a = new Float32Array(outSize + 2);
      const b = new Float32Array(outSize + 2);
      simd(input, 0, a, 1);
      js(input, 0, b, 1);
      assert.equal(Array.from(a), Array.from(b), `${sizes.join('-')} row ${row}`);
    }
  }
});

test('a stack it cannot run (tanh, an odd width) is left to the JS loop', () => {
  const r = rng(1);
  assert.is(compileDenseWasm(stack(r, [4, 6, 2], ['tanh', 'linear'])), undefined);
  assert.is(compileDenseWasm(stack(r, [4, 5, 2], ['relu', 'linear'])), undefined);
});

test.run();
