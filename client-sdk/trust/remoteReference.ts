/**
 * Trap references from a trusted verifier (discovery/trapReference.ts) for predictors the client
 * cannot run (`learned`): the task goes out, signed answers come back, and they count only if the
 * signature verifies against the verifier key the app configured and the payload names exactly
 * this task (its requests and input digest). WebCrypto only.
 */
import { ByteWriter, fromBase64url, inputPrefixBytes, toBase64url, writePose } from '../../protocol/index.js';
import type { ReferenceSource, TrapAnswer, TrapTask } from './TrapVerifier.js';

export const REFERENCE_DOMAIN = 'edge-offload/trap-reference/v1';

/** Sends `{ defaultPredictor, messages }` to the verifier; resolves its `{ payload, signature }`. */
export type FetchReference = (task: { defaultPredictor: string; messages: TrapTask['messages'] }) => Promise<{ payload: string; signature: string }>;

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

/** A ReferenceSource backed by a verifier; a bad signature or a payload for another task is no reference. */
export function remoteReference(fetchReference: FetchReference, verifierPublicKey: string): ReferenceSource {
  return async (task, defaultPredictor) => {
    let signed: { payload: string; signature: string };
    try {
      signed = await fetchReference({ defaultPredictor, messages: task.messages });
    } catch {
      return undefined;
    }
    try {
      const subtle = globalThis.crypto.subtle;
      const key = await subtle.importKey('raw', fromBase64url(verifierPublicKey), { name: 'Ed25519' }, false, ['verify']);
      const bytes = new TextEncoder().encode(`${REFERENCE_DOMAIN}\n${signed.payload}`);
      if (!(await subtle.verify({ name: 'Ed25519' }, key, fromBase64url(signed.signature), bytes))) return undefined;
      const p = JSON.parse(signed.payload) as Payload;
      const sameRequests = p.requests.length === task.messages.length && p.requests.every((r, i) => r.id === task.messages[i]!.id && r.horizonMs === task.messages[i]!.horizonMs);
      if (p.v !== 1 || p.defaultPredictor !== defaultPredictor || !sameRequests || p.inputDigest !== (await digest(task))) return undefined;
      return p.answers;
    } catch {
      return undefined;
    }
  };
}
