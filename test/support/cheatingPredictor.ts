/**
 * A dishonest node's predictor, for tests only (never product code): the same name and the same
 * filter as the honest one, with chosen answers moved `shiftM` metres along x — the cheat a node
 * would sign, which is what makes it evidence.
 */
import type { Prediction, Predictor, PredictorFactory } from '../../protocol/motion/predictor.js';

/**
 * `inner` with its n-th answer (1-based) shifted whenever `cheatOn(n)` says so; `observe` and
 * `close` pass through.
 */
export function shiftedAnswers(inner: Predictor, shiftM: number, cheatOn: (n: number) => boolean): Predictor {
  let n = 0;
  const shift = (p: Prediction): Prediction => (cheatOn(++n) ? { ...p, position: [p.position[0] + shiftM, p.position[1], p.position[2]] } : p);
  return {
    ...(inner.observe ? { observe: (s) => inner.observe!(s) } : {}),
    predict(history, horizonMs) {
      const p = inner.predict(history, horizonMs);
      return p instanceof Promise ? p.then(shift) : shift(p);
    },
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}

/** `base` with every `everyNth` answer of each predictor it creates shifted. */
export function cheatingPredictor(base: PredictorFactory, shiftM = 0.05, everyNth = 1): PredictorFactory {
  return { name: base.name, create: () => shiftedAnswers(base.create(), shiftM, (n) => n % everyNth === 0) };
}
