/**
 * `bench scale`: the simulated nodes, each a real /v1/node ws connection registered once (signed
 * over the challenge), and the close codes the replica sent them.
 */
import { WebSocket } from 'ws';
import { authorizeNode, generateKeyPair, signRegistration } from '../../discovery/identity.js';
import type { NodeDescriptor, OperatorAuthorization } from '../../protocol/discovery.js';
import { seeded, syntheticNode } from '../discovery/synthetic.js';

export interface Fleet {
  descriptors: NodeDescriptor[];
  auths: OperatorAuthorization[];
  key: { publicKey: string; privateKeyPem: string };
}

export function fleet(count: number, operator: { name: string; privateKeyPem: string }): Fleet {
  const key = generateKeyPair();
  const rand = seeded(7);
  const descriptors: NodeDescriptor[] = [];
  const auths: OperatorAuthorization[] = [];
  for (let i = 0; i < count; i++) {
    const n = syntheticNode(i, rand, 0);
    descriptors.push({ id: n.id, publicKey: key.publicKey, url: n.url.replace('.invalid', '.example'), tier: n.tier, lat: n.lat, lon: n.lon, caps: n.caps, capacity: n.capacity, pricePerMinute: n.pricePerMinute, operator: operator.name });
    auths.push(authorizeNode(operator, n.id, key.publicKey));
  }
  return { descriptors, auths, key };
}

/** Close codes the node channels got from the replica (a correct run has none before the end). */
export const closes = new Map<number, number>();

/** Opens one node channel and resolves once it is registered. */
export function openChannel(url: string, f: Fleet, i: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace('http', 'ws') + '/v1/node', { perMessageDeflate: false });
    ws.on('error', reject);
    ws.on('close', (code) => {
      closes.set(code, (closes.get(code) ?? 0) + 1);
      // closed before its registration was answered (e.g. 4408, the register timeout): counted
      // and opened again by the caller, as NodeAgent reconnects (a settled promise ignores this)
      reject(new Error(`node ${i} closed ${code} before it was registered`));
    });
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.t === 'challenge') ws.send(JSON.stringify({ t: 'register', registration: signRegistration(f.descriptors[i]!, f.key.privateKeyPem, f.auths[i]!, Date.now(), m.nonce) }));
      else if (m.t === 'registered') resolve(ws);
      else if (m.t === 'error' && m.seq === undefined) reject(new Error(`node ${i} refused: ${m.code}`));
    });
  });
}

export async function inBatches<T>(count: number, batch: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += batch) out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, j) => open(i + j)))));
  return out;
}

