/**
 * The trap reference for predictors cheap enough to run on the client: replay the trap's messages
 * through the same predictor code the node runs (protocol/motion/replay.ts mirrors an edge
 * session exactly). Pure TypeScript, no tfjs: the factories passed decide what can be checked
 * locally (constant velocity, Kalman); `learned` needs a trap bank or a trusted verifier.
 */
import { replayPredictions } from '../../protocol/motion/replay.js';
import type { PredictorFactory } from '../../protocol/motion/predictor.js';
import type { ReferenceSource } from './TrapVerifier.js';

export function localReference(factories: readonly PredictorFactory[]): ReferenceSource {
  const byName = new Map(factories.map((f) => [f.name, f]));
  return async (task, defaultPredictor) => {
    const named = task.messages.find((m) => m.predictor)?.predictor ?? defaultPredictor;
    if (!byName.has(named)) return undefined;
    return replayPredictions(byName, task.messages, { defaultPredictor });
  };
}
