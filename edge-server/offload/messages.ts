/**
 * What the event loop and the heavy workers (HeavyPool.ts, heavyWorker.ts) say to each other over
 * `postMessage`, and how errors cross it: a RequestError stays a RequestError with its `code`, so
 * a session answers a render or infer that failed in a worker exactly as one that failed in-process.
 *
 * Byte payloads (tensors, uploaded scenes, encoded frames) travel in the transfer list, never
 * copied by structured clone. A view into a larger buffer (a ws frame holding several messages, a
 * pooled Buffer) is first copied once into its own buffer: transferring the shared one would detach
 * bytes someone else still reads, and cloning it would copy the whole buffer. A received `infer`
 * frame in a buffer of its own (`handOverFrame`) goes whole instead, without a copy.
 *
 * Why that matters more than the copy (issue #15, attack 4b): V8 counts every ArrayBuffer on the
 * event loop as external memory and starts a major GC once what was allocated since the last one
 * eats the old generation's headroom; a buffer transferred away is uncounted at once. Copied, the
 * frame's 78 kB stayed counted until a GC found it dead (the copy was uncounted when it left): a
 * major GC every few hundred ms under two infer hogs, each holding the loop up to ~20 ms
 * (edge-server/README.md).
 */
import { CloseCode, ErrorCode, InvalidStateError, ProtocolError, RequestError, type RenderMessage, type Tensor } from '../../protocol/index.js';
import type { RenderedFrame } from '../engines.js';
import type { LoadInferenceOptions } from '../inference/index.js';
import type { WebGpuRenderEngineOptions } from '../render/index.js';

/** What a worker builds at start; plain data (it crosses `workerData`). */
export interface HeavyWorkerSpec {
  /** Load the tfjs models (`loadInference`) and serve `infer`. */
  inference?: Omit<LoadInferenceOptions, 'log'>;
  /** Open a GPU device (`WebGpuRenderEngine.create`) and serve `render` and scene uploads. */
  render?: WebGpuRenderEngineOptions;
  /** Nice value of the worker thread (Linux: per thread, inherited by the threads it starts). */
  niceness: number;
}

export type WorkerRequest =
  | { t: 'infer'; id: number; model: string; input: Tensor }
  | { t: 'render'; id: number; session: string; request: RenderMessage }
  | { t: 'scene'; id: number; session: string; name: string; glb: Uint8Array }
  | { t: 'release'; session: string }
  /** Close the engines and end the thread. */
  | { t: 'close' };

export type WorkerReply =
  | { t: 'ready'; models: string[]; inference: Record<string, unknown> | null; render: Record<string, unknown> | null }
  | { t: 'failed'; error: WireError }
  | { t: 'done'; id: number; value: Tensor | RenderedFrame | null }
  | { t: 'error'; id: number; error: WireError };

export interface WireError {
  name: string;
  message: string;
  code?: string;
  closeCode?: number;
}

export function toWireError(err: unknown): WireError {
  const e = err as { name?: unknown; message?: unknown; code?: unknown; closeCode?: unknown; stack?: unknown };
  const wire: WireError = { name: String(e?.name ?? 'Error'), message: String(e?.message ?? err) };
  if (typeof e?.code === 'string') wire.code = e.code;
  if (typeof e?.closeCode === 'number') wire.closeCode = e.closeCode;
  // an unexpected error is logged by the session: keep where it came from
  if (!(err instanceof RequestError) && typeof e?.stack === 'string') wire.message = e.stack;
  return wire;
}

export function fromWireError(wire: WireError): Error {
  const code = wire.code as ErrorCode;
  if (wire.name === 'RequestError' && code) return new RequestError(code, wire.message);
  if (wire.name === 'ProtocolError' && code) return new ProtocolError(code, wire.message, (wire.closeCode ?? CloseCode.PROTOCOL) as CloseCode);
  if (wire.name === 'InvalidStateError') return new InvalidStateError(wire.message);
  const err = new Error(`in a heavy worker: ${wire.message}`);
  if (wire.code) Object.assign(err, { code: wire.code });
  return err;
}

/**
 * Received frames whose buffer nothing reads once their message is handled (the session marks an
 * `infer` frame that `ws` handed over whole); weak: a frame whose request never reaches a worker
 * (refused, answered in-process) leaves nothing behind.
 */
const handedOver = new WeakSet<ArrayBuffer>();

/**
 * The session is done with `frame` once its message is handled, and `ws` let go of it: when it
 * spans a buffer of its own, a tensor decoded from it (a view into it) may move to a worker with
 * that whole buffer instead of a copy. A frame sharing its buffer (with the next frame in a socket
 * read, or in Node's Buffer pool) is not marked and is copied as before.
 */
export function handOverFrame(frame: Uint8Array): void {
  if (frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength && frame.buffer instanceof ArrayBuffer) handedOver.add(frame.buffer);
}

/**
 * `bytes` in a buffer of their own (copied once when they are a view into a larger one), for the
 * transfer list: for bytes this thread made and will not touch again (a worker's answer), never a caller's.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes;
  return Uint8Array.prototype.slice.call(bytes);
}

/**
 * The tensor with its bytes in a buffer that may be transferred; `transfer` gets that buffer: the
 * handed-over frame the bytes are a view into (once: the transfer detaches it), else a copy. Never
 * the caller's own buffer, even one the bytes fill: the transfer would detach it under the caller,
 * and a caller that sent the same tensor again sent a detached buffer (see HeavyPool's send).
 */
export function transferableTensor(tensor: Tensor, transfer: ArrayBuffer[]): Tensor {
  const frame = tensor.data.buffer as ArrayBuffer;
  if (handedOver.delete(frame)) {
    transfer.push(frame);
    return { dtype: tensor.dtype, shape: tensor.shape, data: tensor.data };
  }
  const data = copiedBytes(tensor.data);
  transfer.push(data.buffer as ArrayBuffer);
  return { dtype: tensor.dtype, shape: tensor.shape, data };
}

/** A copy of `bytes` in a buffer of its own: what a caller passed may be moved to a worker without taking it from them. */
export function copiedBytes(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes) as Uint8Array;
}
