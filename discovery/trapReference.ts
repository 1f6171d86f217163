/**
 * Trusted references for traps a client cannot recompute itself (`learned`: a tfjs model): the
 * client sends the trap task, discovery (or an operator-run verifier) replays it through its own
 * predictors and signs the answers. The signed payload names the task's requests and input digest,
 * so a reference cannot be reused for another task, and the client checks the signature against
 * the verifier key it was configured with (client-sdk/trust/remoteReference.ts).
 *
 * The task never reaches the node under test before the node has answered it (the client asks
 * after its run, or before, never through the node), so this leaks nothing to the node.
 */
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { ByteWriter, DEFAULT_LIMITS, ProtocolError, inputPrefixBytes, writePose, type PoseSample, type WireLimits } from '../protocol/index.js';
import { trapTaskSchema, type TrapTaskBody } from '../protocol/evidence.js';
import { INFER_REFERENCE_DOMAIN, inferTaskSchema, tensorFromJson, tensorToJson, type InferReferencePayload } from '../protocol/inferEvidence.js';
import type { InferReference } from './inferEvidence.js';
import { FRAME_REFERENCE_DOMAIN, frameFromJson, frameRequestSha256, frameTaskSchema, type FrameReferencePayload } from '../protocol/frameEvidence.js';
import { framePsnr, type RenderReference } from './frameEvidence.js';
import { replayPredictions, ReplayError } from '../protocol/motion/replay.js';
import type { PredictorFactory } from '../protocol/motion/predictor.js';
import { TrustError, TrustErrorCode } from './trustErrors.js';

export const REFERENCE_DOMAIN = 'edge-offload/trap-reference/v1';
const REFERENCE_SESSION = 'trap-reference';

/** The signed body: which task it answers, and the answers. */
export interface ReferencePayload {
  v: 1;
  defaultPredictor: string;
  /** Request ids and horizons of the task, in order. */
  requests: { id: number; horizonMs: number }[];
  /** SHA-256 (base64url) over the task's samples, as protocol/resultSigning's input digest for session 'trap-reference'. */
  inputDigest: string;
  answers: { id: number; predictor: string; horizonMs: number; pose: PoseSample }[];
}

export function taskInputDigest(samples: readonly PoseSample[]): string {
  const hash = createHash('sha256').update(inputPrefixBytes(REFERENCE_SESSION));
  const w = new ByteWriter();
  for (const s of samples) hash.update(writePose(w.reset(), s).view());
  return hash.digest('base64url');
}

export class TrapReferenceSigner {
  readonly #key: KeyObject;
  readonly #predictors: ReadonlyMap<string, PredictorFactory>;
  readonly #limits: WireLimits;

  constructor(privateKey: KeyObject | string, predictors: ReadonlyMap<string, PredictorFactory>, limits: WireLimits = DEFAULT_LIMITS) {
    this.#key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
    this.#predictors = predictors;
    this.#limits = limits;
  }

