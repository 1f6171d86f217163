/**
 * Client tokens for `hello.token`. A node operator who sells access issues each customer a token;
 * the node checks it at hello without a round trip anywhere.
 *
 * `HmacTokenVerifier` is the built-in scheme: `v1.<identity b64url>.<expiry ms>.<HMAC-SHA256 b64url>`
 * over `v1.<identity>.<expiry>` with a secret shared by the issuer and the nodes. Anything else
 * (JWTs, a call to an auth service) plugs in as a `TokenVerifier`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenVerifier {
  /**
   * The identity the token stands for, or undefined when it is not valid (never throws on bad
   * input). Synchronous on purpose: `hello` is answered in the turn it arrives, so no frame can
   * slip in between a hello and its verdict. A verifier backed by a remote service keeps a local
   * cache or public keys and answers from those.
   */
  verify(token: string): string | undefined;
}

/** Longest token we even look at: a peer's string, checked before any work. */
export const MAX_TOKEN_BYTES = 2048; // the hello schema caps the string at the same length

export class HmacTokenVerifier implements TokenVerifier {
  readonly #secret: Buffer;
  readonly #now: () => number;

  /** `secret`: at least 32 bytes. `now`: wall clock in ms (tests pass their own). */
  constructor(secret: Uint8Array | string, now: () => number = Date.now) {
    this.#secret = Buffer.from(secret);
    if (this.#secret.byteLength < 32) throw new TypeError('token secret must be at least 32 bytes');
    this.#now = now;
  }

  issue(identity: string, expiresAtMs: number): string {
    const body = `v1.${Buffer.from(identity, 'utf8').toString('base64url')}.${Math.floor(expiresAtMs)}`;
    return `${body}.${this.#mac(body).toString('base64url')}`;
  }

  verify(token: string): string | undefined {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_BYTES) return undefined;
    const parts = token.split('.');
    if (parts.length !== 4 || parts[0] !== 'v1') return undefined;
    const [, id, expiry, mac] = parts as [string, string, string, string];
    if (!/^\d{1,16}$/.test(expiry) || Number(expiry) <= this.#now()) return undefined;
    const expected = this.#mac(`v1.${id}.${expiry}`);
    const given = Buffer.from(mac, 'base64url');
    if (given.byteLength !== expected.byteLength || !timingSafeEqual(given, expected)) return undefined;
    const identity = Buffer.from(id, 'base64url').toString('utf8');
    return identity.length > 0 ? identity : undefined;
  }

  #mac(body: string): Buffer {
    return createHmac('sha256', this.#secret).update(body).digest();
  }
}
