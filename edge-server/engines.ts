/**
 * The seams where work plugs into an edge session. The session owns the socket, validation and
 * pose history; engines own the work. Each is optional: a node without a renderer simply does not
 * advertise `render`, and `render` requests get `UNSUPPORTED`.
 */
import type { FrameMessage, RenderMessage, Tensor } from '../protocol/index.js';

/** The predictor contract is shared with the SDK's and discovery's reference computation. */
export type { PoseWindow, Predictor, PredictorFactory } from '../protocol/motion/predictor.js';

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
