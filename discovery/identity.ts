/**
 * Ed25519 identities for nodes and operators: the signed things of discovery (registrations,
 * heartbeats, operator authorisations), on the shared signing primitives of
 * protocol/server/signing.ts (re-exported here for discovery's callers).
 */
import type { KeyObject } from 'node:crypto';
import { newNonce, publicKeyFromPrivate, signPayload } from '../protocol/server/signing.js';
import type { Heartbeat, NodeDescriptor, OperatorAuthorization, Registration } from '../protocol/discovery.js';

export { generateKeyPair, exportPublicKey, publicKeyFromPrivate, importPublicKey, canonicalJson, signPayload, verifyPayload, newNonce, type KeyPair } from '../protocol/server/signing.js';

export const SIGNING_DOMAIN = {
  register: 'edge-offload/discovery/register/v1',
  heartbeat: 'edge-offload/discovery/heartbeat/v1',
  authorize: 'edge-offload/discovery/authorize/v1',
} as const;

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
