/**
 * Frame encoding for the WebSocket path: JPEG or WebP through sharp (libvips, off the JS thread), or
 * raw RGBA. Read-back pixels may be BGRA (Dawn's canvas format); every output is RGB(A) order.
 */
import sharp from 'sharp';
import type { Codec } from '../../protocol/index.js';
import type { PixelOrder } from './StereoRenderer.js';

export interface EncodeOptions {
  /** 1–100; default 80 (JPEG) / 75 (WebP). */
  quality?: number;
  /** WebP encoder effort 0–6; default 0 (fastest: a frame is stale in tens of milliseconds). */
  webpEffort?: number;
}

export interface EncodedFrame {
  data: Uint8Array;
  encodeMs: number;
}

export const DEFAULT_JPEG_QUALITY = 80;
export const DEFAULT_WEBP_QUALITY = 75;

/** Swaps R and B in place (BGRA ↔ RGBA), one 32-bit word per pixel. */
export function swapRedBlue(pixels: Uint8Array): Uint8Array {
  if (pixels.byteOffset % 4 === 0 && pixels.byteLength % 4 === 0) {
    const words = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.byteLength / 4);
    // Little-endian word: 0xAARRGGBB for BGRA bytes; keep A and G, exchange the other two bytes.
    for (let i = 0; i < words.length; i++) {
      const v = words[i]!;
      words[i] = (v & 0xff00ff00) | ((v & 0xff) << 16) | ((v >>> 16) & 0xff);
    }
  } else {
    for (let i = 0; i < pixels.length; i += 4) {
      const b = pixels[i]!;
      pixels[i] = pixels[i + 2]!;
      pixels[i + 2] = b;
    }
  }
  return pixels;
}

/**
 * Encodes tightly packed 4-byte pixels. For BGRA input the channel swap is done in place (the pixels
 * belong to this frame only); JPEG/WebP then drop alpha (frames are opaque).
 */
export async function encodeFrame(
  pixels: Uint8Array,
  width: number,
  height: number,
  order: PixelOrder,
  codec: Codec,
  options: EncodeOptions = {},
): Promise<EncodedFrame> {
  const started = performance.now();
  if (pixels.byteLength !== width * height * 4) {
    throw new RangeError(`frame has ${pixels.byteLength} bytes, expected ${width}×${height}×4`);
  }
  if (codec === 'h264') throw new TypeError("h264 frames are encoded by the session's video sender (edge-server/webrtc/video), not here");
  if (order === 'bgra') swapRedBlue(pixels);
  let data: Uint8Array;
  if (codec === 'raw') {
    data = pixels;
  } else {
    const image = sharp(pixels, { raw: { width, height, channels: 4 } }).removeAlpha();
    const out =
      codec === 'jpeg'
        ? await image.jpeg({ quality: options.quality ?? DEFAULT_JPEG_QUALITY, chromaSubsampling: '4:2:0' }).toBuffer()
        : await image.webp({ quality: options.quality ?? DEFAULT_WEBP_QUALITY, effort: options.webpEffort ?? 0 }).toBuffer();
    data = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  return { data, encodeMs: performance.now() - started };
}
