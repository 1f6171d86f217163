/**
 * The seams where work plugs into an edge session. The session owns the socket, validation and
 * pose history; engines own the work. Each is optional: a node without a renderer simply does not
 * advertise `render`, and `render` requests get `UNSUPPORTED`.
 */
import type { FrameMessage, PoseSample, RenderMessage, Tensor } from '../protocol/index.js';
import type { Prediction } from './inference/predictors/prediction.js';

/**
 * Recent poses of one device, oldest first, duplicates (same time) already dropped. The samples
 * are slots the session reuses (PoseHistory.ts): read them during the call; copy what a predictor
 * keeps past it (an answer computed later, a stored sample) with `snapshot`.
 */
export type PoseHistory = readonly PoseSample[];

/** One predictor instance per session and device: stateful filters keep their state here. */
export interface Predictor {
  /** Called for every new sample, before any `predict`, in time order. */
  observe?(sample: PoseSample): void;
  /** The pose `horizonMs` after the newest sample in `history`. */
  /** The pose `horizonMs` ahead; `fallback` set when a guard answered instead of the model. */
  predict(history: PoseHistory, horizonMs: number): Prediction | Promise<Prediction>;
  close?(): void;
}

export interface PredictorFactory {
  /** Stable name clients select it by (`none`, `constant-velocity`, `kalman`, `learned`…). */
  readonly name: string;
  create(): Predictor;
}

export interface InferenceEngine {
  /** Names of the loaded models, advertised in `welcome`. */
  readonly models: readonly string[];
  /** Runs one request; concurrent calls may be batched. Rejects with RequestError for bad input. */
  infer(model: string, input: Tensor): Promise<Tensor>;
  /** Shown in `/healthz` (backend, models, batching). */
  describe(): Record<string, unknown>;
  close(): Promise<void>;
}

export type RenderedFrame = Omit<FrameMessage, 't' | 'id'>;

export interface RenderEngine {
  /** Renders one request for a session. Never called twice at once for the same session. */
  render(sessionId: string, request: RenderMessage): Promise<RenderedFrame>;
  /** Loads a session's uploaded glTF binary; rejects with RequestError when it is invalid. */
  loadScene(sessionId: string, name: string, glb: Uint8Array): Promise<void>;
  /** Frees what a session held (scenes, render targets). */
  releaseSession(sessionId: string): void;
  describe(): Record<string, unknown>;
  close(): Promise<void>;
}
