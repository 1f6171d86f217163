/** Small GLB scenes for render tests, built in memory. */
import sharp from 'sharp';

export { texturedQuadGlb } from '../../bench/lib/scenes.js';

export const solidPng = (width: number, height: number, rgb: [number, number, number]) =>
  sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toBuffer()
    .then((b) => new Uint8Array(b));
