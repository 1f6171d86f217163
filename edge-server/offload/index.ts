/** Heavy work (render, infer) in worker threads, off the event loop that answers predicts. */
export { HeavyPool, defaultHeavyWorkers, type HeavyPoolOptions } from './HeavyPool.js';
export { PooledInferenceEngine, PooledRenderEngine } from './PooledEngines.js';
export type { HeavyWorkerSpec } from './messages.js';
