/**
 * Loaded with `node --import` into a real `edge-offload edge` process, for the trust tests only:
 * a node whose operator swapped in a wrong model. Every predictor the node's sessions use answers
 * `EDGE_OFFLOAD_TEST_CHEAT_SHIFT_M` metres (default 0.05) off along x, after its first
 * `EDGE_OFFLOAD_TEST_HONEST_PREDICTS` answers (default 0: from the start). A positive count makes
 * a node that correlates sessions: with more honest answers than any trap session asks for (≤ 90),
 * traps always pass and only the long live session is cheated (the spot-check tests).
 *
 * Nothing in the product knows about it: it wraps `SessionMotion.prototype.predictor`, the one
 * place the predict handler gets its predictor from, so the node signs the wrong answers like any
 * other.
 */
import type { Predictor } from '../../protocol/motion/predictor.js';
import { SessionMotion } from '../../edge-server/session/SessionMotion.js';
import { shiftedAnswers } from './cheatingPredictor.js';

const shiftM = Number(process.env.EDGE_OFFLOAD_TEST_CHEAT_SHIFT_M ?? 0.05);
const honestPredicts = Number(process.env.EDGE_OFFLOAD_TEST_HONEST_PREDICTS ?? 0);
const original = SessionMotion.prototype.predictor;
const wrapped = new WeakMap<Predictor, Predictor>();

SessionMotion.prototype.predictor = function (this: SessionMotion, ...args: Parameters<SessionMotion['predictor']>): Predictor {
  const honest = original.apply(this, args);
  let cheat = wrapped.get(honest);
  if (!cheat) {
    cheat = shiftedAnswers(honest, shiftM, (n) => n > honestPredicts);
    wrapped.set(honest, cheat);
  }
  return cheat;
};
