/**
 * The node's side of a trap run without sockets: the trap's predicts go through the same replay
 * an edge session performs (protocol/motion/replay.ts, pinned to a real EdgeServer by
 * trust-replay.test.ts) and every answer through the real ResultSigner, with an optional cheat
 * applied before signing (a cheating node signs its wrong answers: that is what makes them
 * evidence). Socket-free, so the entrapment bench can run 10⁵ traps; the trust tests use it too,
 * and test/trust-live-signing.test.ts covers the same signing on a real node's wire.
 */
import { generateKeyPair } from '../../discovery/identity.js';
import type { PredictorFactory } from '../../protocol/motion/predictor.js';
import { replayPredictions } from '../../protocol/motion/replay.js';
import { ResultSigner } from '../../edge-server/trust/ResultSigner.js';
import type { PoseSample, ResultSeal } from '../../protocol/index.js';
import type { TrapAnswer, TrapChannel, TrapPredict, TrapRun, TrapSession, TrapTask } from '../../client-sdk/trust/index.js';

export type Cheat = (answer: TrapAnswer, index: number) => TrapAnswer;

export interface SigningNode {
  id: string;
  publicKey: string;
  privateKeyPem: string;
  factories: readonly PredictorFactory[];
  sealEvery: number;
  sessions: number;
}

export function signingNode(id: string, factories: readonly PredictorFactory[], sealEvery = 16): SigningNode {
  const keys = generateKeyPair();
  return { id, publicKey: keys.publicKey, privateKeyPem: keys.privateKeyPem, factories, sealEvery, sessions: 0 };
}

/** Serves `task` on a fresh session; `served` answers (default: the node's own factories). */
export async function serveTrap(node: SigningNode, task: TrapTask, options: { cheat?: Cheat; served?: readonly PredictorFactory[] } = {}): Promise<TrapRun> {
  const session = `${node.id}-s${++node.sessions}`;
  const defaultPredictor = node.factories[0]!.name;
  const signer = new ResultSigner(node.id, session, node.privateKeyPem, { sealEvery: node.sealEvery, now: () => 0 });
  const served = options.served ?? node.factories;
  const honest = await replayPredictions(new Map(served.map((f) => [f.name, f])), task.messages, { defaultPredictor });
  const answers: TrapAnswer[] = [];
  const seals: ResultSeal[] = [];
  let next = 0;
  for (const message of task.messages) {
    for (const s of message.poses) signer.observe(s);
    const r = honest[next]!;
    const answer = options.cheat ? options.cheat({ id: r.id, predictor: r.predictor, horizonMs: r.horizonMs, pose: r.pose }, next) : { id: r.id, predictor: r.predictor, horizonMs: r.horizonMs, pose: r.pose };
    next++;
    const seal = signer.prediction(answer.id, answer);
    answers.push(answer);
    if (seal) seals.push(seal);
  }
  const last = signer.flush();
  if (last) seals.push(last);
  return { node: node.id, publicKey: node.publicKey, session, defaultPredictor, task, answers, seals };
}

/** Moves a pose by `metres` along x and turns it by `radians` about y: a wrong answer. */
export function skew(pose: PoseSample, metres: number, radians = 0): PoseSample {
  const half = radians / 2;
  const [x, y, z, w] = pose.orientation;
  const s = Math.sin(half), c = Math.cos(half);
  // q' = (0, s, 0, c) ⊗ q
  const orientation: PoseSample['orientation'] = [c * x + s * z, c * y + s * w, c * z - s * x, c * w - s * y];
  return { ...pose, position: [pose.position[0] + metres, pose.position[1], pose.position[2]], orientation };
}

/**
 * The signing node behind the SDK's TrapChannel: each `open()` is a fresh session, each predict is
 * answered from a replay of the session so far (as an edge session would) and signed; `sealed()`
 * stands in for the node's idle seal timer.
 */
export function signingChannel(node: SigningNode, options: { cheat?: Cheat } = {}): TrapChannel {
  return {
    async open(): Promise<TrapSession> {
      const session = `${node.id}-s${++node.sessions}`;
      const defaultPredictor = node.factories[0]!.name;
      const signer = new ResultSigner(node.id, session, node.privateKeyPem, { sealEvery: node.sealEvery, now: () => 0 });
      const factories = new Map(node.factories.map((f) => [f.name, f]));
      const sent: TrapPredict[] = [];
      const seals: ResultSeal[] = [];
      let closed = false;
      return {
        session,
        defaultPredictor,
        seals,
        async predict(message) {
          if (closed) throw new Error('closed');
          sent.push(message);
          for (const s of message.poses) signer.observe(s);
          const all = await replayPredictions(factories, sent, { defaultPredictor });
          const r = all[all.length - 1]!;
          const honest = { id: r.id, predictor: r.predictor, horizonMs: r.horizonMs, pose: r.pose };
          const answer = options.cheat ? options.cheat(honest, sent.length - 1) : honest;
          const seal = signer.prediction(answer.id, answer);
          if (seal) seals.push(seal);
          return answer;
        },
        async extra(message) {
          throw new Error(`this in-process node answers predicts only, not ${message.t}`);
        },
        async sealed(answers) {
          if (seals.some((s) => s.to >= answers)) return;
          const seal = signer.flush();
          if (seal) seals.push(seal);
        },
        close() {
          closed = true;
        },
      };
    },
  };
}
