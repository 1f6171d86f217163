/**
 * Operator-signed admin requests. An operator key (the same Ed25519 key that authorises nodes at
 * discovery, `keygen operator`) signs each request; the node checks it against its trusted
 * operators before doing anything else.
 *
 * Signed: domain tag + canonical JSON of { method, path (with query), nodeId, time, nonce,
 * body SHA-256 }. `nodeId` stops a request signed for one node being replayed on another, `time`
 * within `maxSkewMs` and a remembered `nonce` stop a captured request being replayed at all.
 *
 * Headers: x-edge-admin-key (base64url public key), x-edge-admin-time (ms since epoch),
 * x-edge-admin-nonce, x-edge-admin-signature (base64url).
 */
import { createHash } from 'node:crypto';
import { newNonce, signPayload, verifyPayload } from '../../protocol/server/signing.js';

export const ADMIN_DOMAIN = 'edge-offload/edge/admin/v1';

export const AdminErrorCode = {
  /** No signature, an unknown key, or a signature that does not verify. */
  ADMIN_UNAUTHORIZED: 'ADMIN_UNAUTHORIZED',
  /** The request's time is too far from the node's clock. */
  ADMIN_STALE: 'ADMIN_STALE',
  /** This nonce was already used. */
  ADMIN_REPLAY: 'ADMIN_REPLAY',
} as const;
export type AdminErrorCode = (typeof AdminErrorCode)[keyof typeof AdminErrorCode];

export class AdminAuthError extends Error {
  override readonly name = 'AdminAuthError';
  readonly code: AdminErrorCode;
  readonly status = 401;
  constructor(code: AdminErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface AdminRequestParts {
  method: string;
  path: string;
  nodeId: string;
  body: Uint8Array;
}

const HEADER = { key: 'x-edge-admin-key', time: 'x-edge-admin-time', nonce: 'x-edge-admin-nonce', signature: 'x-edge-admin-signature' } as const;

function payload(parts: AdminRequestParts, time: number, nonce: string): unknown {
  return {
    method: parts.method.toUpperCase(),
    path: parts.path,
    nodeId: parts.nodeId,
    time,
    nonce,
    body: createHash('sha256').update(parts.body).digest('base64url'),
  };
}

/** The operator's half: headers for one request (used by `edge-offload admin` and tests). */
export function signAdminRequest(parts: AdminRequestParts, operator: { publicKey: string; privateKeyPem: string }, now = Date.now()): Record<string, string> {
  const nonce = newNonce();
  return {
    [HEADER.key]: operator.publicKey,
    [HEADER.time]: String(now),
    [HEADER.nonce]: nonce,
    [HEADER.signature]: signPayload(ADMIN_DOMAIN, payload(parts, now, nonce), operator.privateKeyPem),
  };
}

/**
 * The operator keys an admin request may be signed with: discovery's `TrustedOperators` fits
 * (bin/ passes the same list discovery trusts); edge-server only needs the lookup.
 */
export interface OperatorKeys {
  /** The operator name this key belongs to, or undefined when untrusted. */
  nameOf(publicKey: string): string | undefined;
}

export interface AdminVerifierOptions {
  operators: OperatorKeys;
  /** How far a request's time may be from ours. @default 30000 */
  maxSkewMs?: number;
  /** Nonces remembered (they expire after 2 × maxSkewMs anyway). @default 10000 */
  maxNonces?: number;
  /** Wall clock, ms. @default Date.now */
  now?: () => number;
}

export class AdminVerifier {
  readonly #operators: OperatorKeys;
  readonly #maxSkewMs: number;
  readonly #maxNonces: number;
  readonly #now: () => number;
  /** nonce → time it was seen; insertion order = age order */
  readonly #nonces = new Map<string, number>();

  constructor(options: AdminVerifierOptions) {
    this.#operators = options.operators;
    this.#maxSkewMs = options.maxSkewMs ?? 30_000;
    this.#maxNonces = options.maxNonces ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** The operator's name, or throws `AdminAuthError`. Cheap checks first; the signature last. */
  verify(headers: Record<string, string | string[] | undefined>, parts: AdminRequestParts): string {
    const h = (name: string) => {
      const v = headers[name];
      return typeof v === 'string' && v.length <= 256 ? v : undefined;
    };
    const key = h(HEADER.key);
    const timeText = h(HEADER.time);
    const nonce = h(HEADER.nonce);
    const signature = h(HEADER.signature);
    if (!key || !timeText || !nonce || !signature) throw new AdminAuthError(AdminErrorCode.ADMIN_UNAUTHORIZED, 'admin requests must be signed with an operator key (see `edge-offload admin --help`)');
    const operator = this.#operators.nameOf(key);
    if (operator === undefined) throw new AdminAuthError(AdminErrorCode.ADMIN_UNAUTHORIZED, 'this key is not an operator of this node');
    const time = Number(timeText);
    const now = this.#now();
    if (!Number.isSafeInteger(time) || Math.abs(now - time) > this.#maxSkewMs) {
      throw new AdminAuthError(AdminErrorCode.ADMIN_STALE, `request time is more than ${this.#maxSkewMs} ms from the node clock; check both clocks`);
    }
    if (!verifyPayload(ADMIN_DOMAIN, payload(parts, time, nonce), signature, key)) throw new AdminAuthError(AdminErrorCode.ADMIN_UNAUTHORIZED, 'signature does not verify');
    this.#forgetOld(now);
    if (this.#nonces.has(nonce)) throw new AdminAuthError(AdminErrorCode.ADMIN_REPLAY, 'this request was already used; sign a new one');
    if (this.#nonces.size >= this.#maxNonces) this.#nonces.delete(this.#nonces.keys().next().value!);
    this.#nonces.set(nonce, now);
    return operator;
  }

  #forgetOld(now: number): void {
    for (const [nonce, seen] of this.#nonces) {
      if (now - seen <= 2 * this.#maxSkewMs) break;
      this.#nonces.delete(nonce);
    }
  }
}
