/**
 * The models a node serves, loaded once at start from a local directory: every sub-folder holding
 * a tfjs `model.json` (layers or graph format) becomes a model named after the folder. Files are
 * read with `fs` (never fetched), so the same loader works on every backend, tfjs-node or not.
 * Each model's input signature (shape after the batch dimension, dtype) comes from the model.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
import type { DType } from '../../protocol/index.js';
import type { Tf } from './backend.js';
import { compileDenseStack, type DenseStack } from './denseStack.js';
import { Logger } from '../../protocol/Logger.js';

/** Startup facts (backend, models, predictors) unless the caller passes its own `log`. */
const logger = new Logger('inference');

export interface ModelSignature {
  /** Per-sample shape (the batch dimension removed). */
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export interface RegisteredModel {
  readonly name: string;
  readonly format: 'layers-model' | 'graph-model';
  readonly input: ModelSignature;
  readonly output: ModelSignature;
  /** True when the first input dimension is a free batch dimension (requests can be stacked). */
  readonly batchable: boolean;
  readonly parameters: number;
  readonly metadata: Record<string, unknown> | undefined;
  /** Present for Dense-only models: the fast path (denseStack.ts). */
  readonly denseStack: DenseStack | undefined;
  /** The tfjs layers model itself (layers format only), for callers that need the layers API. */
  readonly layers: TF.LayersModel | undefined;
  /** Runs `rows` samples (concatenated, row-major) and returns rows × output size values. */
  run(input: Float32Array | Int32Array | Uint8Array, rows: number): Float32Array | Int32Array | Uint8Array;
}

export interface ModelRegistryOptions {
  /** [maxModelBytes=64 MiB] largest model (json + weights) accepted from the directory. */
  maxModelBytes?: number;
  log?: (line: string) => void;
}

export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
  readonly code = 'MODEL_LOAD_FAILED';
}

/** Folder of the models shipped with the package (`edge-server/inference/models`). */
// compiled to dist/edge-server/inference/ → the repo (or package) root is three levels up
export const BUNDLED_MODELS_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../edge-server/inference/models');

function fileHandler(tf: Tf, dir: string, maxBytes: number): TF.io.IOHandler {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object;
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
    weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[];
    userDefinedMetadata?: Record<string, unknown>;
    signature?: object;
  };
  const buffers: Buffer[] = [];
  let total = 0;
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const file = resolve(dir, p);
      if (!file.startsWith(resolve(dir) + '/')) throw new ModelLoadError(`${dir}: weight path ${p} leaves the model folder`);
      total += statSync(file).size;
      if (total > maxBytes) throw new ModelLoadError(`${dir}: weights exceed maxModelBytes (${maxBytes})`);
      buffers.push(readFileSync(file));
    }
  }
  const weightData = Buffer.concat(buffers);
  return tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy ?? null,
    userDefinedMetadata: json.userDefinedMetadata,
    signature: json.signature,
  } as TF.io.ModelArtifacts);
}

function signatureOf(shape: readonly (number | null)[], dtype: string, what: string): { sig: ModelSignature; batchable: boolean } {
  const batchable = shape[0] === null || shape[0] === -1;
  const rest = batchable ? shape.slice(1) : shape;
  if (rest.some((d) => d === null || d === -1)) throw new ModelLoadError(`${what}: only the first dimension may be free (shape [${shape}])`);
  if (dtype !== 'float32' && dtype !== 'int32') throw new ModelLoadError(`${what}: dtype ${dtype} is not served`);
  return { sig: { shape: rest as number[], dtype: dtype as DType }, batchable };
}

async function loadOne(tf: Tf, name: string, dir: string, maxBytes: number): Promise<RegisteredModel> {
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { format?: string };
  if (json.format === 'graph-model') {
    const model = await tf.loadGraphModel(fileHandler(tf, dir, maxBytes));
    const inp = model.inputs[0];
    const out = model.outputs[0];
    if (!inp || !out || model.inputs.length !== 1) throw new ModelLoadError(`${name}: only single-input graph models are served`);
    const { sig: input, batchable } = signatureOf(inp.shape ?? [], inp.dtype, `${name} input`);
    const { sig: output } = signatureOf(out.shape ?? [], out.dtype, `${name} output`);
    return {
      name, format: 'graph-model', input, output, batchable, parameters: 0, metadata: undefined, denseStack: undefined, layers: undefined,
      run(data, rows) {
        const x = tf.tensor(data, batchable ? [rows, ...input.shape] : [...input.shape], input.dtype as 'float32');
        const y = model.predict(x) as TF.Tensor;
        const result = y.dataSync() as Float32Array;
        x.dispose();
        y.dispose();
        return result;
      },
    };
  }
  const model = await tf.loadLayersModel(fileHandler(tf, dir, maxBytes));
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new ModelLoadError(`${name}: only single-input, single-output models are served`);
  const { sig: input, batchable } = signatureOf(model.inputs[0]!.shape, model.inputs[0]!.dtype, `${name} input`);
  const { sig: output } = signatureOf(model.outputs[0]!.shape, model.outputs[0]!.dtype, `${name} output`);
  const denseStack = input.dtype === 'float32' ? compileDenseStack(tf, model) : undefined;
  return {
    name, format: 'layers-model', input, output, batchable, parameters: model.countParams(),
    metadata: model.getUserDefinedMetadata() as Record<string, unknown> | undefined,
    denseStack,
    layers: model,
    run(data, rows) {
      if (denseStack) return denseStack.run(data as Float32Array, rows);
      const x = tf.tensor(data, [rows, ...input.shape], input.dtype as 'float32');
      const y = model.predict(x) as TF.Tensor;
      const result = y.dataSync() as Float32Array;
      x.dispose();
      y.dispose();
      return result;
    },
  };
}

export class ModelRegistry {
  readonly #models = new Map<string, RegisteredModel>();

  /** Loads every model folder under `dir`; a folder that fails to load is logged and skipped. */
  static async load(tf: Tf, dir: string, options: ModelRegistryOptions = {}): Promise<ModelRegistry> {
    const log = options.log ?? ((line: string) => logger.info(line));
    const registry = new ModelRegistry();
    if (!existsSync(dir)) {
      log(`model directory ${dir} does not exist; serving no models`);
      return registry;
    }
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const folder = join(dir, entry.name);
      if (!entry.isDirectory() || !existsSync(join(folder, 'model.json'))) continue;
      try {
        const model = await loadOne(tf, entry.name, folder, options.maxModelBytes ?? 64 << 20);
        registry.#models.set(model.name, model);
        log(`model ${model.name}: ${model.format}, input [${model.input.shape}] ${model.input.dtype} → [${model.output.shape}]${model.denseStack ? ', dense fast path' : ''}`);
      } catch (err) {
        log(`model ${entry.name} skipped: ${(err as Error).message}`);
      }
    }
    return registry;
  }

  get names(): string[] {
    return [...this.#models.keys()];
  }

  get(name: string): RegisteredModel | undefined {
    return this.#models.get(name);
  }

  describe(): Record<string, unknown>[] {
    return [...this.#models.values()].map((m) => ({
      name: m.name,
      format: m.format,
      input: { shape: m.input.shape, dtype: m.input.dtype },
      output: { shape: m.output.shape, dtype: m.output.dtype },
      parameters: m.parameters,
      fastPath: m.denseStack ? 'dense-stack' : 'model.predict',
    }));
  }

  dispose(): void {
    for (const m of this.#models.values()) {
      m.denseStack?.dispose();
      m.layers?.dispose();
    }
    this.#models.clear();
  }
}
