/**
 * The trusted engine `edge-offload discovery --verify-infer` judges infer evidence and signs infer
 * references with: edge-server's tfjs engine on the shipped models, injected into discovery
 * (which may not import edge-server). Loaded only when the flag is given: tfjs is heavy.
 */
import type { DiscoveryCliHooks } from '../discovery/cli.js';
import { loadInference } from '../edge-server/inference/index.js';

export async function loadInferReference(): Promise<Awaited<ReturnType<NonNullable<DiscoveryCliHooks['loadInferReference']>>>> {
  const inference = await loadInference();
  return {
    infer: (model, input) => inference.engine.infer(model, input),
    models: inference.engine.models,
    close: async () => {
      await inference.engine.close();
      inference.registry.dispose();
    },
  };
}
