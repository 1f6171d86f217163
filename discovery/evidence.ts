/**
 * Evidence that a node answered wrongly, and discovery's check of it. Discovery acts only on what
 * it can re-check itself, so a report is three things, each verified independently:
 *
 * 1. the node said it: the answer's record (recomputed here from the evidence's requests and the
 *    node's answer) is in a block whose seal verifies against the key discovery vouched for;
 * 2. for that input: the record binds the input digest of every sample the session received, which
 *    is recomputed here from the requests, so a client cannot swap the input after the fact;
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
  writeRecordPreimage,
  type ChainSegment,
  type Device,
  type PoseSample,
  type WireLimits,
} from '../protocol/index.js';
import { predictEvidenceSchema, compareAnswers, type PredictEvidence, type Tolerance } from '../protocol/evidence.js';
import { replayPredictions, ReplayError, type ReplayMessage } from '../edge-server/inference/index.js';
import type { PredictorFactory } from '../edge-server/engines.js';
import { importPublicKey } from './identity.js';
import { TrustError, TrustErrorCode } from './trustErrors.js';

export interface EvidenceVerifierOptions {
  /** The public key discovery vouched for (from the node's registration); undefined when unknown. */
  keyOf: (nodeId: string) => string | undefined | Promise<string | undefined>;
  /** Predictors discovery can recompute with (createDefaultPredictors, with the learned model). */
  predictors: ReadonlyMap<string, PredictorFactory>;
  tolerances?: Readonly<Record<string, Tolerance>>;
  limits?: WireLimits;
}

export interface Verdict {
  node: string;
  session: string;
  /** Sequence number of the wrong answer in the node's chain: with node + session, the offence id. */
  seq: number;
  predictor: string;
  /** How far the node's answer is from the recomputation. */
  angleRad: number;
  positionM: number;
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

/** SHA-256 of every sample of `device` the session had received when the accused predict arrived. */
function inputDigest(e: PredictEvidence, device: Device, upTo: number): Buffer {
  const hash = createHash('sha256').update(inputPrefixBytes(e.session, device));
  const w = new ByteWriter();
  const feed = (samples: readonly PoseSample[] | undefined) => {
    for (const s of samples ?? []) if (s.device === device) hash.update(writePose(w.reset(), s).view());
  };
  feed(e.resume?.poses);
  for (let i = 0; i <= upTo; i++) feed(e.messages[i]!.poses);
  return hash.digest();
}

export class EvidenceVerifier {
  readonly #o: EvidenceVerifierOptions;
  constructor(options: EvidenceVerifierOptions) {
    this.#o = options;
  }

  /** Parses and checks untrusted evidence; resolves a verdict or rejects with a TrustError. */
  async verify(untrusted: unknown): Promise<Verdict> {
    const e = parseEvidence(untrusted, this.#o.limits);
    const publicKey = await this.#o.keyOf(e.node);
    if (publicKey === undefined) throw new TrustError(TrustErrorCode.UNKNOWN_NODE, `node '${e.node}' is not registered here`);
    const seq = this.#checkSigned(e, publicKey);
    const recomputed = await this.#recompute(e);
    const { wrong, judged, angleRad, positionM } = compareAnswers(e.answer, recomputed, this.#o.tolerances);
    if (!judged) throw new TrustError(TrustErrorCode.UNVERIFIABLE, `no tolerance for predictor '${recomputed.predictor}'`);
    if (!wrong) throw new TrustError(TrustErrorCode.NOT_WRONG, `the node's answer matches the recomputation within tolerance`);
    return { node: e.node, session: e.session, seq, predictor: recomputed.predictor, angleRad, positionM, reporter: e.reporter, offenceId: `${e.node}/${e.session}/${seq}` };
  }

  /** Points 1 and 2 of the file comment; returns the answer's sequence number. */
  #checkSigned(e: PredictEvidence, publicKey: string): number {
    const { seal } = e.segment;
    if (seal.node !== e.node || seal.session !== e.session) throw new TrustError(TrustErrorCode.BAD_SIGNATURE, 'the seal belongs to another node or session');
    const at = e.messages.findIndex((m) => m.t === 'predict' && m.id === e.accused);
    if (at < 0 || at !== e.messages.length - 1) throw new TrustError(TrustErrorCode.MALFORMED, 'evidence.messages must end with the accused predict');
    const accused = e.messages[at]!;
    if (accused.horizonMs === undefined) throw new TrustError(TrustErrorCode.MALFORMED, 'the accused predict has no horizonMs');
    const w = new ByteWriter();
    const output = writePredictionOutput(new ByteWriter(), e.answer).copy();
    const record = createHash('sha256')
      .update(writeRecordPreimage(w, e.session, e.accused, inputDigest(e, accused.device ?? 'head', at), output).view())
      .digest('base64url');
    const index = e.segment.records.indexOf(record);
    if (index < 0) throw new TrustError(TrustErrorCode.NOT_SIGNED_BY_NODE, 'the answer for these requests is not in the sealed block');
    if (!verifySegmentSync(e.segment, publicKey)) throw new TrustError(TrustErrorCode.BAD_SIGNATURE, `the seal does not verify against node '${e.node}''s key`);
    return seal.to - e.segment.records.length + 1 + index;
  }

  async #recompute(e: PredictEvidence) {
    const messages: ReplayMessage[] = e.messages.map((m) =>
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
    if (segment.records.length === 0 || seal.to < segment.records.length) return false;
    const link = createHash('sha256').update(linkPrefixBytes(fromBase64url(segment.previousLink)));
    for (const r of segment.records) link.update(fromBase64url(r));
    if (link.digest('base64url') !== seal.link) return false;
    return verify(null, sealBytes(seal.node, seal.session, seal.to, seal.link), importPublicKey(publicKey), fromBase64url(seal.signature));
  } catch {
    return false;
  }
}
