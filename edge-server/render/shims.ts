/**
 * The few browser pieces three.js's WebGPURenderer expects, provided for Node. Kept to the minimum
 * and kept out of the global scope wherever three lets us pass them in:
 *
 * - The WebGPU interface globals a browser has (`GPUBufferUsage`, `GPUTextureUsage`, `GPUMapMode`…
 *   flag enums, and classes such as `GPURenderBundleEncoder` that three tests with `instanceof`):
 *   taken from the `webgpu` package's `globals` and installed only where missing, so a runtime that
 *   has its own keeps them. These are the only globals we add; none of them is `navigator`/`self`/`document`.
 * - `navigator.gpu`: not needed: we hand three the device, and StereoRenderer presets the canvas
 *   format three would otherwise ask `navigator.gpu.getPreferredCanvasFormat()` for.
 * - A canvas and its `webgpu` context: `CanvasStandIn` below; `getCurrentTexture()` returns a texture we
 *   own and read back instead of presenting.
 * - `requestAnimationFrame`: three's renderer runs an internal frame loop on it (node frame ids, info
 *   resets). `FrameClock` hands that loop one tick per rendered frame, so nothing runs between frames
 *   and no timer keeps the process alive.
 */
import { globals } from 'webgpu';

/** Installs the WebGPU interface globals (flag enums, classes) three reads, where missing. Idempotent. */
export function installWebGpuGlobals(): void {
  const source = globals as Record<string, unknown>;
  const target = globalThis as Record<string, unknown>;
  for (const name of Object.keys(source)) {
    if (name.startsWith('GPU') && target[name] === undefined) target[name] = source[name];
  }
}

/** Stands in for `requestAnimationFrame` on one renderer: the callback runs when we `tick()`. */
export class FrameClock {
  #callback: ((time: number) => void) | null = null;
  #nextId = 1;

  requestAnimationFrame(callback: (time: number) => void): number {
    this.#callback = callback;
    return this.#nextId++;
  }

  cancelAnimationFrame(): void {
    this.#callback = null;
  }

  /** Advances three's frame loop once; call before rendering a new frame. */
  tick(): void {
    const callback = this.#callback;
    this.#callback = null;
    callback?.(performance.now());
  }
}

/**
 * What three's WebGPU backend uses of an HTMLCanvasElement and its GPUCanvasContext. The "current
 * texture" is a plain texture sized to the canvas, with COPY_SRC so the frame can be read back.
 */
export class CanvasStandIn {
  width = 1;
  height = 1;
  readonly style: Record<string, string> = {};
  readonly #device: GPUDevice;
  #configuration: GPUCanvasConfiguration | null = null;
  #texture: GPUTexture | null = null;
  readonly context: {
    configure: (configuration: GPUCanvasConfiguration) => void;
    unconfigure: () => void;
    getCurrentTexture: () => GPUTexture;
  };

  constructor(device: GPUDevice) {
    this.#device = device;
    this.context = {
      configure: (configuration) => {
        this.#configuration = configuration;
        this.#dropTexture();
      },
      unconfigure: () => {
        this.#configuration = null;
        this.#dropTexture();
      },
      getCurrentTexture: () => this.currentTexture(),
    };
  }

  getContext(kind: string): unknown {
    return kind === 'webgpu' ? this.context : null;
  }

  addEventListener(): void {}
  removeEventListener(): void {}

  /** The texture format three configured. */
  get format(): GPUTextureFormat {
    if (!this.#configuration) throw new Error('canvas context not configured yet');
    return this.#configuration.format;
  }

  currentTexture(): GPUTexture {
    const configuration = this.#configuration;
    if (!configuration) throw new Error('canvas context not configured yet');
    const texture = this.#texture;
    if (texture && texture.width === this.width && texture.height === this.height) return texture;
    this.#dropTexture();
    this.#texture = this.#device.createTexture({
      label: 'edge-offload frame',
      size: [this.width, this.height],
      format: configuration.format,
      usage: (configuration.usage ?? GPUTextureUsage.RENDER_ATTACHMENT) | GPUTextureUsage.COPY_SRC,
    });
    return this.#texture;
  }

  #dropTexture(): void {
    this.#texture?.destroy();
    this.#texture = null;
  }

  destroy(): void {
    this.#dropTexture();
  }
}
