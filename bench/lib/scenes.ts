/** Small GLB scenes built in memory, for the render tests and the video bench. */
import sharp from 'sharp';
import { buildGlb } from '../../edge-server/render/glb.js';
import { TEST_EYE_HEIGHT } from '../../edge-server/render/testScene.js';

/**
 * A quad `halfWidth` × 2 `halfHeight` m, 3 m ahead at eye height, textured (unlit) with an embedded
 * image (PNG by default; JPEG keeps a big texture under the scene size limit). Default 2 m × 2 m.
 */
export async function texturedQuadGlb(image: Uint8Array, { halfWidth = 1, halfHeight = 1, mimeType = 'image/png' }: { halfWidth?: number; halfHeight?: number; mimeType?: 'image/png' | 'image/jpeg' } = {}): Promise<Uint8Array> {
  const z = -3;
  const y = TEST_EYE_HEIGHT;
  const [w, h] = [halfWidth, halfHeight];
  const positions = new Float32Array([-w, y - h, z, w, y - h, z, w, y + h, z, -w, y + h, z]);
  const uvs = new Float32Array([0, 1, 1, 1, 1, 0, 0, 0]);
  const indices = new Uint16Array([0, 1, 2, 0, 2, 3]);
  const parts = [positions, uvs, indices, image];
  const padded = (n: number) => Math.ceil(n / 4) * 4;
  const bin = new Uint8Array(parts.reduce((n, p) => n + padded(p.byteLength), 0));
  const bufferViews: object[] = [];
  let offset = 0;
  for (const part of parts) {
    bin.set(new Uint8Array(part.buffer, part.byteOffset, part.byteLength), offset);
    bufferViews.push({ buffer: 0, byteOffset: offset, byteLength: part.byteLength });
    offset += padded(part.byteLength);
  }
  return buildGlb(
    {
      asset: { version: '2.0' },
      extensionsUsed: ['KHR_materials_unlit'],
      scene: 0,
      scenes: [{ nodes: [0] }],
      nodes: [{ mesh: 0 }],
      meshes: [{ primitives: [{ attributes: { POSITION: 0, TEXCOORD_0: 1 }, indices: 2, material: 0 }] }],
      materials: [{ pbrMetallicRoughness: { baseColorTexture: { index: 0 } }, extensions: { KHR_materials_unlit: {} } }],
      textures: [{ source: 0, sampler: 0 }],
      samplers: [{ wrapS: 33071, wrapT: 33071 }],
      images: [{ bufferView: 3, mimeType }],
      accessors: [
        { bufferView: 0, componentType: 5126, count: 4, type: 'VEC3', min: [-w, y - h, z], max: [w, y + h, z] },
        { bufferView: 1, componentType: 5126, count: 4, type: 'VEC2' },
        { bufferView: 2, componentType: 5123, count: 6, type: 'SCALAR' },
      ],
      bufferViews,
      buffers: [{ byteLength: bin.byteLength }],
    },
    bin,
  );
}


/**
 * A texture with detail at every scale, like a photographed surface rather than flat colours: value
 * noise summed over octaves (seeded, so every run encodes the same pictures).
 */
export async function detailedTextureJpeg(side: number, seed = 1): Promise<Uint8Array> {
  let state = seed >>> 0;
  const random = () => ((state = (state * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const rgb = new Float32Array(side * side * 3);
  for (let octave = 0, cells = 4, amplitude = 1; cells <= side; octave++, cells *= 2, amplitude *= 0.75) {
    const grid = Array.from({ length: (cells + 1) * (cells + 1) * 3 }, random);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const gx = (x / side) * cells;
        const gy = (y / side) * cells;
        const [x0, y0] = [Math.floor(gx), Math.floor(gy)];
        const [fx, fy] = [gx - x0, gy - y0];
        for (let c = 0; c < 3; c++) {
          const at = (i: number, j: number) => grid[((y0 + j) * (cells + 1) + (x0 + i)) * 3 + c]!;
          const v = (at(0, 0) * (1 - fx) + at(1, 0) * fx) * (1 - fy) + (at(0, 1) * (1 - fx) + at(1, 1) * fx) * fy;
          rgb[(y * side + x) * 3 + c]! += v * amplitude;
        }
      }
    }
  }
  let max = 0;
  for (const v of rgb) max = Math.max(max, v);
  const bytes = Uint8Array.from(rgb, (v) => Math.round((v / max) * 255));
  return new Uint8Array(await sharp(bytes, { raw: { width: side, height: side, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
}
