/**
 * Loaded with `node --import` into a real `edge-offload edge` process, for the trust tests only:
 * every predictor the node's sessions use answers `EDGE_OFFLOAD_TEST_CHEAT_SHIFT_M` metres
 * (default 0.05) off along x — a node whose operator swapped in a wrong model. Nothing in the
 * product knows about it: it wraps `SessionMotion.prototype.predictor`, the one place the predict
 * handler gets its predictor from, so the node signs the wrong answers like any other.
 */
import type { Predictor } from '../../protocol/motion/predictor.js';
import type { Prediction } from '../../protocol/motion/predictor.js';
import { SessionMotion } from '../../edge-server/session/SessionMotion.js';

const shiftM = Number(process.env.EDGE_OFFLOAD_TEST_CHEAT_SHIFT_M ?? 0.05);
const original = SessionMotion.prototype.predictor;
const wrapped = new WeakMap<Predictor, Predictor>();
const shift = (p: Prediction): Prediction => ({ ...p, position: [p.position[0] + shiftM, p.position[1], p.position[2]] });

SessionMotion.prototype.predictor = function (this: SessionMotion, ...args: Parameters<SessionMotion['predictor']>): Predictor {
  const honest = original.apply(this, args);
  let cheat = wrapped.get(honest);
  if (!cheat) {
    cheat = {
      ...(honest.observe ? { observe: (s) => honest.observe!(s) } : {}),
      predict(history, horizonMs) {
        const p = honest.predict(history, horizonMs);
        return p instanceof Promise ? p.then(shift) : shift(p);
      },
      ...(honest.close ? { close: () => honest.close!() } : {}),
    };
    wrapped.set(honest, cheat);
  }
  return cheat;
};
