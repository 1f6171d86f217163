/**
 * Tensors on the wire are raw little-endian bytes + dtype + shape. These helpers convert to and
 * from typed arrays and check that shape, dtype and byte length agree.
 */
import { ErrorCode, RequestError } from './errors.js';
import type { DType, Tensor } from './messages.js';

export type TypedArrayOf<D extends DType> = D extends 'float32' ? Float32Array : D extends 'int32' ? Int32Array : Uint8Array;
const BYTES_PER_ELEMENT: Record<DType, number> = { float32: 4, int32: 4, uint8: 1 };

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function toWireTensor(data: Float32Array | Int32Array | Uint8Array, shape: readonly number[]): Tensor {
  const dtype: DType = data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'uint8';
  if (elementCount(shape) !== data.length) throw new TypeError(`tensor shape [${shape}] does not hold ${data.length} elements`);
  return { dtype, shape: [...shape], data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Typed-array view of a wire tensor; copies only when the bytes are misaligned. */
export function fromWireTensor(tensor: Tensor, maxElements = Infinity): Float32Array | Int32Array | Uint8Array {
  const count = elementCount(tensor.shape);
  if (count > maxElements) throw new RequestError(ErrorCode.TOO_LARGE, `tensor has ${count} elements, more than ${maxElements}`);
  const width = BYTES_PER_ELEMENT[tensor.dtype];
  if (tensor.data.byteLength !== count * width) {
    throw new RequestError(ErrorCode.BAD_REQUEST, `tensor of shape [${tensor.shape}] ${tensor.dtype} needs ${count * width} bytes, got ${tensor.data.byteLength}`);
  }
  if (tensor.dtype === 'uint8') return tensor.data;
  // Uint8Array.prototype.slice copies; Buffer#slice (what ws/msgpackr hand us in Node) would not
  const aligned = tensor.data.byteOffset % width === 0 ? tensor.data : Uint8Array.prototype.slice.call(tensor.data);
  return tensor.dtype === 'float32'
    ? new Float32Array(aligned.buffer, aligned.byteOffset, count)
    : new Int32Array(aligned.buffer, aligned.byteOffset, count);
}
