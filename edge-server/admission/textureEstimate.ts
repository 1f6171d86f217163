/**
 * How many bytes a glTF scene's textures will take once decoded, read from the image headers
 * only (PNG IHDR, JPEG SOFn, WebP VP8/VP8L/VP8X), so a budget can refuse a scene before a single
 * pixel is decoded.
 *
 * Counted per *texture*, not per image: SceneStore decodes each texture on its own, so 16
 * textures sharing one 2048² PNG cost 16 decodes (issue #15, attack 3). Each decode is RGBA
 * (4 bytes a pixel), and the renderer builds a mip chain (+1/3).
 */
import { ErrorCode, RequestError } from '../../protocol/index.js';
import type { ParsedGlb } from '../render/glb.js';

export interface ImageSize {
  width: number;
  height: number;
}

export interface TextureEstimate {
  textures: number;
  /** Decoded bytes, mip chains included. */
  bytes: number;
  /** Largest edge of any image, px. */
  maxEdge: number;
}

const MIP_FACTOR = 4 / 3;
const BYTES_PER_PIXEL = 4;

function bad(message: string): never {
  throw new RequestError(ErrorCode.BAD_REQUEST, `scene: ${message}`);
}

/** Width and height from an encoded image's header, or undefined for a format we do not decode. */
export function imageSize(bytes: Uint8Array): ImageSize | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const has = (n: number) => bytes.byteLength >= n;
  // PNG: 8-byte signature, then the IHDR chunk: length, 'IHDR', width, height (big-endian)
  if (has(24) && view.getUint32(0) === 0x89504e47 && view.getUint32(4) === 0x0d0a1a0a && view.getUint32(12) === 0x49484452) {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  // JPEG: walk the segments to the first SOFn (C0–CF except C4 DHT, C8 JPG, CC DAC)
  if (has(4) && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let i = 2;
    while (i + 9 < bytes.byteLength) {
      if (bytes[i] !== 0xff) return undefined;
      const marker = bytes[i + 1]!;
      if (marker === 0xff) {
        i++;
        continue;
      }
      const length = view.getUint16(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { height: view.getUint16(i + 5), width: view.getUint16(i + 7) };
      }
      if (length < 2) return undefined;
      i += 2 + length;
    }
    return undefined;
  }
  // WebP: RIFF....WEBP then VP8 / VP8L / VP8X
  if (has(30) && view.getUint32(0) === 0x52494646 && view.getUint32(8) === 0x57454250) {
    const chunk = String.fromCharCode(bytes[12]!, bytes[13]!, bytes[14]!, bytes[15]!);
    if (chunk === 'VP8 ') return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
    if (chunk === 'VP8L') {
      const b = view.getUint32(21, true);
      return { width: (b & 0x3fff) + 1, height: ((b >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X') {
      const w = bytes[24]! | (bytes[25]! << 8) | (bytes[26]! << 16);
      const h = bytes[27]! | (bytes[28]! << 8) | (bytes[29]! << 16);
      return { width: w + 1, height: h + 1 };
    }
  }
  return undefined;
}

/**
 * The decoded size of every texture in a parsed GLB (images must be embedded: parseGlb already
 * refuses `uri`s). Throws `BAD_REQUEST` for an image whose header we cannot read and `TOO_LARGE`
 * for one over `maxTextureSize`, both before decoding.
 */
export function estimateTextureBytes(parsed: ParsedGlb, maxTextureSize: number): TextureEstimate {
  const { json, bin } = parsed;
  const images = Array.isArray(json.images) ? json.images : [];
  const sizes = new Map<number, ImageSize>();
  const sizeOf = (index: number): ImageSize => {
    const known = sizes.get(index);
    if (known) return known;
    const image = images[index];
    const view = Number.isInteger(image?.bufferView) ? json.bufferViews?.[image!.bufferView as number] : undefined;
    if (!view || !bin) bad(`images[${index}] has no embedded data`);
    const offset = (view.byteOffset as number | undefined) ?? 0;
    const size = imageSize(bin.subarray(offset, offset + (view.byteLength as number)));
    if (!size || size.width < 1 || size.height < 1) bad(`images[${index}] is not a PNG, JPEG or WebP we can read`);
    if (size.width > maxTextureSize || size.height > maxTextureSize) {
      throw new RequestError(ErrorCode.TOO_LARGE, `scene: images[${index}] is ${size.width}×${size.height}, over the limit of ${maxTextureSize} px`);
    }
    sizes.set(index, size);
    return size;
  };
  const textures = Array.isArray(json.textures) ? (json.textures as { source?: unknown }[]) : [];
  let bytes = 0;
  let maxEdge = 0;
  textures.forEach((texture, i) => {
    if (!Number.isInteger(texture?.source)) bad(`textures[${i}] has no source image`);
    const { width, height } = sizeOf(texture.source as number);
    bytes += Math.ceil(width * height * BYTES_PER_PIXEL * MIP_FACTOR);
    maxEdge = Math.max(maxEdge, width, height);
  });
  return { textures: textures.length, bytes, maxEdge };
}
