/**
 * Fuzzer for discovery's node channel (`WS /v1/node`, discovery/NodeChannel.ts): connect, read
 * the challenge, often register properly (a registration signed over that challenge by a node key
 * a trusted operator authorised, so later frames reach the registered paths), then send mutated
 * and generated frames: registrations, status updates with odd sequences and loads, garbage text
 * and binary. Every frame the channel reads gets exactly one reply (registered, ack or error), so
 * a frame counts as processed when its reply arrives; a channel the server closes (refused
 * registration, rate cap) counts the frame that closed it and reconnects.
 */
import { authorizeNode, generateKeyPair, signRegistration } from '../../discovery/identity.js';
import type { NodeDescriptor } from '../../protocol/discovery.js';
import { mutateJson, type Random } from './mutate.js';
import type { EntryCounts, FuzzBudget } from './entries.js';
import { bump, done, fanOut, FuzzSocket, newCounts } from './fuzzSocket.js';

/** Frames sent before waiting for their replies. */
const WINDOW = 16;

export interface NodeChannelCorpus {
  /** A valid registration for `nodeId` signed over `challenge`. */
  register(challenge: string, nodeId: string): unknown;
  /** Seeds for mutation (valid frames of every kind). */
  seeds: unknown[];
}

/** Keys and operator authorisations made once: signing per connection is the only per-frame cost. */
export function nodeChannelCorpus(operator: { name: string; publicKey: string; privateKeyPem: string }, nodes = 16): NodeChannelCorpus {
  const keys = new Map<string, { key: ReturnType<typeof generateKeyPair>; descriptor: NodeDescriptor; auth: ReturnType<typeof authorizeNode> }>();
  for (let i = 0; i < nodes; i++) {
    const id = `fuzz-channel-${i}`;
    const key = generateKeyPair();
    const descriptor: NodeDescriptor = { id, publicKey: key.publicKey, url: `ws://127.0.0.1:1/${id}`, tier: 'edge', lat: 48.1, lon: 11.6, caps: ['predict'], capacity: 8, pricePerMinute: 0, operator: operator.name };
    keys.set(id, { key, descriptor, auth: authorizeNode(operator, id, key.publicKey) });
  }
  const register = (challenge: string, nodeId: string) => {
    const k = keys.get(nodeId) ?? keys.values().next().value!;
    return { t: 'register', registration: signRegistration(k.descriptor, k.key.privateKeyPem, k.auth, Date.now(), challenge) };
  };
  const seeds = [register('AAAAAAAAAAAAAAAAAAAAAA', 'fuzz-channel-0'), { t: 'status', seq: 1, load: 0.5, freeCapacity: 4 }, { t: 'status', seq: 2, load: 0, freeCapacity: 0, id: 'fuzz-channel-0' }];
  return { register, seeds };
}

export async function fuzzDiscoveryNode(baseUrl: string, corpus: NodeChannelCorpus, budget: FuzzBudget): Promise<EntryCounts> {
  const counts = newCounts();
  const url = `${baseUrl.replace(/^http/, 'ws')}/v1/node`;
  await fanOut(budget, (localAddress, n) => channelWorker(url, localAddress, `fuzz-channel-${n % 16}`, corpus, budget, counts));
  return counts;
}

async function channelWorker(url: string, localAddress: string, nodeId: string, corpus: NodeChannelCorpus, budget: FuzzBudget, counts: EntryCounts): Promise<void> {
  const r = budget.random;
  while (!done(counts, budget)) {
    let replies = 0;
    let challenge: string | undefined;
    const ws = new FuzzSocket(url, { localAddress, perMessageDeflate: false }, (data) => {
      try {
        const m = JSON.parse(data.toString()) as { t?: string; nonce?: string; code?: string };
        if (m.t === 'challenge') challenge = m.nonce;
        else {
          replies++;
          bump(counts.answers, m.t === 'error' ? (m.code ?? 'error') : (m.t ?? 'untyped'));
        }
      } catch {
        bump(counts.answers, 'not-json');
      }
    });
    if (!(await ws.until(() => challenge !== undefined || ws.closed)) || ws.closed) {
      if (!ws.closed) counts.stalls++;
      ws.terminate();
      continue;
    }
    let expected = 0;
    // half the connections register first, so the fuzz reaches the registered paths (status, seq, load)
    if (r() < 0.5) {
      ws.send(JSON.stringify(corpus.register(challenge!, nodeId)));
      expected++;
    }
    let seq = 1;
    while (!ws.closed && !done(counts, budget)) {
      for (let i = 0; i < WINDOW; i++) {
        ws.send(frame(r, corpus, challenge!, nodeId, seq++));
        expected++;
      }
      const before = counts.frames;
      const answered = await ws.until(() => replies >= expected || ws.closed);
      counts.frames += Math.max(0, Math.min(WINDOW, replies - (expected - WINDOW)));
      if (ws.closed && counts.frames === before) counts.frames++; // the frame that closed it was read
      if (!answered) {
        counts.stalls++;
        break;
      }
    }
    if (ws.closed) counts.closes++;
    ws.terminate();
  }
}

/** One frame: a status update at the edges of its schema, a mutated seed, or garbage. */
function frame(r: Random, corpus: NodeChannelCorpus, challenge: string, nodeId: string, seq: number): string | Buffer {
  const roll = r();
  if (roll < 0.02) return Buffer.from(mutateJson(r, corpus.seeds), 'latin1'); // binary: refused BAD_JSON
  if (roll < 0.45) return mutateJson(r, corpus.seeds);
  if (roll < 0.5) return JSON.stringify(corpus.register(challenge, nodeId)); // a second registration on one channel
  const weird = [0, -1, 1.5, 2 ** 53, -0, 1e308, NaN];
  const pick = <T>(items: readonly T[]) => items[Math.floor(r() * items.length)]!;
  const status: Record<string, unknown> = { t: 'status', seq: r() < 0.8 ? seq : pick(weird), load: r() < 0.8 ? r() : pick(weird), freeCapacity: r() < 0.8 ? Math.floor(r() * 16) : pick(weird) };
  if (r() < 0.2) status.id = r() < 0.5 ? nodeId : pick(['', 'x'.repeat(200), '__proto__', 'fuzz-channel-99']);
  return JSON.stringify(status);
}
