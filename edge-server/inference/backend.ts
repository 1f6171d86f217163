/**
 * Picks the fastest tfjs backend that loads here: the native `tensorflow` binding of
 * @tensorflow/tfjs-node, else `wasm` (@tensorflow/tfjs-backend-wasm, binary inside its npm package),
 * else the pure-JS `cpu` backend. What was tried and why it failed is kept for logs and /healthz.
 *
 * Everything is loaded through one `require` so tfjs-node, the wasm backend and @tensorflow/tfjs
 * share a single tfjs-core engine: a process can then switch backends (the latency bench does).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import { Logger } from '../../protocol/Logger.js';
import { requireOptional } from '../../protocol/server/optionalPackages.js';

/** Startup facts (backend, models, predictors) unless the caller passes its own `log`. */
const logger = new Logger('inference');

export type Tf = typeof TF;
export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendAttempt {
  backend: BackendName;
  ok: boolean;
  error?: string;
}

export interface TfRuntime {
  readonly tf: Tf;
  readonly backend: BackendName;
  readonly attempts: readonly BackendAttempt[];
  /** For /healthz: backend, versions, and why faster backends were skipped. */
  describe(): Record<string, unknown>;
}

export interface LoadBackendOptions {
  /** Order to try; default tensorflow → wasm → cpu. Env `EDGE_TF_BACKEND` picks one (tests, bench). */
  prefer?: readonly BackendName[];
  log?: (line: string) => void;
}

const require = createRequire(import.meta.url);
let runtime: Promise<TfRuntime> | undefined;

/** Loads once per process; later calls with other preferences get the first result. */
export function loadTfBackend(options: LoadBackendOptions = {}): Promise<TfRuntime> {
  runtime ??= load(options);
  return runtime;
}

/** Loads a backend's package and registers it (without switching to it); throws when it cannot. */
export async function registerBackend(tf: Tf, backend: BackendName): Promise<void> {
  if (tf.findBackend(backend)) return;
  if (backend === 'tensorflow') {
    // libtensorflow logs every op placement on stderr unless told otherwise
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    requireOptional(require, '@tensorflow/tfjs-node', 'the native tfjs backend');
  } else if (backend === 'wasm') {
    const wasm = requireOptional<typeof import('@tensorflow/tfjs-backend-wasm')>(require, '@tensorflow/tfjs-backend-wasm', 'the wasm tfjs backend');
    // in Node the emscripten loader reads the .wasm from disk; point it at the package's dist/
    wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
  }
  // `cpu` ships with @tensorflow/tfjs itself
}

async function load(options: LoadBackendOptions): Promise<TfRuntime> {
  const log = options.log ?? ((line: string) => logger.info(line));
  const forced = process.env.EDGE_TF_BACKEND as BackendName | undefined;
  const order = forced && BACKENDS.includes(forced) ? [forced] : (options.prefer ?? BACKENDS);
  const tf = requireOptional<Tf>(require, '@tensorflow/tfjs', 'motion inference (edge-offload edge without --no-inference)');
  const attempts: BackendAttempt[] = [];
  for (const backend of order) {
    try {
      await registerBackend(tf, backend);
      if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') returned false`);
      await tf.ready();
      attempts.push({ backend, ok: true });
      const skipped = attempts.filter((a) => !a.ok).map((a) => `${a.backend} (${a.error})`);
      log(`tfjs backend: ${backend}${skipped.length ? `; unavailable: ${skipped.join('; ')}` : ''}`);
      if (backend !== 'tensorflow' && !skipped.length) log('tfjs backend chosen by EDGE_TF_BACKEND or options');
      if (skipped.some((s) => s.startsWith('tensorflow'))) log('native tfjs-node binding not loadable; for the fast backend run `npm rebuild @tensorflow/tfjs-node --foreground-scripts` (downloads libtensorflow; offline: scripts/install-tfjs-node.sh in a clone of the repository)');
      return {
        tf,
        backend,
        attempts,
        describe: () => ({ backend, version: tf.version.tfjs, attempts: attempts.map((a) => ({ ...a })) }),
      };
    } catch (err) {
      attempts.push({ backend, ok: false, error: (err as Error).message.split('\n')[0]!.slice(0, 200) });
    }
  }
  throw new Error(`no tfjs backend could be loaded: ${attempts.map((a) => `${a.backend}: ${a.error}`).join('; ')}`);
}
