/**
 * Evidence that a node answered wrongly, and discovery's check of it. Discovery acts only on what
 * it can re-check itself, so a report is three things, each verified independently:
 *
 * 1. the node said it: the answer's entry (recomputed here from the evidence's requests and the
 *    node's answer) is in a block whose seal verifies against the key discovery vouched for;
 * 2. for that input: the seal binds the digest of every sample the session had received, which is
 *    recomputed here from the requests, and the entry says how many of them the answer used, so a
 *    client cannot swap the input after the fact;
 * 3. it is wrong: the prediction is recomputed by replaying the requests through the same
 *    deterministic predictors (edge-server/inference replay) and compared within a tolerance
 *    suited to the predictor (exact predictors: float noise; `learned`: tfjs backend noise).
 *
 * The reporter's own reference is never trusted; it only travels for the operator to read.
 */
import { createHash, verify } from 'node:crypto';
import {
  ByteWriter,
  DEFAULT_LIMITS,
  ProtocolError,
  inputPrefixBytes,
  sealBytes,
  linkPrefixBytes,
  fromBase64url,
  writePose,
  writePredictionOutput,
  writeEntry,
  type ChainSegment,
  type PoseSample,
  type WireLimits,
} from '../protocol/index.js';
import { predictEvidenceSchema, compareAnswers, type PredictEvidence, type Tolerance } from '../protocol/evidence.js';
import { replayPredictions, ReplayError, type ReplayMessage } from '../protocol/motion/replay.js';
import type { PredictorFactory } from '../protocol/motion/predictor.js';
import { importPublicKey } from './identity.js';
import { checkInferEvidence, parseInferEvidence, type InferReference } from './inferEvidence.js';
import { checkFrameEvidence, parseFrameEvidence, type RenderReference } from './frameEvidence.js';
import type { InferTolerance } from '../protocol/inferEvidence.js';
import { TrustError, TrustErrorCode } from './trustErrors.js';

export interface EvidenceVerifierOptions {
  /** The public key discovery vouched for (from the node's registration); undefined when unknown. */
  keyOf: (nodeId: string) => string | undefined | Promise<string | undefined>;
  /** Predictors discovery can recompute with (createDefaultPredictors, with the learned model). */
  predictors: ReadonlyMap<string, PredictorFactory>;
  tolerances?: Readonly<Record<string, Tolerance>>;
  /** Recomputes `infer` results (bin/ wires edge-server's tfjs engine in); without it infer evidence is UNVERIFIABLE. */
  infer?: InferReference;
  /** [DEFAULT_INFER_TOLERANCE] element-wise tolerance for infer results. */
  inferTolerance?: InferTolerance;
  /** Renders and decodes frames (bin/ wires edge-server's renderer in); without it frame evidence is UNVERIFIABLE. */
  render?: RenderReference;
  /** [DEFAULT_MIN_FRAME_PSNR_DB = 30] a frame below this PSNR against the reference is wrong. */
  minFramePsnrDb?: number;
  limits?: WireLimits;
}

export interface Verdict {
  /** What was wrong: a prediction, an infer result or a frame. */
  kind: 'predict' | 'infer' | 'frame';
  node: string;
  session: string;
  /** Sequence number of the wrong answer in the node's chain: with node + session, the offence id. */
  seq: number;
  /** The predictor; for `infer` the model; for `frame` the codec. */
  predictor: string;
  /** How far the node's prediction is from the recomputation (0 for `infer`). */
  angleRad: number;
  positionM: number;
  /** `infer`: largest |result − recomputation| over the tensor's elements. */
  maxAbsError?: number;
  /** `frame`: PSNR of the node's frame against discovery's reference, dB. */
  psnrDb?: number;
  reporter: string;
  /** Stable id of this offence: the same wrong answer reported twice is one offence. */
  offenceId: string;
}

export function parseEvidence(value: unknown, limits: WireLimits = DEFAULT_LIMITS): PredictEvidence {
  try {
    return predictEvidenceSchema.parse(value, 'evidence', limits);
  } catch (err) {
    if (err instanceof ProtocolError) throw new TrustError(TrustErrorCode.MALFORMED, err.message);
    throw err;
  }
}

/** Every sample of the session in wire order (resume first), and how many precede each message's end. */
function samplesOf(e: PredictEvidence): { samples: PoseSample[]; through: number[] } {
  const samples: PoseSample[] = [...(e.resume?.poses ?? [])];
  const through: number[] = [];
  for (const m of e.messages) {
    samples.push(...(m.poses ?? []));
    through.push(samples.length);
  }
  return { samples, through };
}

export class EvidenceVerifier {
  readonly #o: EvidenceVerifierOptions;
  constructor(options: EvidenceVerifierOptions) {
    this.#o = options;
  }

