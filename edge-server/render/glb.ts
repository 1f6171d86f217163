/**
 * GLB (binary glTF 2.0) container parsing and validation, bytes in, a checked document or a
 * RequestError out. Runs before three.js sees anything: an uploaded scene is untrusted input, so
 * sizes and counts are capped first, then the JSON chunk is parsed and its references checked.
 *
 * Layout (glTF 2.0 §4.4): 12-byte header `magic 'glTF' | version 2 | total length`, then chunks
 * `length | type | data`, 4-byte aligned: first JSON (`JSON`), then optionally one binary (`BIN\0`).
 */
import { ErrorCode, RequestError } from '../../protocol/index.js';

export const GLB_MAGIC = 0x46546c67; // 'glTF' little-endian
export const CHUNK_JSON = 0x4e4f534a; // 'JSON'
export const CHUNK_BIN = 0x004e4942; // 'BIN\0'

export interface SceneLimits {
  /**
   * Largest GLB accepted, bytes. Default 1 MiB: a `scene` upload is one wire message, and the
   * session's `maxFrameBytes` (1 MiB by default) caps it before the renderer sees it.
   */
  maxSceneBytes: number;
  /** Most nodes in the document. Default 4096. */
  maxNodes: number;
  /** Most meshes. Default 1024. */
  maxMeshes: number;
  /** Most primitives (draw calls) over all meshes. Default 4096. */
  maxPrimitives: number;
  /** Most vertices over all primitives (sum of POSITION accessor counts). Default 1,000,000. */
  maxVertices: number;
  /**
   * Most elements over all accessors (indices, attributes, animation data). Caps what three
   * allocates: an accessor without a bufferView is zero-filled at its declared count. Default 8,000,000.
   */
  maxAccessorElements: number;
  /** Most textures. Default 16. */
  maxTextures: number;
  /** Largest texture edge in pixels (checked when the image is decoded). Default 2048. */
  maxTextureSize: number;
  /** Most scenes a session may hold at once. Default 4. */
  maxScenesPerSession: number;
}

export const DEFAULT_SCENE_LIMITS: Readonly<SceneLimits> = Object.freeze({
  maxSceneBytes: 1 << 20,
  maxNodes: 4096,
  maxMeshes: 1024,
  maxPrimitives: 4096,
  maxVertices: 1_000_000,
  maxAccessorElements: 8_000_000,
  maxTextures: 16,
  maxTextureSize: 2048,
  maxScenesPerSession: 4,
});

/** The parts of a glTF document we check; everything else is three's to interpret. */
export interface GltfDocument {
  asset: { version: string };
  nodes?: unknown[];
  meshes?: { primitives?: { attributes?: Record<string, unknown> }[] }[];
  accessors?: { count?: unknown; sparse?: { count?: unknown } }[];
  buffers?: { byteLength?: unknown; uri?: unknown }[];
  bufferViews?: { buffer?: unknown; byteOffset?: unknown; byteLength?: unknown }[];
  textures?: unknown[];
  images?: { uri?: unknown; bufferView?: unknown }[];
  [key: string]: unknown;
}

export interface ParsedGlb {
  json: GltfDocument;
  /** The BIN chunk, when present (a view into the input). */
  bin: Uint8Array | null;
  vertexCount: number;
}

function reject(code: ErrorCode, message: string): never {
  throw new RequestError(code, `scene: ${message}`);
}

const isCount = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;

