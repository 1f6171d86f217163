/**
 * The `infer` engine: any model in the registry, one request = one sample (per-sample shape) or a
 * batch ([n, ...per-sample shape]). Input is checked against the model's signature before any
 * tensor is built: dtype, shape, element cap, finite values. Concurrent requests for the same
 * batchable model, from any sessions, are stacked into one run (MicroBatcher).
 */
import { ErrorCode, InvalidStateError, RequestError, elementCount, fromWireTensor, toWireTensor, type Tensor } from '../../protocol/index.js';
import { DEFAULT_LIMITS } from '../../protocol/limits.js';
import type { InferenceEngine } from '../engines.js';
import type { TfRuntime } from './backend.js';
import { MicroBatcher, type BatchStats } from './MicroBatcher.js';
import type { ModelRegistry, RegisteredModel } from './ModelRegistry.js';

export interface TfjsInferenceEngineOptions {
  /** [maxElements=DEFAULT_LIMITS.maxTensorElements] most input elements in one request. */
  maxElements?: number;
  /** [maxBatchRows=1024] most samples in one request. */
  maxBatchRows?: number;
  /** [batchWindowMs=0] see MicroBatcher: 0 = coalesce within one event-loop turn. */
  batchWindowMs?: number;
  /** [maxBatch=256] most requests stacked into one run. */
  maxBatch?: number;
}

interface Job {
  data: Float32Array | Int32Array | Uint8Array;
  rows: number;
  /** True when the request had no batch dimension (the answer has none either). */
  single: boolean;
}

type Output = Float32Array | Int32Array | Uint8Array;

export class TfjsInferenceEngine implements InferenceEngine {
  readonly #runtime: TfRuntime;
  readonly #registry: ModelRegistry;
  readonly #batchers = new Map<string, MicroBatcher<Job, Output>>();
  readonly #maxElements: number;
  readonly #maxBatchRows: number;
  readonly #windowMs: number;
  readonly #maxBatch: number;
  #closed = false;
  #rejected = 0;

  constructor(runtime: TfRuntime, registry: ModelRegistry, options: TfjsInferenceEngineOptions = {}) {
    this.#runtime = runtime;
    this.#registry = registry;
    this.#maxElements = options.maxElements ?? DEFAULT_LIMITS.maxTensorElements;
    this.#maxBatchRows = options.maxBatchRows ?? 1024;
    this.#windowMs = options.batchWindowMs ?? 0;
    this.#maxBatch = options.maxBatch ?? 256;
  }

  get models(): readonly string[] {
    return this.#registry.names;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async infer(modelName: string, input: Tensor): Promise<Tensor> {
    if (this.#closed) throw new InvalidStateError('inference engine is closed');
    const model = this.#registry.get(modelName);
    if (!model) throw this.#reject(ErrorCode.UNKNOWN_MODEL, `no model named ${JSON.stringify(modelName).slice(0, 140)}; loaded: ${this.models.join(', ') || 'none'}`);
    const job = this.#validate(model, input);
    const output = model.batchable ? await this.#batcher(model).submit(job) : model.run(job.data, job.rows);
    return toWireTensor(output, job.single ? model.output.shape : [job.rows, ...model.output.shape]);
  }

  #reject(code: ErrorCode, message: string): RequestError {
    this.#rejected++;
    return new RequestError(code, message);
  }

  #validate(model: RegisteredModel, input: Tensor): Job {
    const count = elementCount(input.shape);
    if (count > this.#maxElements) throw this.#reject(ErrorCode.TOO_LARGE, `tensor has ${count} elements, more than ${this.#maxElements}`);
    if (input.dtype !== model.input.dtype) throw this.#reject(ErrorCode.BAD_REQUEST, `model ${model.name} takes ${model.input.dtype}, got ${input.dtype}`);
    const sig = model.input.shape;
    const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
    let rows: number;
    let single: boolean;
    if (same(input.shape, sig)) [rows, single] = [1, true];
    else if (model.batchable && input.shape.length === sig.length + 1 && same(input.shape.slice(1), sig)) [rows, single] = [input.shape[0]!, false];
    else throw this.#reject(ErrorCode.BAD_REQUEST, `model ${model.name} takes shape [${sig}]${model.batchable ? ` or [n, ${sig}]` : ''}, got [${input.shape}]`);
    if (rows < 1 || rows > this.#maxBatchRows) throw this.#reject(ErrorCode.BAD_REQUEST, `batch of ${rows} samples; allowed 1..${this.#maxBatchRows}`);
    let data: Float32Array | Int32Array | Uint8Array;
    try {
      data = fromWireTensor(input, this.#maxElements);
    } catch (err) {
      this.#rejected++;
      throw err;
    }
    if (data instanceof Float32Array) {
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) throw this.#reject(ErrorCode.BAD_REQUEST, `input element ${i} is ${data[i]}; NaN and Infinity are rejected`);
      }
    }
    return { data, rows, single };
  }

  #batcher(model: RegisteredModel): MicroBatcher<Job, Output> {
    let batcher = this.#batchers.get(model.name);
    if (!batcher) {
      const width = elementCount(model.input.shape);
      const outWidth = elementCount(model.output.shape);
      batcher = new MicroBatcher<Job, Output>({
        windowMs: this.#windowMs,
        maxBatch: this.#maxBatch,
        run: (jobs) => {
          if (jobs.length === 1) return [model.run(jobs[0]!.data, jobs[0]!.rows)];
          const rows = jobs.reduce((n, j) => n + j.rows, 0);
          const stacked = model.input.dtype === 'int32' ? new Int32Array(rows * width) : new Float32Array(rows * width);
          let r = 0;
          for (const j of jobs) {
            stacked.set(j.data, r * width);
            r += j.rows;
          }
          const out = model.run(stacked, rows);
          r = 0;
          return jobs.map((j) => {
            const slice = out.slice(r * outWidth, (r + j.rows) * outWidth);
            r += j.rows;
            return slice;
          });
        },
      });
      this.#batchers.set(model.name, batcher);
    }
    return batcher;
  }

  describe(): Record<string, unknown> {
    const batching: Record<string, BatchStats> = {};
    for (const [name, b] of this.#batchers) batching[name] = b.stats;
    return {
      engine: 'tfjs',
      ...this.#runtime.describe(),
      models: this.#registry.describe(),
      batching: { windowMs: this.#windowMs, maxBatch: this.#maxBatch, perModel: batching },
      rejected: this.#rejected,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const b of this.#batchers.values()) b.rejectAll(new InvalidStateError('inference engine closed'));
    this.#registry.dispose();
  }
}
