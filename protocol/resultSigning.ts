/**
 * Signed results: what a node commits to for every answer, in bytes both sides compute the same
 * way. Browser-safe (no node:crypto): the edge hashes these bytes with node:crypto on its hot path
 * (edge-server/trust/ResultSigner.ts), clients and discovery verify with WebCrypto or node:crypto.
 *
 * Two running SHA-256 hashes per session, so a frame costs two `update`s and no digest:
 * - the input hash: every pose sample the session received (all devices), in wire order;
 * - the block hash: starts from the previous link, then one entry per answer, in the order the
 *   node sent them: (request id, samples received when it predicted, output bytes). The output is
 *   the deterministic part of the answer (a prediction's predictor, horizon and pose; not computeMs).
 *   An infer result's entry carries the model and its input and output tensors by SHA-256; a
 *   frame's carries the render request it answers and the SHA-256 of the encoded bytes (hashing
 *   is cheap next to inference and rendering, and entries stay small: evidence caps them).
 * Every `sealEvery` answers or `sealAfterMs` the node closes the block: link_k = the block hash,
 * and signs a seal over (node, session, answers so far, link_k, samples so far, input digest so far)
 * — one Ed25519 signature per block instead of per answer.
 *
 * Evidence is then self-contained: the session's messages (their samples give the input digest
 * and each answer's input), the block's entries, link_{k-1} and the seal. Anyone holding the
 * node's public key can check that the node said exactly this answer for exactly this input.
 */
import type { FrameMessage, PoseSample, RenderMessage, Tensor } from './messages.js';

export const RESULT_DOMAIN = {
  genesis: 'edge-offload/result-chain/genesis/v1',
  link: 'edge-offload/result-chain/link/v1',
  seal: 'edge-offload/result-chain/seal/v1',
  input: 'edge-offload/result-chain/input/v1',
} as const;

/** What the node signs for a block of results. Hashes and the signature are base64url. */
export interface ResultSeal {
  node: string;
  session: string;
  /** Answers in the session so far (1-based sequence number of this block's last entry). */
  to: number;
  /** link_k: the hash of link_{k-1} and this block's entries. */
  link: string;
  /** Samples the session had received when sealing. */
  inputs: number;
  /** SHA-256 over those samples (`inputPrefixBytes`, then `writePose` each). */
  inputDigest: string;
  /** Ed25519 over `sealBytes(...)`. */
  signature: string;
}

/** Everything needed to check that entries belong to a sealed block. */
export interface ChainSegment {
  /** link_{k-1}: the link before this block (the genesis link for the first block). */
  previousLink: string;
  /** The block's entries (`writeEntry` bytes), base64url, sequence numbers `seal.to - entries.length + 1 … seal.to`. */
  entries: string[];
  seal: ResultSeal;
}

const DEVICE_CODE: Record<PoseSample['device'], number> = { head: 0, left: 1, right: 2 };
const encoder = new TextEncoder();

