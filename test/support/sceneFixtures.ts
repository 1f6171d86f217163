/** Small GLB scenes for render tests, built in memory. */
import sharp from 'sharp';
import { buildGlb } from '../../edge-server/render/glb.js';
import { TEST_EYE_HEIGHT } from '../../edge-server/render/testScene.js';

/** A 2 m × 2 m quad 3 m ahead at eye height, textured (unlit) with an embedded PNG. */
export async function texturedQuadGlb(png: Uint8Array): Promise<Uint8Array> {
  const z = -3;
  const y = TEST_EYE_HEIGHT;
  const positions = new Float32Array([-1, y - 1, z, 1, y - 1, z, 1, y + 1, z, -1, y + 1, z]);
  const uvs = new Float32Array([0, 1, 1, 1, 1, 0, 0, 0]);
  const indices = new Uint16Array([0, 1, 2, 0, 2, 3]);
  const parts = [positions, uvs, indices, png];
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
      images: [{ bufferView: 3, mimeType: 'image/png' }],
      accessors: [
        { bufferView: 0, componentType: 5126, count: 4, type: 'VEC3', min: [-1, y - 1, z], max: [1, y + 1, z] },
        { bufferView: 1, componentType: 5126, count: 4, type: 'VEC2' },
        { bufferView: 2, componentType: 5123, count: 6, type: 'SCALAR' },
      ],
      bufferViews,
      buffers: [{ byteLength: bin.byteLength }],
    },
    bin,
  );
}

export const solidPng = (width: number, height: number, rgb: [number, number, number]) =>
  sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toBuffer()
    .then((b) => new Uint8Array(b));
