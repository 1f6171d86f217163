/**
 * The trusted renderer `edge-offload discovery --verify-render` judges frames with: edge-server's
 * WebGPU renderer (the same code and test scene a node runs) and sharp to decode, injected into
 * discovery (which may not import edge-server). The reference is the request rendered, encoded
 * with its codec and quality exactly as a node encodes it, and decoded: what an honest node's
 * frame decodes to (protocol/frameEvidence.ts says why not the raw render).
 */
import sharp from 'sharp';
import type { RenderReference } from '../discovery/frameEvidence.js';
import { WebGpuRenderEngine } from '../edge-server/render/WebGpuRenderEngine.js';
import type { Codec, Pixels } from '../protocol/index.js';

/** [64 MiB] the reference renders raw frames of any size a node may be asked for (a node caps encoded frames at 1 MiB). */
const REFERENCE_MAX_FRAME_BYTES = 64 << 20;
const REFERENCE_SESSION = 'discovery-reference';

/** Decodes an encoded frame to RGBA (raw frames are RGBA already, at the frame's stated size). */
export async function decodeFrame(frame: { codec: Codec; width: number; height: number; data: Uint8Array }): Promise<Pixels> {
  if (frame.codec === 'raw') {
    if (frame.data.length !== frame.width * frame.height * 4) throw new RangeError(`a raw ${frame.width}×${frame.height} frame needs ${frame.width * frame.height * 4} bytes, got ${frame.data.length}`);
    return { width: frame.width, height: frame.height, data: frame.data };
  }
  if (frame.codec === 'h264') throw new TypeError('h264 frames go on a video track; not decoded here');
  const { data, info } = await sharp(frame.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * `engine`: render with this one instead of starting a GPU device of its own (a process that
 * already runs a renderer; its frame cap must allow raw frames of the sizes judged). `close()`
 * then leaves it running.
 */
export async function loadRenderReference(engine?: WebGpuRenderEngine): Promise<RenderReference & { close: () => Promise<void> }> {
  const own = engine ? undefined : await WebGpuRenderEngine.create({ maxFrameBytes: REFERENCE_MAX_FRAME_BYTES });
  const renderer = (engine ?? own)!;
  return {
    render: async (request) => decodeFrame(await renderer.render(REFERENCE_SESSION, { t: 'render', id: 0, ...request })),
    decode: decodeFrame,
    close: async () => own?.close(),
  };
}
