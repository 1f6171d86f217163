/**
 * Verified node identity in the session handshake: the client puts a fresh random nonce in
 * `hello`; the node signs (nonce, node id, session id, tier) in `welcome` with the key its
 * discovery registration carries; the client checks that signature against the public key
 * discovery vouched for in the candidate list, and refuses the node otherwise (a node answering
 * at an address it does not own, or a man in the middle, cannot sign for the key).
 * Browser-safe: WebCrypto only; the edge signs with node:crypto (edge-server/trust/welcomeProof.ts).
 */
import { ByteWriter, fromBase64url, toBase64url } from './resultSigning.js';

export const WELCOME_DOMAIN = 'edge-offload/session/welcome/v1';

export interface WelcomeClaim {
  nonce: string;
  node: string;
  session: string;
  tier: string;
}

export function welcomeBytes(c: WelcomeClaim): Uint8Array<ArrayBuffer> {
  return new ByteWriter(256).text(WELCOME_DOMAIN).text(c.nonce).text(c.node).text(c.session).text(c.tier).copy();
}

/** A fresh hello nonce: 16 random bytes, base64url. */
export function helloNonce(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return toBase64url(bytes);
}

/** The node is not the one discovery vouched for. The SDK tries the next candidate. */
export class NodeIdentityError extends Error {
  override readonly name = 'NodeIdentityError';
  readonly code = 'NODE_IDENTITY' as const;
  readonly nodeId: string;
  constructor(nodeId: string, message: string) {
    super(message);
    this.nodeId = nodeId;
  }
}

/**
 * Resolves when `signature` is the vouched key's signature over the claim; rejects with
 * NodeIdentityError otherwise (missing, malformed, another key, another nonce or node id).
 */
export async function verifyWelcome(publicKey: string, claim: WelcomeClaim, signature: string | undefined): Promise<void> {
  let ok = false;
  if (signature !== undefined) {
    try {
      const subtle = globalThis.crypto.subtle;
      const key = await subtle.importKey('raw', fromBase64url(publicKey), { name: 'Ed25519' }, false, ['verify']);
      ok = await subtle.verify({ name: 'Ed25519' }, key, fromBase64url(signature), welcomeBytes(claim));
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new NodeIdentityError(claim.node, signature === undefined ? `node '${claim.node}' did not prove its identity` : `node '${claim.node}' signed with another key than discovery vouched for`);
}
