/**
 * Loaded with `node --import` into a real `edge-offload edge` process, for the spot-check tests
 * only: a node that correlates sessions. Every predictor answers honestly for its first
 * `EDGE_OFFLOAD_TEST_HONEST_PREDICTS` (default 120) predicts — longer than any trap session
 * (≤ 90), so traps always pass — and `EDGE_OFFLOAD_TEST_CHEAT_SHIFT_M` metres (default 0.05) off
 * along x after that: the long live session is the one cheated. Like cheatingNode.ts it wraps
 * `SessionMotion.prototype.predictor`, so the node signs the wrong answers like any other.
 */
import type { Predictor, Prediction } from '../../protocol/motion/predictor.js';
import { SessionMotion } from '../../edge-server/session/SessionMotion.js';

const shiftM = Number(process.env.EDGE_OFFLOAD_TEST_CHEAT_SHIFT_M ?? 0.05);
const honestPredicts = Number(process.env.EDGE_OFFLOAD_TEST_HONEST_PREDICTS ?? 120);
const original = SessionMotion.prototype.predictor;
const wrapped = new WeakMap<Predictor, Predictor>();

SessionMotion.prototype.predictor = function (this: SessionMotion, ...args: Parameters<SessionMotion['predictor']>): Predictor {
  const honest = original.apply(this, args);
  let cheat = wrapped.get(honest);
  if (!cheat) {
    let answered = 0;
    const late = (p: Prediction): Prediction => (++answered > honestPredicts ? { ...p, position: [p.position[0] + shiftM, p.position[1], p.position[2]] } : p);
    cheat = {
      ...(honest.observe ? { observe: (s) => honest.observe!(s) } : {}),
      predict(history, horizonMs) {
        const p = honest.predict(history, horizonMs);
        return p instanceof Promise ? p.then(late) : late(p);
      },
      ...(honest.close ? { close: () => honest.close!() } : {}),
    };
    wrapped.set(honest, cheat);
  }
  return cheat;
};
