/**
 * Ed25519 identities for nodes and operators (node:crypto, no extra dependency).
 *
 * Keys travel as base64url of the raw 32-byte public key; private keys stay PKCS#8 PEM on disk.
 * Every signature covers a domain tag plus the canonical JSON of its payload, so a heartbeat
 * signature can never be replayed as a registration or an operator authorisation, and key order
 * in a peer's JSON never changes the signed bytes.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { Heartbeat, NodeDescriptor, OperatorAuthorization, Registration } from '../protocol/discovery.js';

export const SIGNING_DOMAIN = {
  register: 'edge-offload/discovery/register/v1',
  heartbeat: 'edge-offload/discovery/heartbeat/v1',
  authorize: 'edge-offload/discovery/authorize/v1',
} as const;

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

// --- payloads: one function per signed thing, used by signer and verifier alike ---

export function registrationPayload(r: Pick<Registration, 'descriptor' | 'timestamp' | 'nonce' | 'status'>): unknown {
  // status only when sent: a registration without one signs (and verifies) exactly as before
  return { descriptor: r.descriptor, timestamp: r.timestamp, nonce: r.nonce, ...(r.status === undefined ? {} : { status: { load: r.status.load, freeCapacity: r.status.freeCapacity } }) };
}

export function heartbeatPayload(h: Omit<Heartbeat, 'signature'>): unknown {
  return { id: h.id, timestamp: h.timestamp, nonce: h.nonce, load: h.load, freeCapacity: h.freeCapacity };
}

export function authorizationPayload(operator: string, nodeId: string, nodePublicKey: string): unknown {
  return { operator, nodeId, nodePublicKey };
}

/** The operator's half: run once per node by whoever holds the operator key (see `keygen authorize`). */
export function authorizeNode(operator: { name: string; privateKeyPem: string }, nodeId: string, nodePublicKey: string): OperatorAuthorization {
  return {
    operator: operator.name,
    operatorKey: publicKeyFromPrivate(operator.privateKeyPem),
    signature: signPayload(SIGNING_DOMAIN.authorize, authorizationPayload(operator.name, nodeId, nodePublicKey), operator.privateKeyPem),
  };
}

export function signRegistration(
  descriptor: NodeDescriptor,
  nodePrivateKey: KeyObject | string,
  authorization: OperatorAuthorization,
  now = Date.now(),
  /** On the node channel: the connection's challenge, which binds the signature to that connection. */
  nonce = newNonce(),
  /** The node's load now, so discovery does not rank a busy node as idle until its first push. */
  status?: { load: number; freeCapacity: number },
): Registration {
  const unsigned = { descriptor, timestamp: now, nonce, ...(status === undefined ? {} : { status: { load: status.load, freeCapacity: status.freeCapacity } }) };
  return { ...unsigned, signature: signPayload(SIGNING_DOMAIN.register, registrationPayload(unsigned), nodePrivateKey), authorization };
}

export function signHeartbeat(
  id: string,
  status: { load: number; freeCapacity: number },
  nodePrivateKey: KeyObject | string,
  now = Date.now(),
): Heartbeat {
  const unsigned = { id, timestamp: now, nonce: newNonce(), load: status.load, freeCapacity: status.freeCapacity };
  return { ...unsigned, signature: signPayload(SIGNING_DOMAIN.heartbeat, heartbeatPayload(unsigned), nodePrivateKey) };
}