/** A growable little-endian byte writer; reused by the hot path so a sample allocates nothing. */
export class ByteWriter {
  #buffer: Uint8Array<ArrayBuffer>;
  #view: DataView;
  length = 0;
  constructor(initial = 256) {
    this.#buffer = new Uint8Array(initial);
    this.#view = new DataView(this.#buffer.buffer);
  }
  #ensure(extra: number): void {
    if (this.length + extra <= this.#buffer.length) return;
    const next = new Uint8Array(Math.max(this.#buffer.length * 2, this.length + extra));
    next.set(this.#buffer.subarray(0, this.length));
    this.#buffer = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number): this {
    this.#ensure(1);
    this.#buffer[this.length++] = v;
    return this;
  }
  u32(v: number): this {
    this.#ensure(4);
    this.#view.setUint32(this.length, v, true);
    this.length += 4;
    return this;
  }
  /** -0 is written as 0: MessagePack and JSON both carry -0 as 0, so the receiver never sees it. */
  f64(v: number): this {
    this.#ensure(8);
    this.#view.setFloat64(this.length, v === 0 ? 0 : v, true);
    this.length += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.#ensure(b.length);
    this.#buffer.set(b, this.length);
    this.length += b.length;
    return this;
  }
  /** Length-prefixed UTF-8. */
  text(s: string): this {
    const b = encoder.encode(s);
    return this.u32(b.length).bytes(b);
  }
  reset(): this {
    this.length = 0;
    return this;
  }
  /** A view of the written bytes, valid until the next write. */
  view(): Uint8Array<ArrayBuffer> {
    return this.#buffer.subarray(0, this.length);
  }
  /** A copy of the written bytes. */
  copy(): Uint8Array<ArrayBuffer> {
    return this.#buffer.slice(0, this.length);
  }
}

/** One pose sample exactly as received (before normalisation): device, time, position, orientation, velocities. */
export function writePose(w: ByteWriter, s: PoseSample): ByteWriter {
  w.u8(DEVICE_CODE[s.device]).f64(s.time);
  for (const v of s.position) w.f64(v);
  for (const v of s.orientation) w.f64(v);
  w.u8((s.linearVelocity ? 1 : 0) | (s.angularVelocity ? 2 : 0));
  if (s.linearVelocity) for (const v of s.linearVelocity) w.f64(v);
  if (s.angularVelocity) for (const v of s.angularVelocity) w.f64(v);
  return w;
}

/** What the input hash starts with: domain and session. */
export function inputPrefixBytes(session: string): Uint8Array<ArrayBuffer> {
  return new ByteWriter(64).text(RESULT_DOMAIN.input).text(session).copy();
}

/** The deterministic part of a prediction. */
export function writePredictionOutput(w: ByteWriter, answer: { predictor: string; horizonMs: number; pose: PoseSample }): ByteWriter {
  return writePose(w.u8(1).text(answer.predictor).f64(answer.horizonMs), answer.pose);
}

/** A tensor by its facts and the SHA-256 of its bytes (entries stay small whatever the tensor). */
function writeTensorDigest(w: ByteWriter, tensor: Pick<Tensor, 'dtype' | 'shape'>, digest: Uint8Array): ByteWriter {
  w.text(tensor.dtype).u32(tensor.shape.length);
  for (const d of tensor.shape) w.u32(d);
  return w.u32(digest.length).bytes(digest);
}

/** The deterministic part of an infer result: the model, the input it answers, the output (each tensor by digest). */
export function writeInferOutput(w: ByteWriter, model: string, input: Tensor, inputDigest: Uint8Array, output: Tensor, outputDigest: Uint8Array): ByteWriter {
  return writeTensorDigest(writeTensorDigest(w.u8(2).text(model), input, inputDigest), output, outputDigest);
}

/** What a frame's entry covers of its render request: everything that decides the pixels. */
export type FrameRequest = Pick<RenderMessage, 'pose' | 'eye' | 'camera' | 'codec' | 'quality' | 'scene'>;
/** What it covers of the frame: all but timings (node clocks) and the pixels, which go by digest. */
export type FrameFacts = Pick<FrameMessage, 'pose' | 'eye' | 'codec' | 'width' | 'height' | 'rtpTimestamp'>;

/** The deterministic part of a rendered frame: the request, the frame's facts, SHA-256 of its bytes. */
export function writeFrameOutput(w: ByteWriter, request: FrameRequest, frame: FrameFacts, dataDigest: Uint8Array): ByteWriter {
  const c = request.camera;
  writePose(w.u8(3), request.pose).text(request.eye).text(request.codec).f64(request.quality ?? -1).text(request.scene ?? '');
  w.f64(c.fovY).f64(c.ipd).u32(c.width).u32(c.height).f64(c.near ?? -1).f64(c.far ?? -1);
  writePose(w, frame.pose).text(frame.eye).text(frame.codec).u32(frame.width).u32(frame.height).f64(frame.rtpTimestamp ?? -1);
  return w.u32(dataDigest.length).bytes(dataDigest);
}

/** One answer's entry in its block: request id, samples the session had received when it predicted, output. */
export function writeEntry(w: ByteWriter, requestId: number, inputs: number, output: Uint8Array): ByteWriter {
  return w.f64(requestId).f64(inputs).u32(output.length).bytes(output);
}

export function genesisBytes(node: string, session: string): Uint8Array {
  return new ByteWriter(96).text(RESULT_DOMAIN.genesis).text(node).text(session).copy();
}

export function linkPrefixBytes(previousLink: Uint8Array): Uint8Array {
  return new ByteWriter(96).text(RESULT_DOMAIN.link).bytes(previousLink).copy();
}

/** What a seal's Ed25519 signature covers. */
export function sealBytes(s: Omit<ResultSeal, 'signature'>): Uint8Array<ArrayBuffer> {
  return new ByteWriter(256).text(RESULT_DOMAIN.seal).text(s.node).text(s.session).f64(s.to).text(s.link).f64(s.inputs).text(s.inputDigest).copy();
}

// --- base64url without Buffer (browsers) ---

export function toBase64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new TypeError('not base64url');
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// --- WebCrypto verification (browser and Node ≥ 20) ---

function subtle(): SubtleCrypto {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c?.subtle) throw new Error('WebCrypto (crypto.subtle) is unavailable: result verification needs a secure context');
  return c.subtle;
}

async function sha256(parts: readonly Uint8Array[]): Promise<Uint8Array> {
  let total = 0;
  for (const p of parts) total += p.length;
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await subtle().digest('SHA-256', all));
}

/** SHA-256 of a session's input: `samples` are every sample it received, in order. */
export async function inputDigestOf(session: string, samples: readonly PoseSample[]): Promise<string> {
  const w = new ByteWriter();
  for (const s of samples) writePose(w, s);
  return toBase64url(await sha256([inputPrefixBytes(session), w.view()]));
}

/** An answer's entry, base64url, as it appears in `ChainSegment.entries`. */
export function predictionEntry(requestId: number, inputs: number, answer: { predictor: string; horizonMs: number; pose: PoseSample }): string {
  return entryOf(requestId, inputs, writePredictionOutput(new ByteWriter(), answer));
}

/** An infer result's entry (the node records it when the result is sent). */
export async function inferEntry(requestId: number, inputs: number, model: string, input: Tensor, output: Tensor): Promise<string> {
  const [inputDigest, outputDigest] = await Promise.all([sha256([input.data]), sha256([output.data])]);
  return entryOf(requestId, inputs, writeInferOutput(new ByteWriter(), model, input, inputDigest, output, outputDigest));
}

/** A frame's entry (the node records it when the frame is sent); the bytes go by their SHA-256. */
export async function frameEntry(requestId: number, inputs: number, request: FrameRequest, frame: FrameFacts & { data: Uint8Array }): Promise<string> {
  return entryOf(requestId, inputs, writeFrameOutput(new ByteWriter(), request, frame, await sha256([frame.data])));
}

function entryOf(requestId: number, inputs: number, output: ByteWriter): string {
  return toBase64url(writeEntry(new ByteWriter(output.length + 32), requestId, inputs, output.view()).view());
}

export async function genesisLink(node: string, session: string): Promise<string> {
  return toBase64url(await sha256([genesisBytes(node, session)]));
}

/** link_k from link_{k-1} and the block's entries. */
export async function nextLink(previousLink: string, entries: readonly string[]): Promise<string> {
  return toBase64url(await sha256([linkPrefixBytes(fromBase64url(previousLink)), ...entries.map(fromBase64url)]));
}

/**
 * True when `segment` is a sealed block of the node's chain and its seal verifies against
 * `publicKey` (base64url raw Ed25519). The seal's input digest is checked by the caller (it needs
 * the samples). Any malformed part is false, never a throw.
 */
export async function verifySegment(segment: ChainSegment, publicKey: string): Promise<boolean> {
  try {
    const { seal } = segment;
    if (segment.entries.length === 0 || seal.to < segment.entries.length) return false;
    if ((await nextLink(segment.previousLink, segment.entries)) !== seal.link) return false;
    const key = await subtle().importKey('raw', fromBase64url(publicKey), { name: 'Ed25519' }, false, ['verify']);
    const { signature, ...signed } = seal;
    return await subtle().verify({ name: 'Ed25519' }, key, fromBase64url(signature), sealBytes(signed));
  } catch {
    return false;
  }
}