  /** Replays an untrusted task body `{ defaultPredictor, messages }`; resolves `{ payload, signature }`. */
  async reference(untrusted: unknown): Promise<{ payload: string; signature: string }> {
    const task = parseTask(untrusted, this.#limits);
    const messages = task.messages.filter((m) => m.t === 'predict' || m.t === 'pose');
    let answers;
    try {
      answers = await replayPredictions(
        this.#predictors,
        messages.map((m) => (m.t === 'pose' ? { t: 'pose' as const, poses: m.poses ?? [] } : { t: 'predict' as const, id: m.id ?? 0, horizonMs: m.horizonMs ?? 0, ...(m.device ? { device: m.device } : {}), ...(m.predictor ? { predictor: m.predictor } : {}), ...(m.poses ? { poses: m.poses } : {}) })),
        { defaultPredictor: task.defaultPredictor },
      );
    } catch (err) {
      if (err instanceof ReplayError) throw new TrustError(TrustErrorCode.UNVERIFIABLE, err.message);
      throw err;
    }
    const payload: ReferencePayload = {
      v: 1,
      defaultPredictor: task.defaultPredictor,
      requests: messages.filter((m) => m.t === 'predict').map((m) => ({ id: m.id ?? 0, horizonMs: m.horizonMs ?? 0 })),
      inputDigest: taskInputDigest(messages.flatMap((m) => m.poses ?? [])),
      answers: answers.map((a) => ({ id: a.id, predictor: a.predictor, horizonMs: a.horizonMs, pose: a.pose })),
    };
    return signPayload(REFERENCE_DOMAIN, payload, this.#key);
  }
}

/**
 * Signs reference results for infer traps: the client sends the trap's `{ model, input }` (a
 * tensor its app sent live), the injected engine (bin/ wires edge-server's tfjs engine in) runs
 * it, and the signed payload binds model, input digest and output, so it answers that request
 * only. client-sdk/trust/remoteReference.ts `remoteInferReference` checks it.
 */
export class InferReferenceSigner {
  readonly #key: KeyObject;
  readonly #infer: InferReference;
  readonly #limits: WireLimits;

  constructor(privateKey: KeyObject | string, infer: InferReference, limits: WireLimits = DEFAULT_LIMITS) {
    this.#key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
    this.#infer = infer;
    this.#limits = limits;
  }

  /** Runs an untrusted `{ model, input }`; resolves `{ payload, signature }`. */
  async reference(untrusted: unknown): Promise<{ payload: string; signature: string }> {
    let task, input;
    try {
      task = inferTaskSchema.parse(untrusted, 'task', this.#limits);
      input = tensorFromJson(task.input);
    } catch (err) {
      if (err instanceof Error) throw new TrustError(TrustErrorCode.MALFORMED, err.message);
      throw err;
    }
    let output;
    try {
      output = await this.#infer(task.model, input);
    } catch (err) {
      throw new TrustError(TrustErrorCode.UNVERIFIABLE, `cannot run '${task.model}': ${(err as Error).message}`);
    }
    const payload: InferReferencePayload = {
      v: 1,
      model: task.model,
      input: { dtype: input.dtype, shape: [...input.shape], sha256: createHash('sha256').update(input.data).digest('base64url') },
      output: tensorToJson(output),
    };
    return signPayload(INFER_REFERENCE_DOMAIN, payload, this.#key);
  }
}

/**
 * Judges a trap's frame for the client: `{ request, frame }` (the request as sent, the frame as
 * received) → the frame's PSNR against the reference render, signed with the request's and the
 * frame's digests so it answers that frame only (client-sdk `remoteFrameReference` checks it).
 * Sent after the node answered, so the node cannot learn the trap from it.
 */
export class FrameReferenceSigner {
  readonly #key: KeyObject;
  readonly #render: RenderReference;
  readonly #limits: WireLimits;

  constructor(privateKey: KeyObject | string, render: RenderReference, limits: WireLimits = DEFAULT_LIMITS) {
    this.#key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
    this.#render = render;
    this.#limits = limits;
  }

  async reference(untrusted: unknown): Promise<{ payload: string; signature: string }> {
    let task;
    try {
      task = frameTaskSchema.parse(untrusted, 'task', this.#limits);
    } catch (err) {
      if (err instanceof ProtocolError) throw new TrustError(TrustErrorCode.MALFORMED, err.message);
      throw err;
    }
    const { id: _id, ...request } = task.request;
    const frame = frameFromJson(task.frame);
    const payload: FrameReferencePayload = {
      v: 1,
      requestSha256: await frameRequestSha256(request),
      frameSha256: createHash('sha256').update(frame.data).digest('base64url'),
      psnrDb: await framePsnr(this.#render, request, frame),
    };
    return signPayload(FRAME_REFERENCE_DOMAIN, payload, this.#key);
  }
}

function parseTask(value: unknown, limits: WireLimits): TrapTaskBody {
  try {
    return trapTaskSchema.parse(value, 'task', limits);
  } catch (err) {
    if (err instanceof ProtocolError) throw new TrustError(TrustErrorCode.MALFORMED, err.message);
    throw err;
  }
}

/** The payload as JSON and its Ed25519 signature under `domain` (what client-sdk's verifiedPayload checks). */
function signPayload(domain: string, payload: object, key: KeyObject): { payload: string; signature: string } {
  const text = JSON.stringify(payload);
  return { payload: text, signature: sign(null, Buffer.from(`${domain}\n${text}`), key).toString('base64url') };
}
