/**
 * A heavy worker thread (HeavyPool.ts starts them): it builds the real engines — tfjs `infer`, the
 * WebGPU renderer on Dawn — from its `HeavyWorkerSpec` and serves the pool's requests, so a
 * 2048² render or a 1024-row infer batch never holds the node's event loop, where every session's
 * predict is answered.
 *
 * The thread lowers its own priority first (`niceness`; on Linux a thread's nice value is its own
 * and the threads it starts — llvmpipe's, TensorFlow's — inherit it), so on a core shared with the
 * event loop a predict that arrives mid-render gets the CPU at once; libvips' threads (sharp's
 * JPEG encode), which it does not start, are reniced after each job (helperThreads.ts).
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { importOptional } from '../../protocol/server/optionalPackages.js';
import type { InferenceEngine, RenderEngine } from '../engines.js';
import { HelperThreads } from './helperThreads.js';
import { toWireError, ownBytes, type HeavyWorkerSpec, type WorkerReply, type WorkerRequest } from './messages.js';

const port = parentPort;
if (!port) throw new Error('heavyWorker.js runs as a worker thread of HeavyPool, not on its own');
const spec = workerData as HeavyWorkerSpec;
// sharp's encode/decode threads are not this thread's children: reniced as they appear
const helpers = new HelperThreads(spec.niceness);

function post(reply: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(reply, transfer);
}

async function start(): Promise<{ inference?: InferenceEngine; renderer?: RenderEngine }> {
  try {
    if (spec.niceness !== 0) setPriority(spec.niceness);
  } catch {
    // not permitted here (some containers): the thread keeps the node's priority
  }
  const engines: { inference?: InferenceEngine; renderer?: RenderEngine } = {};
  if (spec.inference) {
    const { loadInference } = await import('../inference/index.js');
    const loaded = await loadInference({ ...spec.inference, log: () => {} });
    // tfjs-node in a worker thread: if the thread ends before the native backend ran a single op,
    // the process segfaults when it exits (tfjs-node 4.22, seen on every run); one op at start avoids it
    loaded.runtime.tf.tidy(() => loaded.runtime.tf.scalar(1).square().dataSync());
    engines.inference = loaded.engine;
  }
  if (spec.render) {
    const { WebGpuRenderEngine } = await importOptional('edge-offload edge --render', () => import('../render/index.js'));
    engines.renderer = await WebGpuRenderEngine.create(spec.render);
  }
  return engines;
}

async function serve(request: WorkerRequest, engines: { inference?: InferenceEngine; renderer?: RenderEngine }): Promise<void> {
  if (request.t === 'release') return void engines.renderer?.releaseSession(request.session);
  if (request.t === 'close') {
    await Promise.allSettled([engines.inference?.close(), engines.renderer?.close()]);
    return process.exit(0); // in a worker thread: ends this thread only
  }
  try {
    const transfer: ArrayBuffer[] = [];
    if (request.t === 'infer') {
      if (!engines.inference) throw new Error('this worker runs no inference engine');
      const output = await engines.inference.infer(request.model, request.input);
      helpers.apply();
      // the engine's own answer, not touched again here: moved, not copied
      const data = ownBytes(output.data);
      transfer.push(data.buffer as ArrayBuffer);
      post({ t: 'done', id: request.id, value: { dtype: output.dtype, shape: output.shape, data } }, transfer);
    } else if (request.t === 'render') {
      if (!engines.renderer) throw new Error('this worker runs no renderer');
      const frame = await engines.renderer.render(request.session, request.request);
      // before the answer goes: threads this job started run reniced from the next job on
      helpers.apply();
      const data = ownBytes(frame.data);
      transfer.push(data.buffer as ArrayBuffer);
      post({ t: 'done', id: request.id, value: { ...frame, data } }, transfer);
    } else {
      if (!engines.renderer) throw new Error('this worker runs no renderer');
      await engines.renderer.loadScene(request.session, request.name, request.glb);
      helpers.apply();
      post({ t: 'done', id: request.id, value: null });
    }
  } catch (err) {
    helpers.apply();
    post({ t: 'error', id: request.id, error: toWireError(err) });
  }
}

try {
  const engines = await start();
  port.on('message', (request: WorkerRequest) => void serve(request, engines));
  post({ t: 'ready', models: [...(engines.inference?.models ?? [])], inference: engines.inference?.describe() ?? null, render: engines.renderer?.describe() ?? null });
} catch (err) {
  post({ t: 'failed', error: toWireError(err) });
}
