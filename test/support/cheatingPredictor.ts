/**
 * A dishonest node's predictor, for tests only (never product code): the same name and the same
 * filter as `base`, with every `everyNth` answer moved `shiftM` metres along x — the cheat a
 * node would sign, which is what makes it evidence.
 */
import type { PredictorFactory } from '../../protocol/motion/predictor.js';
import type { Prediction } from '../../protocol/motion/predictor.js';

export function cheatingPredictor(base: PredictorFactory, shiftM = 0.05, everyNth = 1): PredictorFactory {
  return {
    name: base.name,
    create() {
      const inner = base.create();
      let n = 0;
      const shift = (p: Prediction): Prediction => (++n % everyNth === 0 ? { ...p, position: [p.position[0] + shiftM, p.position[1], p.position[2]] } : p);
      return {
        ...(inner.observe ? { observe: (s) => inner.observe!(s) } : {}),
        predict(history, horizonMs) {
          const p = inner.predict(history, horizonMs);
          return p instanceof Promise ? p.then(shift) : shift(p);
        },
        ...(inner.close ? { close: () => inner.close!() } : {}),
      };
    },
  };
}
