/**
 * Discovery's check of `frame` evidence (protocol/frameEvidence.ts): the node said it (the frame's
 * entry, recomputed here from the request and the frame, is in a block whose seal verifies against
 * the key discovery vouched for), and it is wrong (its decoded pixels are further than
 * `DEFAULT_MIN_FRAME_PSNR_DB` from discovery's own render of the same request, encoded and decoded
 * as an honest node's would be). Discovery imports no renderer or codec: bin/ injects edge-server's
 * WebGPU renderer and its image codec (`edge-offload discovery --verify-render`); without one every
 * frame evidence is `UNVERIFIABLE`, never an accusation.
 */
import {
  DEFAULT_LIMITS,
  DEFAULT_MIN_FRAME_PSNR_DB,
  ProtocolError,
  frameEntry,
  frameEvidenceSchema,
  frameFromJson,
  psnr,
  type Codec,
  type FrameEvidence,
  type FrameFacts,
  type FrameRequest,
  type Pixels,
  type WireLimits,
} from '../protocol/index.js';
import { TrustError, TrustErrorCode } from './trustErrors.js';

/** A trusted renderer and decoder (bin/discoveryRender.ts wires edge-server's). */
export interface RenderReference {
  /** The request rendered, encoded with its codec and quality, and decoded: what an honest node's frame decodes to. */
  render(request: FrameRequest): Promise<Pixels>;
  /** Decodes a node's encoded frame to RGBA; rejects for bytes that are no image of that codec. */
  decode(frame: { codec: Codec; width: number; height: number; data: Uint8Array }): Promise<Pixels>;
}

/**
 * The PSNR of a node's frame against the reference; 0 for a frame that does not decode (the node
 * signed bytes that are no frame). Rejects UNVERIFIABLE for what the reference cannot render (an
 * uploaded scene it does not hold, h264 frames that go on a video track).
 */
export async function framePsnr(reference: RenderReference, request: FrameRequest, frame: FrameFacts & { data: Uint8Array }): Promise<number> {
  if (request.codec === 'h264' || request.scene !== undefined) throw new TrustError(TrustErrorCode.UNVERIFIABLE, 'h264 frames and uploaded scenes are not judged by value');
  // a frame of another size than the request's is 0 dB (psnr): known without rendering, so a
  // stranger cannot make discovery render a large view for a tiny claimed frame
  const { width, height } = request.camera;
  if (frame.width !== width * (request.eye === 'both' ? 2 : 1) || frame.height !== height) return 0;
  let expected: Pixels;
  try {
    expected = await renderOneAtATime(() => reference.render(request));
  } catch (err) {
    throw new TrustError(TrustErrorCode.UNVERIFIABLE, `cannot render the reference: ${(err as Error).message}`);
  }
  const got = await reference.decode(frame).catch(() => undefined);
  return got ? psnr(got, expected) : 0;
}

/**
 * Reference renders run one at a time per process: each holds a full frame's pixels (up to 64 MiB
 * raw), and the rate limit is per address, so many addresses asking at once would otherwise stack
 * renders in memory. Queued renders wait; a caller still gets its answer.
 */
let renderTail: Promise<unknown> = Promise.resolve();
function renderOneAtATime<T>(render: () => Promise<T>): Promise<T> {
  const result = renderTail.then(render, render);
  renderTail = result.catch(() => undefined);
  return result;
}

export function parseFrameEvidence(value: unknown, limits: WireLimits = DEFAULT_LIMITS): FrameEvidence {
  try {
    return frameEvidenceSchema.parse(value, 'evidence', limits);
  } catch (err) {
    if (err instanceof ProtocolError) throw new TrustError(TrustErrorCode.MALFORMED, err.message);
    throw err;
  }
}

/** Checks parsed frame evidence against the node's key; resolves the offence's sequence number and PSNR, or rejects with a TrustError. */
export async function checkFrameEvidence(
  e: FrameEvidence,
  publicKey: string,
  verifySegment: (segment: FrameEvidence['segment'], publicKey: string) => boolean,
  reference: RenderReference | undefined,
  minPsnrDb = DEFAULT_MIN_FRAME_PSNR_DB,
): Promise<{ seq: number; psnrDb: number }> {
  const { seal } = e.segment;
  if (seal.node !== e.node || seal.session !== e.session) throw new TrustError(TrustErrorCode.BAD_SIGNATURE, 'the seal belongs to another node or session');
  const { id, ...request } = e.request;
  const frame = frameFromJson(e.frame);
  const index = e.segment.entries.indexOf(await frameEntry(id, e.inputs, request, frame));
  if (index < 0) throw new TrustError(TrustErrorCode.NOT_SIGNED_BY_NODE, 'this frame for this request is not in the sealed block');
  if (!verifySegment(e.segment, publicKey)) throw new TrustError(TrustErrorCode.BAD_SIGNATURE, `the seal does not verify against node '${e.node}''s key`);
  if (!reference) throw new TrustError(TrustErrorCode.UNVERIFIABLE, 'this discovery runs no renderer to judge frames (start it with --verify-render)');
  const psnrDb = await framePsnr(reference, request, frame);
  if (psnrDb >= minPsnrDb) throw new TrustError(TrustErrorCode.NOT_WRONG, `the node's frame is ${psnrDb.toFixed(1)} dB from the reference, within ${minPsnrDb} dB`);
  return { seq: seal.to - e.segment.entries.length + 1 + index, psnrDb };
}
