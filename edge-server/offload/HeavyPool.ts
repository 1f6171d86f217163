/**
 * The node's pool of heavy worker threads (`node:worker_threads`): render and `infer` run there,
 * off the event loop that answers every session's predict. One pool per node; `inference` and
 * `renderer` are the engines the EdgeServer is given (PooledEngines.ts), with the same interfaces
 * as the in-process ones.
 *
 * Placement: an `infer` goes to the least busy worker (every worker loads the models); renders and
 * scene uploads go to the render worker (the first), the only one that opens a GPU device: Dawn's
 * GL ES backend on Mesa crashes the process when a second thread opens another (webgpu 0.6.2), and
 * llvmpipe spreads each frame over its own threads anyway. Order and fairness between sessions
 * are the FairScheduler's job (admission/), run with `concurrency` = the pool's size; inside the
 * render worker the renderer's RenderQueue shares the device round robin.
 *
 * A worker that dies (a native crash in Dawn or TensorFlow kills only its thread when it throws,
 * the process when it aborts) fails its requests with INTERNAL and is replaced; the sessions it
 * held scenes for lose them (when it is the render worker, their next render of an uploaded scene is BAD_REQUEST).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ErrorCode, InvalidStateError, Logger, RequestError } from '../../protocol/index.js';
import { fromWireError, type HeavyWorkerSpec, type WorkerReply, type WorkerRequest } from './messages.js';
import { PooledInferenceEngine, PooledRenderEngine } from './PooledEngines.js';

const logger = new Logger('edge:heavy');

export interface HeavyPoolOptions extends Partial<HeavyWorkerSpec> {
  /** Worker threads. @default cores − 1, at least 1 (env EDGE_OFFLOAD_HEAVY_WORKERS) */
  size?: number;
  /** A worker must have loaded its engines within this. @default 120000 (model load + GPU start on a busy machine) */
  startTimeoutMs?: number;
}

