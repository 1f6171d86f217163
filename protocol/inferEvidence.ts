/**
 * Evidence that a node returned a wrong `infer` result (signed into its chain like a prediction,
 * protocol/resultSigning.ts `inferEntry`), the JSON form of a tensor it carries, and the tolerance
 * a result is judged within. Shared by the SDK (traps, client-sdk/trust/TrapVerifier.ts) and
 * discovery (which recomputes with its own engine, discovery/evidence.ts).
 */
import { DTYPES, type Tensor } from './messages.js';
import { array, literal, object, oneOf, optional, string, uint, type Infer } from './schema.js';
import { chainSegmentSchema, type PredictEvidence } from './evidence.js';
import type { FrameEvidence } from './frameEvidence.js';
import { fromBase64url, toBase64url } from './resultSigning.js';
import { fromWireTensor } from './tensor.js';

/**
 * [64 KiB] largest tensor (bytes) an infer evidence or reference carries: a trap repeats the app's
 * own request, and the evidence body is capped at 256 KiB (discovery's `maxEvidenceBytes`) with
 * input, output and the block's entries in it.
 */
export const MAX_EVIDENCE_TENSOR_BYTES = 64 * 1024;

/** A tensor in JSON: its little-endian bytes as base64url. */
export const jsonTensorSchema = object({
  dtype: oneOf(DTYPES),
  shape: array(uint(MAX_EVIDENCE_TENSOR_BYTES), () => 8),
  data: string(Math.ceil((MAX_EVIDENCE_TENSOR_BYTES * 4) / 3) + 4),
});
export type JsonTensor = Infer<typeof jsonTensorSchema>;

export function tensorToJson(t: Tensor): JsonTensor {
  return { dtype: t.dtype, shape: [...t.shape], data: toBase64url(t.data) };
}

/** Decodes and checks that the bytes fit dtype and shape (throws TypeError or RequestError otherwise). */
export function tensorFromJson(t: JsonTensor): Tensor {
  const tensor: Tensor = { dtype: t.dtype, shape: [...t.shape], data: fromBase64url(t.data) };
  fromWireTensor(tensor);
  return tensor;
}

/** An infer trap's request sent to a trusted verifier for its reference result (discovery/trapReference.ts). */
export const inferTaskSchema = object({ model: string(128), input: jsonTensorSchema });
export type InferTaskBody = Infer<typeof inferTaskSchema>;

/** What a verifier signs for an infer task: the model, the input by dtype, shape and SHA-256, and its result. */
export interface InferReferencePayload {
  v: 1;
  model: string;
  input: { dtype: Tensor['dtype']; shape: number[]; sha256: string };
  output: JsonTensor;
}

export const INFER_REFERENCE_DOMAIN = 'edge-offload/infer-reference/v1';

export const inferEvidenceSchema = object({
  kind: literal('infer'),
  node: string(128),
  session: string(128),
  /** The infer request exactly as sent on the node's session. */
  request: object({ id: uint(2 ** 32), model: string(128), input: jsonTensorSchema }),
  /** Pose samples the session had received when the request arrived (part of the signed entry). */
  inputs: uint(),
  /** The node's result as received. */
  output: jsonTensorSchema,
  segment: chainSegmentSchema,
  /** What the reporter expected; informational only (discovery recomputes). */
  reference: optional(jsonTensorSchema),
  reporter: string(128),
});
export type InferEvidence = Infer<typeof inferEvidenceSchema>;

/** Whatever a client may submit to `POST /v1/evidence`. */
export type Evidence = PredictEvidence | InferEvidence | FrameEvidence;

/**
 * An element is wrong when |result − reference| > abs + rel·|reference|. Measured on the shipped
 * model (200 tensors, 1,200 outputs up to |31|; test/trust-backends.test.ts): tensorflow, wasm
 * and cpu differ by at most 5.7e-6 absolute (1-2 float32 ulps), one request or stacked in a
 * micro-batch alike; the worst element uses 1.4 % of this tolerance (69× margin), while a result
 * moved by 1e-3 anywhere is outside it. Far below any change that alters what an app does.
 */
export interface InferTolerance {
  abs: number;
  rel: number;
}

export const DEFAULT_INFER_TOLERANCE: Readonly<InferTolerance> = { abs: 1e-4, rel: 1e-4 };

export interface TensorComparison {
  wrong: boolean;
  /** Largest |result − reference| over elements (Infinity for a dtype or shape mismatch, or NaN where the reference has none). */
  maxAbsError: number;
  /** Largest |result − reference| / (abs + rel·|reference|): > 1 is wrong. */
  worstRatio: number;
}

/** Element-wise comparison of a node's result with a trusted one. */
export function compareTensors(result: Tensor, reference: Tensor, tolerance: InferTolerance = DEFAULT_INFER_TOLERANCE): TensorComparison {
  const mismatch = { wrong: true, maxAbsError: Infinity, worstRatio: Infinity };
  if (result.dtype !== reference.dtype || result.shape.length !== reference.shape.length || result.shape.some((d, i) => d !== reference.shape[i])) return mismatch;
  let a: ArrayLike<number>, b: ArrayLike<number>;
  try {
    a = fromWireTensor(result);
    b = fromWireTensor(reference);
  } catch {
    return mismatch;
  }
  if (a.length !== b.length) return mismatch;
  let maxAbsError = 0, worstRatio = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, r = b[i]!;
    if (x === r || (Number.isNaN(x) && Number.isNaN(r))) continue;
    const d = Math.abs(x - r);
    if (Number.isNaN(d)) return mismatch; // NaN on one side only (or ±Infinity against a finite value)
    const ratio = d / (tolerance.abs + tolerance.rel * Math.abs(r));
    if (d > maxAbsError) maxAbsError = d;
    if (ratio > worstRatio) worstRatio = ratio;
  }
  return { wrong: !(worstRatio <= 1), maxAbsError, worstRatio };
}