export function parseGlb(glb: Uint8Array, limits: SceneLimits = DEFAULT_SCENE_LIMITS): ParsedGlb {
  if (glb.byteLength > limits.maxSceneBytes) {
    reject(ErrorCode.TOO_LARGE, `${glb.byteLength} bytes is over the ${limits.maxSceneBytes}-byte limit`);
  }
  if (glb.byteLength < 20) reject(ErrorCode.BAD_REQUEST, 'too short to be a GLB file');
  const view = new DataView(glb.buffer, glb.byteOffset, glb.byteLength);
  if (view.getUint32(0, true) !== GLB_MAGIC) reject(ErrorCode.BAD_REQUEST, "not a GLB file (magic is not 'glTF')");
  const version = view.getUint32(4, true);
  if (version !== 2) reject(ErrorCode.BAD_REQUEST, `GLB version ${version} is not supported (only 2)`);
  const declaredLength = view.getUint32(8, true);
  if (declaredLength !== glb.byteLength) {
    reject(ErrorCode.BAD_REQUEST, `header says ${declaredLength} bytes but ${glb.byteLength} arrived`);
  }

  let offset = 12;
  let jsonBytes: Uint8Array | null = null;
  let bin: Uint8Array | null = null;
  while (offset < glb.byteLength) {
    if (offset + 8 > glb.byteLength) reject(ErrorCode.BAD_REQUEST, `chunk header at byte ${offset} is cut short`);
    const length = view.getUint32(offset, true);
    const type = view.getUint32(offset + 4, true);
    const start = offset + 8;
    if (length > glb.byteLength - start) reject(ErrorCode.BAD_REQUEST, `chunk at byte ${offset} runs past the end`);
    if (length % 4 !== 0) reject(ErrorCode.BAD_REQUEST, `chunk at byte ${offset} is not 4-byte aligned`);
    const data = glb.subarray(start, start + length);
    if (jsonBytes === null) {
      if (type !== CHUNK_JSON) reject(ErrorCode.BAD_REQUEST, 'first chunk is not JSON');
      jsonBytes = data;
    } else if (type === CHUNK_BIN) {
      if (bin !== null) reject(ErrorCode.BAD_REQUEST, 'more than one BIN chunk');
      bin = data;
    } else if (type === CHUNK_JSON) {
      reject(ErrorCode.BAD_REQUEST, 'more than one JSON chunk');
    } // unknown chunk types are skipped, as the spec says
    offset = start + length;
  }
  if (jsonBytes === null) reject(ErrorCode.BAD_REQUEST, 'no JSON chunk');

  let json: GltfDocument;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(jsonBytes)) as GltfDocument;
  } catch (err) {
    reject(ErrorCode.BAD_REQUEST, `JSON chunk does not parse (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) reject(ErrorCode.BAD_REQUEST, 'JSON chunk is not an object');
  if (typeof json.asset?.version !== 'string' || !json.asset.version.startsWith('2.')) {
    reject(ErrorCode.BAD_REQUEST, 'asset.version must be 2.x');
  }

  const vertexCount = checkDocument(json, bin, limits);
  return { json, bin, vertexCount };
}

function arrayOrEmpty(value: unknown, field: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) reject(ErrorCode.BAD_REQUEST, `${field} is not an array`);
  return value;
}

/** Counts against the limits and checks that every buffer lives inside the GLB (no external URIs). */
function checkDocument(json: GltfDocument, bin: Uint8Array | null, limits: SceneLimits): number {
  const nodes = arrayOrEmpty(json.nodes, 'nodes');
  if (nodes.length > limits.maxNodes) reject(ErrorCode.TOO_LARGE, `${nodes.length} nodes is over the limit of ${limits.maxNodes}`);
  const meshes = arrayOrEmpty(json.meshes, 'meshes') as NonNullable<GltfDocument['meshes']>;
  if (meshes.length > limits.maxMeshes) reject(ErrorCode.TOO_LARGE, `${meshes.length} meshes is over the limit of ${limits.maxMeshes}`);
  const textures = arrayOrEmpty(json.textures, 'textures');
  if (textures.length > limits.maxTextures) {
    reject(ErrorCode.TOO_LARGE, `${textures.length} textures is over the limit of ${limits.maxTextures}`);
  }

  // A node must never fetch anything: buffers and images come from the BIN chunk only.
  const buffers = arrayOrEmpty(json.buffers, 'buffers') as NonNullable<GltfDocument['buffers']>;
  buffers.forEach((buffer, i) => {
    if (buffer?.uri !== undefined) reject(ErrorCode.BAD_REQUEST, `buffers[${i}] has a uri; only the GLB's own BIN chunk is allowed`);
    if (i > 0) reject(ErrorCode.BAD_REQUEST, 'only one buffer (the BIN chunk) is allowed');
    if (!isCount(buffer?.byteLength) || bin === null || buffer.byteLength > bin.byteLength) {
      reject(ErrorCode.BAD_REQUEST, `buffers[${i}].byteLength does not fit the BIN chunk`);
    }
  });
  const bufferLength = buffers.length > 0 ? (buffers[0]!.byteLength as number) : 0;
  const bufferViews = arrayOrEmpty(json.bufferViews, 'bufferViews') as NonNullable<GltfDocument['bufferViews']>;
  bufferViews.forEach((bv, i) => {
    const byteOffset = bv?.byteOffset ?? 0;
    if (bv?.buffer !== 0 || !isCount(byteOffset) || !isCount(bv.byteLength) || byteOffset + bv.byteLength > bufferLength) {
      reject(ErrorCode.BAD_REQUEST, `bufferViews[${i}] lies outside the BIN chunk`);
    }
  });
  const images = arrayOrEmpty(json.images, 'images') as NonNullable<GltfDocument['images']>;
  images.forEach((image, i) => {
    if (image?.uri !== undefined) reject(ErrorCode.BAD_REQUEST, `images[${i}] has a uri; embed images in the BIN chunk`);
  });

  const accessors = arrayOrEmpty(json.accessors, 'accessors') as NonNullable<GltfDocument['accessors']>;
  let elements = 0;
  accessors.forEach((accessor, i) => {
    const sparse = accessor?.sparse?.count ?? 0;
    if (!isCount(accessor?.count) || !isCount(sparse)) reject(ErrorCode.BAD_REQUEST, `accessors[${i}].count is not a count`);
    elements += accessor.count + sparse;
  });
  if (elements > limits.maxAccessorElements) {
    reject(ErrorCode.TOO_LARGE, `${elements} accessor elements is over the limit of ${limits.maxAccessorElements}`);
  }
  let vertices = 0;
  let primitives = 0;
  meshes.forEach((mesh, m) => {
    for (const primitive of arrayOrEmpty(mesh?.primitives, `meshes[${m}].primitives`) as { attributes?: Record<string, unknown> }[]) {
      if (++primitives > limits.maxPrimitives) reject(ErrorCode.TOO_LARGE, `more than ${limits.maxPrimitives} primitives`);
      const position = primitive?.attributes?.['POSITION'];
      if (position === undefined) continue;
      const count = Number.isInteger(position) ? accessors[position as number]?.count : undefined;
      if (!isCount(count)) reject(ErrorCode.BAD_REQUEST, `meshes[${m}] POSITION names no valid accessor`);
      vertices += count;
    }
  });
  if (vertices > limits.maxVertices) reject(ErrorCode.TOO_LARGE, `${vertices} vertices is over the limit of ${limits.maxVertices}`);
  return vertices;
}

/** Builds a GLB container from a glTF JSON document and its binary buffer (used for the test scene). */
export function buildGlb(json: object, bin: Uint8Array): Uint8Array {
  const pad = (n: number) => (4 - (n % 4)) % 4;
  const jsonRaw = new TextEncoder().encode(JSON.stringify(json));
  const jsonLength = jsonRaw.byteLength + pad(jsonRaw.byteLength);
  const binLength = bin.byteLength + pad(bin.byteLength);
  const total = 12 + 8 + jsonLength + (binLength > 0 ? 8 + binLength : 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, GLB_MAGIC, true);
  view.setUint32(4, 2, true);
  view.setUint32(8, total, true);
  view.setUint32(12, jsonLength, true);
  view.setUint32(16, CHUNK_JSON, true);
  out.set(jsonRaw, 20);
  out.fill(0x20, 20 + jsonRaw.byteLength, 20 + jsonLength); // JSON is padded with spaces
  if (binLength > 0) {
    const binStart = 20 + jsonLength;
    view.setUint32(binStart, binLength, true);
    view.setUint32(binStart + 4, CHUNK_BIN, true);
    out.set(bin, binStart + 8);
  }
  return out;
}