/** cores − 1 (the event loop keeps one), at least 1. */
export function defaultHeavyWorkers(): number {
  const env = Number(process.env.EDGE_OFFLOAD_HEAVY_WORKERS);
  return Number.isInteger(env) && env > 0 ? env : Math.max(1, availableParallelism() - 1);
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface Slot {
  index: number;
  worker: Worker;
  pending: Map<number, Pending>;
  /** The worker died and its replacement has not started yet: requests for it are refused. */
  down?: boolean;
}

export class HeavyPool {
  readonly size: number;
  readonly inference: PooledInferenceEngine | undefined;
  readonly renderer: PooledRenderEngine | undefined;
  readonly #spec: HeavyWorkerSpec;
  readonly #startTimeoutMs: number;
  readonly #slots: Slot[] = [];
  /** Sessions that rendered or uploaded a scene: the render worker frees theirs when they go. */
  readonly #rendering = new Set<string>();
  #nextId = 1;
  #closed = false;
  #restarts = 0;
  /** When recent restarts happened: a worker that keeps dying is restarted ever more slowly. */
  #restartTimes: number[] = [];

  private constructor(options: HeavyPoolOptions, size: number, ready: { models: string[]; inference: Record<string, unknown> | null; render: Record<string, unknown> | null }) {
    this.size = size;
    this.#spec = specOf(options);
    this.#startTimeoutMs = options.startTimeoutMs ?? 120_000;
    this.inference = options.inference ? new PooledInferenceEngine(this, ready.models, ready.inference ?? {}) : undefined;
    this.renderer = options.render ? new PooledRenderEngine(this, ready.render ?? {}) : undefined;
  }

  /** Starts `size` workers and waits until each has its engines (rejects with the first one's error). */
  static async create(options: HeavyPoolOptions): Promise<HeavyPool> {
    let size = options.size ?? defaultHeavyWorkers();
    if (!Number.isInteger(size) || size < 1) throw new TypeError(`heavy pool size must be a positive integer, got ${size}`);
    if (!options.inference && !options.render) throw new TypeError('a heavy pool needs inference or render (or both)');
    // Mesa reads EGL_PLATFORM with getenv(): a worker's process.env is its own copy, so the
    // surfaceless platform (no X/Wayland on a node) must be set here, before the threads start
    if (options.render) process.env['EGL_PLATFORM'] ??= 'surfaceless';
    // likewise TensorFlow's log level, read natively: without it every worker prints its banner
    if (options.inference) process.env['TF_CPP_MIN_LOG_LEVEL'] ??= '2';
    const spec = specOf(options);
    // without inference only the render worker has work: one thread
    if (!options.inference) size = 1;
    const timeout = options.startTimeoutMs ?? 120_000;
    const slots: Slot[] = [];
    let first: WorkerReply & { t: 'ready' } | undefined;
    try {
      // one after the other: two threads opening Dawn's GL ES device at the same moment crash Mesa
      for (let i = 0; i < size; i++) {
        const { slot, ready } = startSlot(i, slotSpec(spec, i), timeout);
        slots.push(slot);
        const reply = await ready;
        first ??= reply;
      }
    } catch (err) {
      await Promise.allSettled(slots.map((s) => s.worker.terminate()));
      throw err;
    }
    const pool = new HeavyPool(options, size, first!);
    for (const slot of slots) pool.#adopt(slot);
    logger.debug(`${size} heavy workers ready (${options.inference ? 'infer' : ''}${options.inference && options.render ? ', ' : ''}${options.render ? 'render' : ''})`);
    return pool;
  }

  /** Requests running in each worker, for health. */
  stats(): { workers: number; running: number[]; restarts: number; renderingSessions: number } {
    return { workers: this.size, running: this.#slots.map((s) => s.pending.size), restarts: this.#restarts, renderingSessions: this.#rendering.size };
  }

  /** Runs `request` on the least busy worker (stateless work: infer). */
  call(request: DistributiveOmit<WorkerRequest & { id: number }, 'id'>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    let best = this.#slots[0]!;
    for (const slot of this.#slots) if (slot.pending.size < best.pending.size) best = slot;
    return this.#send(best, request, transfer);
  }

  /** Runs `session`'s render or scene upload on the render worker. */
  callRender(session: string, request: DistributiveOmit<WorkerRequest & { id: number }, 'id'>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    this.#rendering.add(session);
    return this.#send(this.#slots[RENDER_SLOT]!, request, transfer);
  }

  /** The session is gone: the render worker frees its scenes. */
  release(session: string): void {
    if (!this.#rendering.delete(session)) return;
    this.#slots[RENDER_SLOT]!.worker.postMessage({ t: 'release', session } satisfies WorkerRequest);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      this.#slots.map(async (slot) => {
        const exited = new Promise((resolve) => slot.worker.once('exit', resolve));
        slot.worker.postMessage({ t: 'close' } satisfies WorkerRequest);
        // a worker stuck in native code is not waited for forever
        const timer = setTimeout(() => void slot.worker.terminate(), 5000);
        await exited;
        clearTimeout(timer);
        failAll(slot, () => new InvalidStateError('heavy pool closed'));
      }),
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  #send(slot: Slot, request: DistributiveOmit<WorkerRequest & { id: number }, 'id'>, transfer: ArrayBuffer[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new InvalidStateError('heavy pool closed'));
    if (slot.down) return Promise.reject(new RequestError(ErrorCode.BUSY, 'the worker for this request is restarting; try again shortly'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      // postMessage drops a message whose transfer list holds a detached buffer without a word
      // (Node 20): the call would never settle. A detached buffer has 0 bytes; kept out of the
      // list, the message's clone throws DataCloneError for it instead, and the call fails.
      try {
        slot.worker.postMessage({ ...request, id }, transfer.filter((b) => b.byteLength > 0));
      } catch (err) {
        slot.pending.delete(id);
        reject(err);
      }
    });
  }

  #adopt(slot: Slot): void {
    this.#slots[slot.index] = slot;
    slot.worker.on('message', (reply: WorkerReply) => {
      if (reply.t !== 'done' && reply.t !== 'error') return;
      const pending = slot.pending.get(reply.id);
      if (!pending) return;
      slot.pending.delete(reply.id);
      if (reply.t === 'done') pending.resolve(reply.value);
      else pending.reject(fromWireError(reply.error));
    });
    slot.worker.on('error', (err) => logger.error(`heavy worker ${slot.index} failed: ${err.stack ?? err.message}`));
    slot.worker.once('exit', (code) => {
      if (this.#closed) return;
      logger.error(`heavy worker ${slot.index} exited (code ${code}); starting a new one`);
      failAll(slot, () => new RequestError(ErrorCode.INTERNAL, 'the worker running this request died; the node started a new one'));
      if (slot.index === RENDER_SLOT) this.#rendering.clear();
      this.#restarts++;
      // at once the first time in a minute, then 1 s, 2 s, … up to 30 s: a worker that cannot
      // start (its GPU gone, say) does not spin the machine
      const now = performance.now();
      this.#restartTimes = this.#restartTimes.filter((t) => now - t < 60_000);
      const delay = this.#restartTimes.length === 0 ? 0 : Math.min(30_000, 500 * 2 ** this.#restartTimes.length);
      this.#restartTimes.push(now);
      slot.down = true;
      setTimeout(() => {
        if (this.#closed) return;
        const { slot: fresh, ready } = startSlot(slot.index, slotSpec(this.#spec, slot.index), this.#startTimeoutMs);
        // requests sent meanwhile wait in the thread's port until it is ready to read them
        ready.catch((err: unknown) => logger.error(`heavy worker ${slot.index} did not restart: ${(err as Error).message}`));
        this.#adopt(fresh);
      }, delay).unref();
    });
  }
}

/** The one worker that renders (see the top). */
const RENDER_SLOT = 0;

/** Worker `index`'s engines: the render worker gets the renderer, every worker the models. */
function slotSpec(spec: HeavyWorkerSpec, index: number): HeavyWorkerSpec {
  if (index === RENDER_SLOT || !spec.render) return spec;
  const { render: _render, ...rest } = spec;
  return rest;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function specOf(options: HeavyPoolOptions): HeavyWorkerSpec {
  return {
    ...(options.inference ? { inference: options.inference } : {}),
    ...(options.render ? { render: options.render } : {}),
    niceness: options.niceness ?? 10,
  };
}

function startSlot(index: number, spec: HeavyWorkerSpec, timeoutMs: number): { slot: Slot; ready: Promise<WorkerReply & { t: 'ready' }> } {
  const worker = new Worker(new URL('./heavyWorker.js', import.meta.url), { workerData: spec, name: `heavy-${index}` });
  const ready = new Promise<WorkerReply & { t: 'ready' }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`heavy worker ${index} did not load its engines within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number) => reject(new Error(`heavy worker ${index} exited with code ${code} while starting`));
    worker.once('exit', onExit);
    worker.once('error', reject);
    worker.on('message', function first(reply: WorkerReply) {
      if (reply.t !== 'ready' && reply.t !== 'failed') return;
      worker.off('message', first);
      worker.off('exit', onExit);
      worker.off('error', reject);
      clearTimeout(timer);
      if (reply.t === 'ready') resolve(reply);
      else reject(fromWireError(reply.error));
    });
  });
  return { slot: { index, worker, pending: new Map() }, ready };
}

function failAll(slot: Slot, error: () => Error): void {
  for (const pending of slot.pending.values()) pending.reject(error());
  slot.pending.clear();
}
