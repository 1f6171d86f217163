/**
 * The built-in test scene, built as a real GLB so it goes through the same validation and loader as
 * an uploaded scene. Deterministic and small (~3 KB). Unlit materials (KHR_materials_unlit) give
 * exact colours in the output, so tests can find each cube by colour:
 *
 * - a floor grid (20 m × 20 m, 1 m spacing, grey lines) at y = 0;
 * - cubes of edge 0.5 m at eye height (y = 1.6), WebXR axes (y up, −z ahead of an identity pose):
 *   red straight ahead at z = −3, green to the right (x = +1.5), blue to the left (x = −1.5),
 *   yellow behind (z = +3).
 */
import { buildGlb } from './glb.js';

export const TEST_SCENE_NAME = 'test';
export const TEST_EYE_HEIGHT = 1.6;
export const TEST_CUBE_SIZE = 0.5;

export interface TestCube {
  name: string;
  position: [number, number, number];
  /** Linear RGB, which is also the sRGB output for 0/1 components. */
  color: [number, number, number];
}

export const TEST_CUBES: readonly TestCube[] = Object.freeze([
  { name: 'red', position: [0, TEST_EYE_HEIGHT, -3], color: [1, 0, 0] },
  { name: 'green', position: [1.5, TEST_EYE_HEIGHT, -3], color: [0, 1, 0] },
  { name: 'blue', position: [-1.5, TEST_EYE_HEIGHT, -3], color: [0, 0, 1] },
  { name: 'yellow', position: [0, TEST_EYE_HEIGHT, 3], color: [1, 1, 0] },
]);

export const TEST_BACKGROUND: [number, number, number] = [0.02, 0.02, 0.03];

/** Unit cube: 24 vertices (flat normals per face), 36 indices. */
function cubeGeometry(size: number): { positions: Float32Array; normals: Float32Array; indices: Uint16Array } {
  const h = size / 2;
  const faces: { n: [number, number, number]; u: [number, number, number]; v: [number, number, number] }[] = [
    { n: [1, 0, 0], u: [0, 0, -1], v: [0, 1, 0] },
    { n: [-1, 0, 0], u: [0, 0, 1], v: [0, 1, 0] },
    { n: [0, 1, 0], u: [1, 0, 0], v: [0, 0, -1] },
    { n: [0, -1, 0], u: [1, 0, 0], v: [0, 0, 1] },
    { n: [0, 0, 1], u: [1, 0, 0], v: [0, 1, 0] },
    { n: [0, 0, -1], u: [-1, 0, 0], v: [0, 1, 0] },
  ];
  const positions: number[] = [];
  const normals: number[] = [];
  const indices: number[] = [];
  faces.forEach(({ n, u, v }, f) => {
    for (const [su, sv] of [[-1, -1], [1, -1], [1, 1], [-1, 1]] as const) {
      for (let k = 0; k < 3; k++) positions.push(h * (n[k]! + su * u[k]! + sv * v[k]!));
      normals.push(...n);
    }
    const b = f * 4;
    indices.push(b, b + 1, b + 2, b, b + 2, b + 3); // counter-clockwise seen from outside
  });
  return { positions: new Float32Array(positions), normals: new Float32Array(normals), indices: new Uint16Array(indices) };
}

function gridLines(extent: number, step: number): Float32Array {
  const out: number[] = [];
  for (let c = -extent; c <= extent + 1e-9; c += step) {
    out.push(c, 0, -extent, c, 0, extent);
    out.push(-extent, 0, c, extent, 0, c);
  }
  return new Float32Array(out);
}

function bounds(values: Float32Array): { min: number[]; max: number[] } {
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < values.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      min[k] = Math.min(min[k]!, values[i + k]!);
      max[k] = Math.max(max[k]!, values[i + k]!);
    }
  }
  return { min, max };
}

/** The test scene as GLB bytes. */
export function buildTestSceneGlb(): Uint8Array {
  const cube = cubeGeometry(TEST_CUBE_SIZE);
  const grid = gridLines(10, 1);
  const parts = [cube.positions, cube.normals, cube.indices, grid];
  const bin = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  const bufferViews: object[] = [];
  let offset = 0;
  parts.forEach((part, i) => {
    bin.set(new Uint8Array(part.buffer, part.byteOffset, part.byteLength), offset);
    bufferViews.push({ buffer: 0, byteOffset: offset, byteLength: part.byteLength, target: i === 2 ? 34963 : 34962 });
    offset += part.byteLength;
  });
  const FLOAT = 5126;
  const UNSIGNED_SHORT = 5123;
  const accessors = [
    { bufferView: 0, componentType: FLOAT, count: cube.positions.length / 3, type: 'VEC3', ...bounds(cube.positions) },
    { bufferView: 1, componentType: FLOAT, count: cube.normals.length / 3, type: 'VEC3' },
    { bufferView: 2, componentType: UNSIGNED_SHORT, count: cube.indices.length, type: 'SCALAR' },
    { bufferView: 3, componentType: FLOAT, count: grid.length / 3, type: 'VEC3', ...bounds(grid) },
  ];
  const unlit = (name: string, rgb: readonly number[]) => ({
    name,
    pbrMetallicRoughness: { baseColorFactor: [...rgb, 1], metallicFactor: 0, roughnessFactor: 1 },
    extensions: { KHR_materials_unlit: {} },
  });
  const materials = [...TEST_CUBES.map((c) => unlit(c.name, c.color)), unlit('grid', [0.25, 0.25, 0.25])];
  const meshes = [
    ...TEST_CUBES.map((c, i) => ({
      name: `${c.name}-cube`,
      primitives: [{ attributes: { POSITION: 0, NORMAL: 1 }, indices: 2, material: i, mode: 4 }],
    })),
    { name: 'floor-grid', primitives: [{ attributes: { POSITION: 3 }, material: TEST_CUBES.length, mode: 1 }] },
  ];
  const nodes = [
    ...TEST_CUBES.map((c, i) => ({ name: `${c.name}-cube`, mesh: i, translation: [...c.position] })),
    { name: 'floor-grid', mesh: TEST_CUBES.length },
  ];
  const json = {
    asset: { version: '2.0', generator: 'edge-offload testScene.ts' },
    extensionsUsed: ['KHR_materials_unlit'],
    scene: 0,
    scenes: [{ name: TEST_SCENE_NAME, nodes: nodes.map((_, i) => i) }],
    nodes,
    meshes,
    materials,
    accessors,
    bufferViews,
    buffers: [{ byteLength: bin.byteLength }],
  };
  return buildGlb(json, bin);
}
