/** Operators and nodes with real Ed25519 keys, for discovery tests. */
import { authorizeNode, generateKeyPair, signHeartbeat, signRegistration, type KeyPair } from '../../discovery/identity.js';
import type { NodeDescriptor, OperatorAuthorization, Registration } from '../../protocol/discovery.js';
import { TrustedOperators } from '../../discovery/trust.js';
import type { NodeRecord } from '../../discovery/registry/Registry.js';
import { waitFor } from './wait.js';

export interface TestOperator extends KeyPair {
  name: string;
}

export function makeOperator(name = 'acme'): TestOperator {
  return { name, ...generateKeyPair() };
}

export function trustOf(...operators: TestOperator[]): TrustedOperators {
  return new TrustedOperators(operators.map((o) => ({ name: o.name, publicKey: o.publicKey })));
}

export interface TestNode {
  key: KeyPair;
  descriptor: NodeDescriptor;
  authorization: OperatorAuthorization;
  registration(now?: number): Registration;
  heartbeat(status?: { load: number; freeCapacity: number }, now?: number): ReturnType<typeof signHeartbeat>;
}

export function makeNode(operator: TestOperator, id: string, overrides: Partial<NodeDescriptor> = {}): TestNode {
  const key = generateKeyPair();
  const descriptor: NodeDescriptor = {
    id,
    publicKey: key.publicKey,
    url: `ws://127.0.0.1:1/${id}`,
    tier: 'edge',
    lat: 52.52,
    lon: 13.405,
    caps: ['predict', 'infer', 'render'],
    capacity: 10,
    pricePerMinute: 0.01,
    operator: operator.name,
    ...overrides,
  };
  const authorization = authorizeNode(operator, id, key.publicKey);
  return {
    key,
    descriptor,
    authorization,
    registration: (now) => signRegistration(descriptor, key.privateKeyPem, authorization, now),
    heartbeat: (status = { load: 0.1, freeCapacity: 9 }, now) => signHeartbeat(id, status, key.privateKeyPem, now),
  };
}

/** A registry record without any signing, for registry-level tests. */
export function record(id: string, lat: number, lon: number, overrides: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    publicKey: 'A'.repeat(43),
    url: `ws://127.0.0.1:1/${id}`,
    tier: 'edge',
    lat,
    lon,
    caps: ['predict', 'infer', 'render'],
    capacity: 10,
    pricePerMinute: 0.01,
    operator: 'acme',
    load: 0,
    freeCapacity: 10,
    lastSeen: Date.now(),
    ...overrides,
  };
}

/**
 * Resolves when `check` returns true; fails loudly with `what` after `timeoutMs` (scaled, see
 * wait.ts). Polls every 20 ms: checks that query a discovery server must stay under its per-IP rate limit.
 */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs?: number): Promise<void> {
  await waitFor(async () => (await check()) || undefined, what, timeoutMs, 20);
}
