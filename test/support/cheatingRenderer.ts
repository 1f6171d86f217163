/**
 * Loaded with `node --import` into a real `edge-offload edge --render` process, for the trust
 * tests only: every frame the node's renderer returns is rendered at half the asked size and
 * upscaled (a node saving GPU time), then encoded with the asked codec and quality like an honest
 * frame. Nothing in the product knows about it: it wraps `WebGpuRenderEngine.prototype.render`,
 * so the node sends and signs the cheap frame like any other.
 */
import sharp from 'sharp';
import { WebGpuRenderEngine } from '../../edge-server/render/WebGpuRenderEngine.js';

const original = WebGpuRenderEngine.prototype.render;

WebGpuRenderEngine.prototype.render = async function (this: WebGpuRenderEngine, sessionId, request) {
  if (request.codec !== 'jpeg' && request.codec !== 'webp') return original.call(this, sessionId, request);
  const { width, height } = request.camera;
  const half = { ...request.camera, width: Math.max(1, width >> 1), height: Math.max(1, height >> 1) };
  const small = await original.call(this, sessionId, { ...request, camera: half, codec: 'raw' });
  const image = sharp(small.data, { raw: { width: small.width, height: small.height, channels: 4 } }).resize(small.width * 2, small.height * 2).removeAlpha();
  const quality = request.quality ?? (request.codec === 'jpeg' ? 80 : 75);
  const out = request.codec === 'jpeg' ? await image.jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer() : await image.webp({ quality, effort: 0 }).toBuffer();
  return { ...small, codec: request.codec, width: small.width * 2, height: small.height * 2, data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
};
