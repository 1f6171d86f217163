/**
 * Ed25519 signatures over a domain tag plus canonical JSON (node:crypto, no extra dependency):
 * the one signing mechanism of the Node products. Discovery signs registrations, heartbeats and
 * operator authorisations with it (discovery/identity.ts); an edge node's admin endpoint verifies
 * operator-signed requests with it. Shared here because neither product may import the other.
 *
 * Keys travel as base64url of the raw 32-byte public key; private keys stay PKCS#8 PEM on disk.
 * The domain tag means a signature made for one purpose can never be replayed as another, and
 * canonical JSON means key order in a peer's JSON never changes the signed bytes.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

export interface KeyPair {
  /** base64url raw Ed25519 public key. */
  publicKey: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
}

export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: exportPublicKey(publicKey), privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

export function exportPublicKey(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new TypeError('not an Ed25519 key');
  return jwk.x;
}

export function publicKeyFromPrivate(privateKeyPem: string): string {
  return exportPublicKey(createPublicKey(createPrivateKey(privateKeyPem)));
}

const publicKeyCache = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE_MAX = 100_000;

/** Imports a base64url public key; cached because every heartbeat verifies against the same key. */
export function importPublicKey(publicKey: string): KeyObject {
  let key = publicKeyCache.get(publicKey);
  if (key === undefined) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_MAX) publicKeyCache.delete(publicKeyCache.keys().next().value!);
    publicKeyCache.set(publicKey, key);
  }
  return key;
}

/** JSON with object keys sorted at every level: the exact bytes both sides sign and verify. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

function signedBytes(domain: string, payload: unknown): Buffer {
  return Buffer.from(`${domain}\n${canonicalJson(payload)}`, 'utf8');
}

export function signPayload(domain: string, payload: unknown, privateKey: KeyObject | string): string {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  return sign(null, signedBytes(domain, payload), key).toString('base64url');
}

/** False for any failure: wrong key, wrong bytes, or a key/signature that does not even import. */
export function verifyPayload(domain: string, payload: unknown, signature: string, publicKey: string): boolean {
  try {
    return verify(null, signedBytes(domain, payload), importPublicKey(publicKey), Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}
