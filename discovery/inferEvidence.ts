/**
 * Discovery's check of `infer` evidence (protocol/inferEvidence.ts): the node said it (the result's
 * entry, recomputed here from the request and the result, is in a block whose seal verifies
 * against the key discovery vouched for), and it is wrong (discovery runs the same model on the
 * same tensor with its own engine, the injected `InferReference`, and compares within
 * `DEFAULT_INFER_TOLERANCE`). Discovery imports no inference code: bin/ wires edge-server's tfjs
 * engine in (`edge-offload discovery --verify-infer`); without one every infer evidence is
 * `UNVERIFIABLE`, never an accusation.
 */
import {
  DEFAULT_LIMITS,
  DEFAULT_INFER_TOLERANCE,
  ProtocolError,
  compareTensors,
  inferEntry,
  inferEvidenceSchema,
  tensorFromJson,
  type InferEvidence,
  type InferTolerance,
  type Tensor,
  type WireLimits,
} from '../protocol/index.js';
import { TrustError, TrustErrorCode } from './trustErrors.js';

/** A trusted engine: runs `model` on `input` (rejects for a model it does not hold). */
export type InferReference = (model: string, input: Tensor) => Promise<Tensor>;

export interface InferCheck {
  seq: number;
  model: string;
  maxAbsError: number;
  worstRatio: number;
}

export function parseInferEvidence(value: unknown, limits: WireLimits = DEFAULT_LIMITS): { evidence: InferEvidence; input: Tensor; output: Tensor } {
  try {
    const evidence = inferEvidenceSchema.parse(value, 'evidence', limits);
    return { evidence, input: tensorFromJson(evidence.request.input), output: tensorFromJson(evidence.output) };
  } catch (err) {
    if (err instanceof ProtocolError || err instanceof TypeError || (err as { code?: unknown }).code !== undefined) throw new TrustError(TrustErrorCode.MALFORMED, (err as Error).message);
    throw err;
  }
}

/**
 * Checks parsed infer evidence against the node's key; `verifySegment` is evidence.ts's seal check.
 * Resolves the offence's sequence number and how wrong it is, or rejects with a TrustError.
 */
export async function checkInferEvidence(
  parsed: ReturnType<typeof parseInferEvidence>,
  publicKey: string,
  verifySegment: (segment: InferEvidence['segment'], publicKey: string) => boolean,
  reference: InferReference | undefined,
  tolerance: InferTolerance = DEFAULT_INFER_TOLERANCE,
): Promise<InferCheck> {
  const { evidence: e, input, output } = parsed;
  const { seal } = e.segment;
  if (seal.node !== e.node || seal.session !== e.session) throw new TrustError(TrustErrorCode.BAD_SIGNATURE, 'the seal belongs to another node or session');
  const entry = await inferEntry(e.request.id, e.inputs, e.request.model, input, output);
  const index = e.segment.entries.indexOf(entry);
  if (index < 0) throw new TrustError(TrustErrorCode.NOT_SIGNED_BY_NODE, 'this result to this request is not in the sealed block');
  if (!verifySegment(e.segment, publicKey)) throw new TrustError(TrustErrorCode.BAD_SIGNATURE, `the seal does not verify against node '${e.node}''s key`);
  if (!reference) throw new TrustError(TrustErrorCode.UNVERIFIABLE, 'this discovery runs no inference engine to recompute infer results (start it with --verify-infer)');
  let expected: Tensor;
  try {
    expected = await reference(e.request.model, input);
  } catch (err) {
    throw new TrustError(TrustErrorCode.UNVERIFIABLE, `cannot recompute '${e.request.model}': ${(err as Error).message}`);
  }
  const cmp = compareTensors(output, expected, tolerance);
  if (!cmp.wrong) throw new TrustError(TrustErrorCode.NOT_WRONG, `the node's result matches the recomputation within tolerance (worst ${cmp.worstRatio.toPrecision(3)} of it)`);
  return { seq: seal.to - e.segment.entries.length + 1 + index, model: e.request.model, maxAbsError: cmp.maxAbsError, worstRatio: cmp.worstRatio };
}
