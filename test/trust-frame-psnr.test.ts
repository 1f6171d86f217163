/**
 * The frame threshold (protocol/frameEvidence.ts DEFAULT_MIN_FRAME_PSNR_DB) against what the real
 * renderer produces: over a grid of views, sizes, codecs and qualities, an honest frame (the node's
 * renderer and encoder) is within it of the reference discovery builds (bin/discoveryRender.ts),
 * and so is the same render perturbed by ±1 per channel before encoding (a stand-in for another
 * GPU's rounding); a frame rendered at half size and upscaled, or one 90 Hz frame stale, is not.
 * Prints the ranges TRUST.md quotes.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import { decodeFrame, loadRenderReference } from '../bin/discoveryRender.js';
import { framePsnr } from '../discovery/frameEvidence.js';
import { WebGpuRenderEngine } from '../edge-server/render/WebGpuRenderEngine.js';
import { DEFAULT_MIN_FRAME_PSNR_DB, psnr, type Codec, type FrameRequest } from '../protocol/index.js';
import { swayingWalk } from './support/motionFixtures.js';

const test = suite('trust-frame-psnr');

test('honest frames stay above the PSNR threshold, half-size and stale frames below it', async () => {
  const node = await WebGpuRenderEngine.create({ maxFrameBytes: 64 << 20 });
  // one GPU device for both (this process plays node and verifier): the renderer code is the same
  const reference = await loadRenderReference(node);
  const walk = swayingWalk();
  const ranges = new Map<string, number[]>();
  const add = (kind: string, db: number) => (ranges.get(kind) ?? ranges.set(kind, []).get(kind)!).push(db);
  const encode = async (px: Uint8Array, w: number, h: number, size: number, codec: 'jpeg' | 'webp', quality: number) => {
    let image = sharp(px, { raw: { width: w, height: h, channels: 4 } });
    if (w !== size) image = image.resize(size, size);
    const out = codec === 'jpeg' ? await image.removeAlpha().jpeg({ quality, chromaSubsampling: '4:2:0' }).toBuffer() : await image.removeAlpha().webp({ quality, effort: 0 }).toBuffer();
    return decodeFrame({ codec, width: size, height: size, data: new Uint8Array(out) });
  };
  try {
    for (const size of [64, 256, 640]) {
      for (const t of [0.5, 1.9, 3.3]) {
        for (const [codec, quality] of [['jpeg', 10], ['jpeg', 80], ['webp', 30], ['webp', 75]] as const) {
          const camera = { fovY: 90, ipd: 0.064, width: size, height: size };
          const request: FrameRequest = { pose: { ...walk.at(t), time: 1 }, eye: 'left', camera, codec: codec as Codec, quality };
          const expected = await reference.render(request);
          const honest = await node.render('n', { t: 'render', id: 1, ...request });
          add('honest', psnr(await decodeFrame(honest), expected));
          const raw = (await node.render('n', { t: 'render', id: 1, ...request, codec: 'raw' })).data.slice();
          for (let i = 0; i < raw.length; i++) if (i % 4 !== 3) raw[i] = Math.max(0, Math.min(255, raw[i]! + ((i * 7919) % 3) - 1));
          add('±1 per channel', psnr(await encode(raw, size, size, size, codec, quality), expected));
          const half = await node.render('n', { t: 'render', id: 1, ...request, codec: 'raw', camera: { ...camera, width: size / 2, height: size / 2 } });
          add('half size, upscaled', psnr(await encode(half.data, half.width, half.height, size, codec, quality), expected));
          const stale = await node.render('n', { t: 'render', id: 1, ...request, pose: { ...walk.at(t - 1 / 90), time: 1 } });
          add('11 ms stale', psnr(await decodeFrame(stale), expected));
        }
      }
    }
    const range = (k: string) => ({ min: Math.min(...ranges.get(k)!), max: Math.max(...ranges.get(k)!) });
    for (const k of ['honest', '±1 per channel']) assert.ok(range(k).min >= DEFAULT_MIN_FRAME_PSNR_DB, `${k}: ${JSON.stringify(range(k))}`);
    for (const k of ['half size, upscaled', '11 ms stale']) assert.ok(range(k).max < DEFAULT_MIN_FRAME_PSNR_DB, `${k}: ${JSON.stringify(range(k))}`);
    console.log(`  PSNR dB vs reference (${ranges.get('honest')!.length} views each): ${[...ranges.keys()].map((k) => `${k} ${range(k).min.toFixed(1)}-${range(k).max.toFixed(1)}`).join('; ')}`);
  } finally {
    await node.close();
    await reference.close();
  }
});

test("discovery's framePsnr: an honest side-by-side frame matches; a frame of another size than the request is 0 dB without a render", async () => {
  const node = await WebGpuRenderEngine.create({ maxFrameBytes: 64 << 20 });
  const reference = await loadRenderReference(node);
  let renders = 0;
  const counting = { render: (r: FrameRequest) => (renders++, reference.render(r)), decode: reference.decode };
  try {
    const request: FrameRequest = { pose: { ...swayingWalk().at(1), time: 1 }, eye: 'both', camera: { fovY: 90, ipd: 0.064, width: 96, height: 64 }, codec: 'jpeg', quality: 80 };
    const honest = await node.render('n', { t: 'render', id: 1, ...request });
    assert.is(honest.width, 192, 'both eyes side by side');
    assert.ok((await framePsnr(counting, request, honest)) >= DEFAULT_MIN_FRAME_PSNR_DB, 'honest stereo frame');
    assert.is(renders, 1);
    // the same bytes claimed for a 4096² view: refused as wrong at once, nothing rendered
    assert.is(await framePsnr(counting, { ...request, camera: { ...request.camera, width: 4096, height: 4096 } }, honest), 0);
    assert.is(renders, 1);
  } finally {
    await node.close();
    await reference.close();
  }
});

test.run();
