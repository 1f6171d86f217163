export { EdgeServer, SESSION_PATH, type EdgeServerOptions, type ListenResult } from './EdgeServer.js';
export { Session, type SessionEvents } from './Session.js';
export type { EdgeServerEvents } from './EdgeServer.js';
export type { Handler, HandlerContext, HandlerTable, NodeContext } from './handlers/index.js';
export { PoseHistory } from '../protocol/motion/PoseHistory.js';
export type { InferenceEngine, Predictor, PredictorFactory, RenderEngine, RenderedFrame, PoseWindow } from './engines.js';
export { baselinePredictors, constantVelocity, noPrediction } from '../protocol/motion/baselinePredictors.js';
export { HeavyPool, defaultHeavyWorkers, type HeavyPoolOptions } from './offload/index.js';
