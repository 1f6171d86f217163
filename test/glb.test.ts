import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ErrorCode, RequestError } from '../protocol/index.js';
import { buildGlb, DEFAULT_SCENE_LIMITS, parseGlb } from '../edge-server/render/glb.js';
import { buildTestSceneGlb, TEST_CUBES } from '../edge-server/render/testScene.js';

const test = suite('glb');
const glb = buildTestSceneGlb();

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (!(err instanceof RequestError)) throw err;
    return err.code;
  }
}

test('the built-in test scene is a valid GLB with the documented cubes', () => {
  const { json, bin, vertexCount } = parseGlb(glb);
  assert.ok(bin && bin.byteLength > 0);
  const nodes = json.nodes as { name: string; translation?: number[] }[];
  for (const cube of TEST_CUBES) assert.equal(nodes.find((n) => n.name === `${cube.name}-cube`)?.translation, [...cube.position]);
  assert.ok(vertexCount > 0);
  assert.ok(glb.byteLength < 8 << 10, `${glb.byteLength} bytes`);
});

test('every truncated prefix is rejected with BAD_REQUEST, never another exception', () => {
  for (let n = 0; n < glb.byteLength; n++) {
    assert.is(codeOf(() => parseGlb(glb.subarray(0, n))), ErrorCode.BAD_REQUEST, `prefix of ${n} bytes`);
  }
});

test('single-byte corruptions in the header and chunk headers are rejected or harmless, never a crash', () => {
  for (let i = 0; i < 28; i++) {
    for (const value of [0x00, 0xff, 0x7f]) {
      const copy = glb.slice();
      copy[i] = value;
      const code = codeOf(() => parseGlb(copy));
      assert.ok(code === null || code === ErrorCode.BAD_REQUEST || code === ErrorCode.TOO_LARGE, `byte ${i} = ${value}: ${code}`);
    }
  }
});

test('limits are checked against counts in the JSON before anything is allocated', () => {
  const { json, bin } = parseGlb(glb);
  const limits = { ...DEFAULT_SCENE_LIMITS, maxMeshes: 2 };
  assert.is(codeOf(() => parseGlb(glb, limits)), ErrorCode.TOO_LARGE);
  const textures = buildGlb({ ...json, textures: Array.from({ length: 17 }, () => ({ source: 0 })) }, bin!);
  assert.is(codeOf(() => parseGlb(textures)), ErrorCode.TOO_LARGE);
  const primitives = buildGlb(
    { ...json, meshes: [{ primitives: Array.from({ length: 4097 }, () => ({ attributes: {} })) }] },
    bin!,
  );
  assert.is(codeOf(() => parseGlb(primitives)), ErrorCode.TOO_LARGE);
  const imageUri = buildGlb({ ...json, images: [{ uri: 'http://127.0.0.1/x.png' }] }, bin!);
  assert.is(codeOf(() => parseGlb(imageUri)), ErrorCode.BAD_REQUEST);
  const version1 = glb.slice();
  new DataView(version1.buffer).setUint32(4, 1, true);
  assert.is(codeOf(() => parseGlb(version1)), ErrorCode.BAD_REQUEST);
});

test.run();
