/**
 * Generated session messages: the right shape, random values at the edges of what the schemas
 * allow (horizons past the node's cap, unknown predictors and models, zero quaternions, huge
 * coordinates, mismatched tensor shapes, 8192² renders). Unlike mutated bytes, these pass the
 * codec and the schema and reach the request handlers, and a node answers them with non-fatal
 * errors, so a connection carries many of them.
 */
import { CODECS, DEVICES, DTYPES, EYES } from '../../protocol/index.js';
import type { Random } from './mutate.js';

const int = (r: Random, n: number) => Math.floor(r() * n);
const pick = <T>(r: Random, items: readonly T[]): T => items[int(r, items.length)]!;

function num(r: Random): number {
  return pick(r, [0, -0, 1, -1, 1e-300, 1e300, -1e300, Number.MAX_VALUE, Number.MIN_VALUE, r() * 10 - 5, r() * 1e6]);
}

function pose(r: Random, time = r() * 1e12) {
  const q = r() < 0.2 ? [0, 0, 0, 0] : r() < 0.2 ? [num(r), num(r), num(r), num(r)] : [r() - 0.5, r() - 0.5, r() - 0.5, r() - 0.5];
  const p: Record<string, unknown> = { device: pick(r, DEVICES), time: r() < 0.1 ? 0 : time, position: [num(r), num(r), num(r)], orientation: q };
  if (r() < 0.2) p.linearVelocity = [num(r), num(r), num(r)];
  return p;
}

const PREDICTORS = ['none', 'constant-velocity', 'kalman', 'learned', 'x', '', '__proto__', 'constructor'];

export function generateEdgeMessage(r: Random, id: number): unknown {
  switch (int(r, 7)) {
    case 0: {
      const t0 = r() * 1e9;
      return { t: 'pose', poses: Array.from({ length: int(r, 65) }, (_, i) => pose(r, r() < 0.8 ? t0 + i * 11_111 : t0 - i)) };
    }
    case 1:
    case 2: {
      const m: Record<string, unknown> = { t: 'predict', id, horizonMs: pick(r, [0, 20, 50, 499, 500, 501, 10_000, r() * 600]) };
      if (r() < 0.5) m.device = pick(r, DEVICES);
      if (r() < 0.3) m.predictor = pick(r, PREDICTORS);
      if (r() < 0.7) m.poses = Array.from({ length: int(r, 4) }, () => pose(r));
      return m;
    }
    case 3: {
      const n = pick(r, [0, 1, 4, 7, 1000]);
      const shape = r() < 0.5 ? [1, n] : Array.from({ length: int(r, 9) }, () => int(r, 5));
      return { t: 'infer', id, model: pick(r, ['head', 'x', '']), input: { dtype: pick(r, DTYPES), shape, data: new Uint8Array(int(r, 4) * n) } };
    }
    case 4:
      return {
        t: 'render',
        id,
        pose: pose(r),
        eye: pick(r, EYES),
        camera: { fovY: pick(r, [10, 90, 170]), ipd: r() * 0.2, width: pick(r, [0, 1, 64, 8192]), height: pick(r, [0, 1, 64, 8192]) },
        codec: pick(r, CODECS),
      };
    case 5:
      return { t: 'scene', id, name: pick(r, ['a', 'b', 'c', 'd', 'e']), data: new Uint8Array(int(r, 256)) };
    default:
      return { t: 'ping', id, c: num(r) };
  }
}

const HEX = '0123456789ABCDEF';
const ALGORITHMS = { 'sha-1': 20, 'sha-224': 28, 'sha-256': 32, 'sha-384': 48, 'sha-512': 64 } as const;
type Algorithm = keyof typeof ALGORITHMS;

/** `n` random hex bytes `AB:CD:…`. */
const hexBytes = (r: Random, n: number) => Array.from({ length: Math.max(0, n) }, () => HEX[int(r, 16)]! + HEX[int(r, 16)]!).join(':');

/**
 * WebRTC signalling a client sends (protocol/webrtc.ts), with random values: 97 in 100 pass the
 * schemas and reach the session's transport and the mediasoup worker behind it (connect with
 * arbitrary fingerprints and roles, data producers on any client stream id, consumers asked
 * twice); the rest break them (wrong digest lengths, the edge's stream ids, messages only the
 * edge sends), which closes the session.
 */
export function generateRtcMessage(r: Random, id: number): unknown {
  const broken = r() < 0.03;
  // opens are rare (each costs the worker a transport; sessions open one at their start)
  const roll = r();
  switch (roll < 0.05 ? 0 : roll < 0.45 ? 1 : roll < 0.75 ? 2 : 3) {
    case 0:
      return broken ? pick(r, [{ t: 'rtcLost', code: 'INTERNAL', reason: 'x' }, { t: 'rtcDataConsumer', id, channel: 'predictions', sctpStreamParameters: { streamId: 1 } }]) : { t: 'rtcOpen', id, ...(r() < 0.1 ? { extra: JSON.parse('{"__proto__":{"polluted":1}}') as unknown } : {}) };
    case 1: {
      const fingerprints = Array.from({ length: pick(r, [0, 1, 1, 1, 2, 5, 8]) }, () => {
        const algorithm = pick(r, Object.keys(ALGORITHMS)) as Algorithm;
        return { algorithm: broken ? 'md5' : algorithm, value: hexBytes(r, ALGORITHMS[algorithm] + (broken ? 1 : 0)) };
      });
      const dtls: Record<string, unknown> = { fingerprints };
      if (r() < 0.7) dtls.role = pick(r, ['auto', 'client', 'server']);
      return { t: 'rtcConnect', id, dtlsParameters: dtls };
    }
    case 2: {
      const sctp: Record<string, unknown> = { streamId: broken ? pick(r, [0, 511, 1024, 65535]) : 512 + int(r, 512) };
      if (r() < 0.5) sctp.ordered = r() < 0.5;
      if (r() < 0.5) sctp.maxRetransmits = pick(r, [0, 1, 65535]);
      else if (r() < 0.3) sctp.maxPacketLifeTime = pick(r, [0, 100, 65535]);
      return { t: 'rtcProduceData', id, channel: broken ? 'predictions' : 'poses', sctpStreamParameters: sctp };
    }
    default:
      return { t: 'rtcConsumeData', id, channel: broken ? 'poses' : 'predictions' };
  }
}
