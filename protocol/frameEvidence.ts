/**
 * Evidence that a node returned a wrong frame (signed into its chain, protocol/resultSigning.ts
 * `frameEntry`), how a frame is judged, and the signed verdict a verifier gives a client's trap.
 *
 * A frame is judged by PSNR against a trusted reference *as an honest node would have delivered
 * it*: rendered at the request's pose, eye and camera, encoded with the request's codec and quality
 * (defaults: JPEG 80, WebP 75), decoded. Comparing with the raw render instead would mistake JPEG
 * loss for cheating (an honest JPEG q30 frame is 24.8 dB from the raw render, a half-size cheat at
 * q80 up to 25.4 dB: they overlap); against the same encoding an honest frame is identical on the
 * same renderer. Numbers and the threshold: DEFAULT_MIN_FRAME_PSNR_DB.
 */
import { EYES, CODECS, cameraSchema, poseSampleSchema } from './messages.js';
import { literal, number, object, oneOf, optional, string, uint, type Infer } from './schema.js';
import { chainSegmentSchema } from './evidence.js';
import { ByteWriter, fromBase64url, toBase64url, writePose, type FrameFacts, type FrameRequest } from './resultSigning.js';

/**
 * [160 KiB] largest encoded frame an evidence or reference request carries (a trap repeats the
 * app's own view; evidence bodies are capped at 256 KiB with the block's entries in them).
 */
export const MAX_EVIDENCE_FRAME_BYTES = 160 * 1024;

/**
 * [30 dB] a frame further than this from the reference is wrong. Measured with the real renderer
 * (WebGpuRenderEngine on llvmpipe, the test scene, 64-640 px, JPEG q10-95 and WebP q30-75, 144
 * views per kind): an honest frame is identical to the reference (same renderer and encoder);
 * the same render perturbed by ±1 in every channel before encoding (a stand-in for another GPU's
 * rounding, not measured on a second GPU) stays ≥ 34.4 dB; cheats stay ≤ 25.4 dB: rendered at half
 * size and upscaled 17.3-25.4 dB, a stale frame one 90 Hz frame (11 ms) old 17.2-23.4 dB.
 */
export const DEFAULT_MIN_FRAME_PSNR_DB = 30;

/** PSNR of identical images, so it stays a finite JSON number. */
export const PSNR_IDENTICAL_DB = 100;

const b64Frame = () => string(Math.ceil((MAX_EVIDENCE_FRAME_BYTES * 4) / 3) + 4);

export const frameRequestJsonSchema = object({
  id: uint(2 ** 32),
  pose: poseSampleSchema,
  eye: oneOf(EYES),
  camera: cameraSchema,
  codec: oneOf(CODECS),
  quality: optional(uint(100)),
  scene: optional(string(128)),
});

export const frameJsonSchema = object({
  pose: poseSampleSchema,
  eye: oneOf(EYES),
  codec: oneOf(CODECS),
  width: uint(16384),
  height: uint(8192),
  rtpTimestamp: optional(uint(2 ** 32 - 1)),
  /** The encoded bytes, base64url. */
  data: b64Frame(),
});
export type FrameJson = Infer<typeof frameJsonSchema>;

/** What a client sends a verifier for a trap's frame: the request as sent and the frame as received. */
export const frameTaskSchema = object({ request: frameRequestJsonSchema, frame: frameJsonSchema });
export type FrameTaskBody = Infer<typeof frameTaskSchema>;

export const frameEvidenceSchema = object({
  kind: literal('frame'),
  node: string(128),
  session: string(128),
  request: frameRequestJsonSchema,
  /** Pose samples the session had received when the request arrived (part of the signed entry). */
  inputs: uint(),
  frame: frameJsonSchema,
  segment: chainSegmentSchema,
  /** What the reporter measured; informational only (discovery recomputes). */
  psnrDb: optional(number(0)),
  reporter: string(128),
});
export type FrameEvidence = Infer<typeof frameEvidenceSchema>;

/** What a verifier signs for a frame task: which request and which frame it judged, and the PSNR. */
export interface FrameReferencePayload {
  v: 1;
  requestSha256: string;
  frameSha256: string;
  psnrDb: number;
}
export const FRAME_REFERENCE_DOMAIN = 'edge-offload/frame-reference/v1';

export function frameToJson(frame: FrameFacts & { data: Uint8Array }): FrameJson {
  return {
    pose: frame.pose,
    eye: frame.eye,
    codec: frame.codec,
    width: frame.width,
    height: frame.height,
    ...(frame.rtpTimestamp !== undefined ? { rtpTimestamp: frame.rtpTimestamp } : {}),
    data: toBase64url(frame.data),
  };
}

export function frameFromJson(frame: FrameJson): FrameFacts & { data: Uint8Array } {
  const { data, ...facts } = frame;
  return { ...facts, data: fromBase64url(data) };
}

export function frameRequestToJson(id: number, r: FrameRequest): Infer<typeof frameRequestJsonSchema> {
  return { id, pose: r.pose, eye: r.eye, camera: r.camera, codec: r.codec, ...(r.quality !== undefined ? { quality: r.quality } : {}), ...(r.scene !== undefined ? { scene: r.scene } : {}) };
}

/** SHA-256 (base64url) over everything that decides a frame's pixels, in a fixed byte order. */
export async function frameRequestSha256(r: FrameRequest): Promise<string> {
  const c = r.camera;
  const w = writePose(new ByteWriter(), r.pose).text(r.eye).text(r.codec).f64(r.quality ?? -1).text(r.scene ?? '');
  w.f64(c.fovY).f64(c.ipd).u32(c.width).u32(c.height).f64(c.near ?? -1).f64(c.far ?? -1);
  return toBase64url(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', w.copy())));
}

export async function sha256Base64url(data: Uint8Array): Promise<string> {
  return toBase64url(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', data.slice())));
}

/** Tightly packed RGBA pixels. */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
}

/** PSNR over R, G and B (alpha ignored), dB; 0 for images of different sizes, PSNR_IDENTICAL_DB for identical ones. */
export function psnr(a: Pixels, b: Pixels): number {
  const n = a.width * a.height * 4;
  if (a.width !== b.width || a.height !== b.height || a.data.length < n || b.data.length < n || n === 0) return 0;
  let se = 0;
  for (let i = 0; i < n; i += 4) {
    const dr = a.data[i]! - b.data[i]!, dg = a.data[i + 1]! - b.data[i + 1]!, db = a.data[i + 2]! - b.data[i + 2]!;
    se += dr * dr + dg * dg + db * db;
  }
  if (se === 0) return PSNR_IDENTICAL_DB;
  return Math.min(PSNR_IDENTICAL_DB, 10 * Math.log10((255 * 255 * (n / 4) * 3) / se));
}