  /** Parses and checks untrusted evidence; resolves a verdict or rejects with a TrustError. */
  async verify(untrusted: unknown): Promise<Verdict> {
    const kind = (untrusted as { kind?: unknown } | null)?.kind;
    if (kind === 'infer') return this.#verifyInfer(untrusted);
    if (kind === 'frame') return this.#verifyFrame(untrusted);
    const e = parseEvidence(untrusted, this.#o.limits);
    const publicKey = await this.#o.keyOf(e.node);
    if (publicKey === undefined) throw new TrustError(TrustErrorCode.UNKNOWN_NODE, `node '${e.node}' is not registered here`);
    const { seq, at } = this.#checkSigned(e, publicKey);
    const recomputed = await this.#recompute(e, at);
    const { wrong, judged, angleRad, positionM } = compareAnswers(e.answer, recomputed, this.#o.tolerances);
    if (!judged) throw new TrustError(TrustErrorCode.UNVERIFIABLE, `no tolerance for predictor '${recomputed.predictor}'`);
    if (!wrong) throw new TrustError(TrustErrorCode.NOT_WRONG, `the node's answer matches the recomputation within tolerance`);
    return { kind: 'predict', node: e.node, session: e.session, seq, predictor: recomputed.predictor, angleRad, positionM, reporter: e.reporter, offenceId: `${e.node}/${e.session}/${seq}` };
  }

  async #verifyInfer(untrusted: unknown): Promise<Verdict> {
    const parsed = parseInferEvidence(untrusted, this.#o.limits);
    const e = parsed.evidence;
    const publicKey = await this.#o.keyOf(e.node);
    if (publicKey === undefined) throw new TrustError(TrustErrorCode.UNKNOWN_NODE, `node '${e.node}' is not registered here`);
    const c = await checkInferEvidence(parsed, publicKey, verifySegmentSync, this.#o.infer, this.#o.inferTolerance);
    return { kind: 'infer', node: e.node, session: e.session, seq: c.seq, predictor: c.model, angleRad: 0, positionM: 0, maxAbsError: c.maxAbsError, reporter: e.reporter, offenceId: `${e.node}/${e.session}/${c.seq}` };
  }

  async #verifyFrame(untrusted: unknown): Promise<Verdict> {
    const e = parseFrameEvidence(untrusted, this.#o.limits);
    const publicKey = await this.#o.keyOf(e.node);
    if (publicKey === undefined) throw new TrustError(TrustErrorCode.UNKNOWN_NODE, `node '${e.node}' is not registered here`);
    const c = await checkFrameEvidence(e, publicKey, verifySegmentSync, this.#o.render, this.#o.minFramePsnrDb);
    return { kind: 'frame', node: e.node, session: e.session, seq: c.seq, predictor: e.request.codec, angleRad: 0, positionM: 0, psnrDb: c.psnrDb, reporter: e.reporter, offenceId: `${e.node}/${e.session}/${c.seq}` };
  }

  /** Points 1 and 2 of the file comment; returns the answer's sequence number and its message index. */
  #checkSigned(e: PredictEvidence, publicKey: string): { seq: number; at: number } {
    const { seal } = e.segment;
    if (seal.node !== e.node || seal.session !== e.session) throw new TrustError(TrustErrorCode.BAD_SIGNATURE, 'the seal belongs to another node or session');
    const at = e.messages.findIndex((m) => m.t === 'predict' && m.id === e.accused);
    if (at < 0) throw new TrustError(TrustErrorCode.MALFORMED, 'evidence.messages lacks the accused predict');
    if (e.messages[at]!.horizonMs === undefined) throw new TrustError(TrustErrorCode.MALFORMED, 'the accused predict has no horizonMs');
    const { samples, through } = samplesOf(e);
    const inputs = through[at]!;
    // the seal binds the first seal.inputs samples; the accused answer's input must be among them
    if (seal.inputs < inputs || samples.length < seal.inputs) throw new TrustError(TrustErrorCode.NOT_SIGNED_BY_NODE, 'the sealed input does not cover the accused answer\'s input');
    const input = createHash('sha256').update(inputPrefixBytes(e.session));
    const w = new ByteWriter();
    for (let i = 0; i < seal.inputs; i++) input.update(writePose(w.reset(), samples[i]!).view());
    if (input.digest('base64url') !== seal.inputDigest) throw new TrustError(TrustErrorCode.NOT_SIGNED_BY_NODE, 'these requests are not what the node sealed as its input');
    const output = writePredictionOutput(new ByteWriter(), e.answer).copy();
    const entry = Buffer.from(writeEntry(w.reset(), e.accused, inputs, output).view()).toString('base64url');
    const index = e.segment.entries.indexOf(entry);
    if (index < 0) throw new TrustError(TrustErrorCode.NOT_SIGNED_BY_NODE, 'this answer to these requests is not in the sealed block');
    if (!verifySegmentSync(e.segment, publicKey)) throw new TrustError(TrustErrorCode.BAD_SIGNATURE, `the seal does not verify against node '${e.node}''s key`);
    return { seq: seal.to - e.segment.entries.length + 1 + index, at };
  }

  async #recompute(e: PredictEvidence, at: number) {
    const messages: ReplayMessage[] = e.messages.slice(0, at + 1).map((m) =>
      m.t === 'pose'
        ? { t: 'pose', poses: m.poses ?? [] }
        : { t: 'predict', id: m.id ?? 0, horizonMs: m.horizonMs ?? 0, ...(m.device ? { device: m.device } : {}), ...(m.predictor ? { predictor: m.predictor } : {}), ...(m.poses ? { poses: m.poses } : {}) },
    );
    try {
      const answers = await replayPredictions(this.#o.predictors, messages, { defaultPredictor: e.defaultPredictor, ...(e.resume ? { resume: e.resume } : {}) });
      return answers[answers.length - 1]!;
    } catch (err) {
      if (err instanceof ReplayError) throw new TrustError(TrustErrorCode.UNVERIFIABLE, err.message);
      throw err;
    }
  }
}

/** node:crypto twin of protocol's async `verifySegment` (discovery checks evidence synchronously). */
export function verifySegmentSync(segment: ChainSegment, publicKey: string): boolean {
  try {
    const { seal } = segment;
    if (segment.entries.length === 0 || seal.to < segment.entries.length) return false;
    const link = createHash('sha256').update(linkPrefixBytes(fromBase64url(segment.previousLink)));
    for (const entry of segment.entries) link.update(fromBase64url(entry));
    if (link.digest('base64url') !== seal.link) return false;
    const { signature, ...signed } = seal;
    return verify(null, sealBytes(signed), importPublicKey(publicKey), fromBase64url(signature));
  } catch {
    return false;
  }
}
