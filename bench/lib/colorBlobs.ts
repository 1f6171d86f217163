/**
 * Pixel statistics on decoded frames, for tests and the bench's correctness check: where is the
 * red cube, how much of the image is background. Decoding uses sharp, like a client would.
 * It lives in bench/lib so imports run one way, test → bench → product.
 */
import sharp from 'sharp';

export interface DecodedImage {
  /** RGB, 3 bytes per pixel, top row first. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

export async function decodeFrame(data: Uint8Array, codec: 'jpeg' | 'webp' | 'raw' | 'h264', width: number, height: number): Promise<DecodedImage> {
  if (codec === 'h264') throw new TypeError('an h264 frame has no pixels on the socket: they are on the WebRTC video track');
  const input =
    codec === 'raw' ? sharp(data, { raw: { width, height, channels: 4 } }) : sharp(data);
  const { data: rgb, info } = await input.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength), width: info.width, height: info.height };
}

export type ColorTest = (r: number, g: number, b: number) => boolean;

/** Saturated primaries as the unlit test scene draws them; loose enough for JPEG. */
export const IS_RED: ColorTest = (r, g, b) => r > 170 && g < 80 && b < 80;
export const IS_GREEN: ColorTest = (r, g, b) => g > 170 && r < 80 && b < 80;
export const IS_BLUE: ColorTest = (r, g, b) => b > 170 && r < 80 && g < 80;
export const IS_YELLOW: ColorTest = (r, g, b) => r > 170 && g > 170 && b < 80;

export interface Blob {
  count: number;
  /** Centroid in pixel coordinates (pixel centres at +0.5), or NaN when count is 0. */
  x: number;
  y: number;
}

/** Centroid of the pixels passing `test` inside columns [x0, x1). */
export function findBlob(image: DecodedImage, test: ColorTest, x0 = 0, x1 = image.width): Blob {
  let count = 0;
  let sx = 0;
  let sy = 0;
  const { rgb, width, height } = image;
  for (let y = 0; y < height; y++) {
    for (let x = x0; x < x1; x++) {
      const o = (y * width + x) * 3;
      if (test(rgb[o]!, rgb[o + 1]!, rgb[o + 2]!)) {
        count++;
        sx += x + 0.5;
        sy += y + 0.5;
      }
    }
  }
  return { count, x: count ? sx / count - x0 : NaN, y: count ? sy / count : NaN };
}

/** Fraction of pixels close to `rgb` (each channel within `tolerance`). */
export function fractionNear(image: DecodedImage, rgb: readonly number[], tolerance = 12): number {
  let n = 0;
  const total = image.width * image.height;
  for (let i = 0; i < total; i++) {
    const o = i * 3;
    if (
      Math.abs(image.rgb[o]! - rgb[0]!) <= tolerance &&
      Math.abs(image.rgb[o + 1]! - rgb[1]!) <= tolerance &&
      Math.abs(image.rgb[o + 2]! - rgb[2]!) <= tolerance
    ) n++;
  }
  return n / total;
}
