/**
 * Trap references from a trusted verifier (discovery/trapReference.ts) for predictors the client
 * cannot run (`learned`): the task goes out, signed answers come back, and they count only if the
 * signature verifies against the verifier key the app configured and the payload names exactly
 * this task (its requests and input digest). WebCrypto only.
 */
import { ByteWriter, fromBase64url, inputPrefixBytes, toBase64url, writePose } from '../../protocol/index.js';
import { INFER_REFERENCE_DOMAIN, tensorFromJson, tensorToJson, type InferReferencePayload, type JsonTensor } from '../../protocol/inferEvidence.js';
import { FRAME_REFERENCE_DOMAIN, frameRequestSha256, frameRequestToJson, frameToJson, sha256Base64url, type FrameReferencePayload, type FrameTaskBody } from '../../protocol/frameEvidence.js';
import type { FrameReferenceSource, InferReferenceSource, ReferenceSource, TrapAnswer, TrapTask } from './TrapVerifier.js';

export const REFERENCE_DOMAIN = 'edge-offload/trap-reference/v1';

/** Sends `{ defaultPredictor, messages }` to the verifier; resolves its `{ payload, signature }`. */
export type FetchReference = (task: { defaultPredictor: string; messages: TrapTask['messages'] }) => Promise<Signed>;

interface Payload {
  v: number;
  defaultPredictor: string;
  requests: { id: number; horizonMs: number }[];
  inputDigest: string;
  answers: TrapAnswer[];
}

async function digest(task: TrapTask): Promise<string> {
  const w = new ByteWriter();
  w.bytes(inputPrefixBytes('trap-reference'));
  for (const m of task.messages) for (const s of m.poses) writePose(w, s);
  return toBase64url(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', w.view())));
}

/** What a verifier answers: a JSON payload and its Ed25519 signature (base64url) under a domain. */
type Signed = { payload: string; signature: string };

/**
 * Asks the verifier, checks its signature against `verifierPublicKey` under `domain`, parses the
 * payload and lets `names` say whether it is about this very task. Any failure (the fetch, the
 * signature, the JSON, the check) is no reference: undefined.
 */
async function verifiedPayload<T>(ask: () => Promise<Signed>, domain: string, verifierPublicKey: string, names: (payload: T) => boolean | Promise<boolean>): Promise<T | undefined> {
  try {
    const signed = await ask();
    const subtle = globalThis.crypto.subtle;
    const key = await subtle.importKey('raw', fromBase64url(verifierPublicKey), { name: 'Ed25519' }, false, ['verify']);
    const bytes = new TextEncoder().encode(`${domain}\n${signed.payload}`);
    if (!(await subtle.verify({ name: 'Ed25519' }, key, fromBase64url(signed.signature), bytes))) return undefined;
    const payload = JSON.parse(signed.payload) as T;
    return (await names(payload)) ? payload : undefined;
  } catch {
    return undefined;
  }
}

/** A ReferenceSource backed by a verifier; a bad signature or a payload for another task is no reference. */
export function remoteReference(fetchReference: FetchReference, verifierPublicKey: string): ReferenceSource {
  return async (task, defaultPredictor) => {
    const p = await verifiedPayload<Payload>(() => fetchReference({ defaultPredictor, messages: task.messages }), REFERENCE_DOMAIN, verifierPublicKey, async (p) => {
      const sameRequests = p.requests.length === task.messages.length && p.requests.every((r, i) => r.id === task.messages[i]!.id && r.horizonMs === task.messages[i]!.horizonMs);
      return p.v === 1 && p.defaultPredictor === defaultPredictor && sameRequests && p.inputDigest === (await digest(task));
    });
    return p?.answers;
  };
}

/** Sends `{ model, input }` to the verifier; resolves its `{ payload, signature }`. */
export type FetchInferReference = (task: { model: string; input: JsonTensor }) => Promise<Signed>;

/**
 * An InferReferenceSource backed by a verifier (discovery/trapReference.ts `InferReferenceSigner`):
 * the result counts only if the signature verifies against `verifierPublicKey` and the payload
 * names this model and this input (dtype, shape, SHA-256); anything else is no reference.
 */
export function remoteInferReference(fetchReference: FetchInferReference, verifierPublicKey: string): InferReferenceSource {
  return async (model, input) => {
    const p = await verifiedPayload<InferReferencePayload>(() => fetchReference({ model, input: tensorToJson(input) }), INFER_REFERENCE_DOMAIN, verifierPublicKey, async (p) => {
      const sha256 = toBase64url(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', input.data.slice())));
      const sameInput = p.input.dtype === input.dtype && p.input.sha256 === sha256 && p.input.shape.length === input.shape.length && p.input.shape.every((d, i) => d === input.shape[i]);
      return p.v === 1 && p.model === model && sameInput;
    });
    // a malformed output tensor is no reference either
    try {
      return p ? tensorFromJson(p.output) : undefined;
    } catch {
      return undefined;
    }
  };
}

/** Sends `{ request, frame }` to the verifier; resolves its `{ payload, signature }`. */
export type FetchFrameReference = (task: FrameTaskBody) => Promise<Signed>;

/**
 * A FrameReferenceSource backed by a verifier (discovery/trapReference.ts `FrameReferenceSigner`):
 * the PSNR it signed counts only if the signature verifies against `verifierPublicKey` and the
 * payload names this request and this frame (their SHA-256); anything else is no reference.
 */
export function remoteFrameReference(fetchReference: FetchFrameReference, verifierPublicKey: string): FrameReferenceSource {
  return async (id, request, frame) => {
    const p = await verifiedPayload<FrameReferencePayload>(
      () => fetchReference({ request: frameRequestToJson(id, request), frame: frameToJson(frame) }),
      FRAME_REFERENCE_DOMAIN,
      verifierPublicKey,
      async (p) => p.v === 1 && p.requestSha256 === (await frameRequestSha256(request)) && p.frameSha256 === (await sha256Base64url(frame.data)) && typeof p.psnrDb === 'number',
    );
    return p?.psnrDb;
  };
}
