/**
 * Signed results: what a node commits to for every answer, in bytes both sides compute the same
 * way. Browser-safe (no node:crypto): the edge hashes these bytes with node:crypto on its hot path
 * (edge-server/trust/ResultSigner.ts), clients and discovery verify with WebCrypto or node:crypto.
 *
 * Per answer the node computes a record, SHA-256 over
 *   RECORD domain | session | request id | input digest | output bytes
 * where the input digest is SHA-256 over every sample of that device the session received, in wire
 * order (`poseBytes` each), and the output bytes are the deterministic part of the answer (a
 * prediction's predictor, horizon and pose; not its computeMs).
 *
 * Signing each record with Ed25519 would cost more than the prediction itself, so records are
 * amortised: a chain of links, link_k = SHA-256(LINK domain | link_{k-1} | records of block k),
 * starting from link_0 = SHA-256(GENESIS domain | node | session), and the node signs one seal
 * (node, session, last sequence number, link_k) per block of N records or T ms. Evidence that the
 * node said something is then self-contained: the request(s), the answer, link_{k-1}, the records
 * of block k and its seal. Anyone holding the node's public key can check it.
 */
import type { PoseSample, Device, Tensor } from './messages.js';

export const RESULT_DOMAIN = {
  genesis: 'edge-offload/result-chain/genesis/v1',
  record: 'edge-offload/result-chain/record/v1',
  link: 'edge-offload/result-chain/link/v1',
  seal: 'edge-offload/result-chain/seal/v1',
  input: 'edge-offload/result-chain/input/v1',
} as const;

/** What the node signs for a block of results. `link` and `signature` are base64url. */
export interface ResultSeal {
  node: string;
  session: string;
  /** Sequence number (1-based, per session) of the last record in this block. */
  to: number;
  /** link_k after that record. */
  link: string;
  /** Ed25519 over `sealBytes(node, session, to, link)`. */
  signature: string;
}

/** Everything needed to check that a record belongs to a sealed block. */
export interface ChainSegment {
  /** link_{k-1}: the link before this block (the genesis link for the first block). */
  previousLink: string;
  /** Records of the block, base64url, sequence numbers `seal.to - records.length + 1 … seal.to`. */
  records: string[];
  seal: ResultSeal;
}

const DEVICE_CODE: Record<Device, number> = { head: 0, left: 1, right: 2 };
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
  f64(v: number): this {
    this.#ensure(8);
    this.#view.setFloat64(this.length, v, true);
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

/** Bytes hashed (after the input domain and session) into a device's input digest, one sample at a time. */
export function inputPrefixBytes(session: string, device: Device): Uint8Array {
  return new ByteWriter(64).text(RESULT_DOMAIN.input).text(session).u8(DEVICE_CODE[device]).copy();
}

/** The deterministic part of a prediction. */
export function writePredictionOutput(w: ByteWriter, answer: { predictor: string; horizonMs: number; pose: PoseSample }): ByteWriter {
  return writePose(w.u8(1).text(answer.predictor).f64(answer.horizonMs), answer.pose);
}

/** An infer result: the model and the output tensor (dtype, shape, raw bytes). */
export function writeTensorOutput(w: ByteWriter, model: string, output: Tensor): ByteWriter {
  w.u8(2).text(model).text(output.dtype).u32(output.shape.length);
  for (const d of output.shape) w.u32(d);
  return w.u32(output.data.length).bytes(output.data);
}

/** Record preimage: domain | session | request id | input digest (32 bytes) | output bytes. */
export function writeRecordPreimage(w: ByteWriter, session: string, requestId: number, inputDigest: Uint8Array, output: Uint8Array): ByteWriter {
  return w.text(RESULT_DOMAIN.record).text(session).f64(requestId).bytes(inputDigest).bytes(output);
}

export function genesisBytes(node: string, session: string): Uint8Array {
  return new ByteWriter(96).text(RESULT_DOMAIN.genesis).text(node).text(session).copy();
}

export function linkPrefixBytes(previousLink: Uint8Array): Uint8Array {
  return new ByteWriter(96).text(RESULT_DOMAIN.link).bytes(previousLink).copy();
}

/** What a seal's Ed25519 signature covers. */
export function sealBytes(node: string, session: string, to: number, link: string): Uint8Array<ArrayBuffer> {
  return new ByteWriter(160).text(RESULT_DOMAIN.seal).text(node).text(session).f64(to).text(link).copy();
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

/** SHA-256 of a device's input: every sample received, in order (what the node's input digest covers). */
export async function inputDigestOf(session: string, device: Device, samples: readonly PoseSample[]): Promise<Uint8Array> {
  const w = new ByteWriter();
  for (const s of samples) writePose(w, s);
  return sha256([inputPrefixBytes(session, device), w.view()]);
}

export async function predictionRecord(session: string, requestId: number, inputDigest: Uint8Array, answer: { predictor: string; horizonMs: number; pose: PoseSample }): Promise<string> {
  const out = writePredictionOutput(new ByteWriter(), answer).copy();
  return toBase64url(await sha256([writeRecordPreimage(new ByteWriter(), session, requestId, inputDigest, out).view()]));
}

export async function genesisLink(node: string, session: string): Promise<string> {
  return toBase64url(await sha256([genesisBytes(node, session)]));
}

/** link_k from link_{k-1} and the block's records. */
export async function nextLink(previousLink: string, records: readonly string[]): Promise<string> {
  return toBase64url(await sha256([linkPrefixBytes(fromBase64url(previousLink)), ...records.map(fromBase64url)]));
}

/**
 * True when `segment` is a sealed block of the node's chain for `session` and its seal verifies
 * against `publicKey` (base64url raw Ed25519). Any malformed part is false, never a throw.
 */
export async function verifySegment(segment: ChainSegment, publicKey: string): Promise<boolean> {
  try {
    const { seal } = segment;
    if (segment.records.length === 0 || seal.to < segment.records.length) return false;
    if ((await nextLink(segment.previousLink, segment.records)) !== seal.link) return false;
    const key = await subtle().importKey('raw', fromBase64url(publicKey), { name: 'Ed25519' }, false, ['verify']);
    return await subtle().verify({ name: 'Ed25519' }, key, fromBase64url(seal.signature), sealBytes(seal.node, seal.session, seal.to, seal.link));
  } catch {
    return false;
  }
}

/** Sequence number of `record` inside a verified segment, or undefined when absent. */
export function sequenceOf(segment: ChainSegment, record: string): number | undefined {
  const i = segment.records.indexOf(record);
  return i < 0 ? undefined : segment.seal.to - segment.records.length + 1 + i;
}
