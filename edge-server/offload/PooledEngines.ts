/**
 * The engines an EdgeServer is given when its heavy work runs in worker threads: the same
 * InferenceEngine and RenderEngine interfaces as the in-process TfjsInferenceEngine and
 * WebGpuRenderEngine, each call forwarded to the HeavyPool, bytes moved in transfer lists.
 */
import { InvalidStateError, type RenderMessage, type Tensor } from '../../protocol/index.js';
import type { InferenceEngine, RenderedFrame, RenderEngine } from '../engines.js';
import type { HeavyPool } from './HeavyPool.js';
import { copiedBytes, transferableTensor } from './messages.js';

export class PooledInferenceEngine implements InferenceEngine {
  readonly models: readonly string[];
  readonly #pool: HeavyPool;
  readonly #described: Record<string, unknown>;

  constructor(pool: HeavyPool, models: readonly string[], described: Record<string, unknown>) {
    this.#pool = pool;
    this.models = models;
    this.#described = described;
  }

  infer(model: string, input: Tensor): Promise<Tensor> {
    const transfer: ArrayBuffer[] = [];
    return this.#pool.call({ t: 'infer', model, input: transferableTensor(input, transfer) }, transfer) as Promise<Tensor>;
  }

  /** What the first worker said at start (backend, models), plus the pool's load now. */
  describe(): Record<string, unknown> {
    return { ...this.#described, workers: this.#pool.stats() };
  }

  /** The pool closes with its owner (the CLI, or whoever created it), once for both engines. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}

export class PooledRenderEngine implements RenderEngine {
  readonly #pool: HeavyPool;
  readonly #described: Record<string, unknown>;

  constructor(pool: HeavyPool, described: Record<string, unknown>) {
    this.#pool = pool;
    this.#described = described;
  }

  render(sessionId: string, request: RenderMessage): Promise<RenderedFrame> {
    return this.#pool.callRender(sessionId, { t: 'render', session: sessionId, request }) as Promise<RenderedFrame>;
  }

  loadScene(sessionId: string, name: string, glb: Uint8Array): Promise<void> {
    if (this.#pool.closed) return Promise.reject(new InvalidStateError('render engine is closed'));
    // the caller's bytes copied (a scene is loaded once): the transfer would detach theirs
    const data = copiedBytes(glb);
    return this.#pool.callRender(sessionId, { t: 'scene', session: sessionId, name, glb: data }, [data.buffer as ArrayBuffer]) as Promise<void>;
  }

  releaseSession(sessionId: string): void {
    this.#pool.release(sessionId);
  }

  describe(): Record<string, unknown> {
    return { ...this.#described, workers: this.#pool.stats() };
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
