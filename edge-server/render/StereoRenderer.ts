/**
 * Renders one scene from a head pose for the left eye, the right eye, or both side by side
 * (left half | right half), then reads the pixels back from the GPU.
 *
 * Eye convention: each eye sits ±ipd/2 along the head's local x axis (the head's right), looking
 * down the head's local −z with the head's orientation (WebXR). Projection is symmetric with the
 * client's vertical FOV and the per-eye aspect width/height.
 *
 * One instance owns one three.js WebGPURenderer on one Dawn device; calls must not overlap (the
 * engine serialises them).
 */
import { LinearSRGBColorSpace, PerspectiveCamera, WebGPURenderer, type Scene } from 'three/webgpu';
import type { CameraParams, Eye, PoseSample, Vec3 } from '../../protocol/index.js';
import { quaternion } from '../../protocol/index.js';
import type { GpuContext } from './gpu.js';
import { CanvasStandIn, FrameClock, installWebGpuGlobals } from './shims.js';

export const DEFAULT_NEAR = 0.05;
/** The frame texture's format: sRGB-encoding on store, RGBA byte order on read-back. */
export const CANVAS_FORMAT: GPUTextureFormat = 'rgba8unorm-srgb';
export const DEFAULT_FAR = 200;

export type PixelOrder = 'rgba' | 'bgra';

export interface RenderedPixels {
  /** Tightly packed rows, top row first, 4 bytes per pixel in `order`. */
  pixels: Uint8Array;
  width: number;
  height: number;
  order: PixelOrder;
  /** Issuing the draw calls and waiting for the GPU to finish them. */
  renderMs: number;
  /** Copying the frame to a mappable buffer and mapping it. */
  readbackMs: number;
}

/** Where one eye is, in world space: head position + R(head) · (±ipd/2, 0, 0). */
export function eyePosition(pose: Pick<PoseSample, 'position' | 'orientation'>, ipd: number, eye: 'left' | 'right'): Vec3 {
  const offset = quaternion.rotate(quaternion.normalize(pose.orientation), [eye === 'left' ? -ipd / 2 : ipd / 2, 0, 0]);
  return [pose.position[0] + offset[0], pose.position[1] + offset[1], pose.position[2] + offset[2]];
}

const align = (n: number, to: number) => Math.ceil(n / to) * to;

export class StereoRenderer {
  readonly #gpu: GpuContext;
  readonly #renderer: WebGPURenderer;
  readonly #canvas: CanvasStandIn;
  readonly #clock = new FrameClock();
  readonly #camera = new PerspectiveCamera();
  #readBuffer: GPUBuffer | null = null;
  #closed = false;

  private constructor(gpu: GpuContext, renderer: WebGPURenderer, canvas: CanvasStandIn) {
    this.#gpu = gpu;
    this.#renderer = renderer;
    this.#canvas = canvas;
  }

  static async create(gpu: GpuContext): Promise<StereoRenderer> {
    installWebGpuGlobals();
    const canvas = new CanvasStandIn(gpu.device);
    const renderer = new WebGPURenderer({
      canvas: canvas as unknown as HTMLCanvasElement,
      context: canvas.context,
      device: gpu.device,
      antialias: false,
      alpha: false,
    } as ConstructorParameters<typeof WebGPURenderer>[0]);
    // Output straight into an sRGB texture: the GPU encodes linear → sRGB on store, so three needs
    // neither its intermediate half-float framebuffer nor the extra colour-space pass it adds when
    // outputColorSpace differs from the working space (that pass cost ~40 of ~45 ms per 2×640²
    // frame on llvmpipe). RGBA order also spares the encoder a channel swap. three reads the canvas
    // format from navigator.gpu once and caches it in its backend utils; we set the cache instead
    // (private field, per renderer, so no navigator global is needed).
    (renderer.backend as unknown as { utils: { _preferredCanvasFormat: GPUTextureFormat | null } }).utils._preferredCanvasFormat =
      CANVAS_FORMAT;
    renderer.outputColorSpace = LinearSRGBColorSpace;
    await renderer.init();
    const stereo = new StereoRenderer(gpu, renderer, canvas);
    // three drives its frame bookkeeping from requestAnimationFrame (private `_animation`, set up by
    // init()); we hand it our clock and tick it once per frame.
    (renderer as unknown as { _animation: { setContext(context: unknown): void } })._animation.setContext(stereo.#clock);
    return stereo;
  }

  /** Renders `scene` at `pose`. `eye: 'both'` gives a 2·width × height side-by-side image. */
  async render(scene: Scene, pose: PoseSample, camera: CameraParams, eye: Eye): Promise<RenderedPixels> {
    if (this.#closed) throw new Error('StereoRenderer is closed');
    const eyes: ('left' | 'right')[] = eye === 'both' ? ['left', 'right'] : [eye];
    const { width, height } = camera;
    const fullWidth = width * eyes.length;
    const renderer = this.#renderer;
    const started = performance.now();

    if (this.#canvas.width !== fullWidth || this.#canvas.height !== height) renderer.setSize(fullWidth, height, false);
    this.#clock.tick();
    const cam = this.#camera;
    cam.fov = camera.fovY;
    cam.aspect = width / height;
    cam.near = camera.near ?? DEFAULT_NEAR;
    cam.far = camera.far ?? DEFAULT_FAR;
    cam.updateProjectionMatrix();
    const orientation = quaternion.normalize(pose.orientation);
    cam.quaternion.set(orientation[0], orientation[1], orientation[2], orientation[3]);
    renderer.setScissorTest(eyes.length > 1);
    eyes.forEach((which, i) => {
      const [x, y, z] = eyePosition(pose, camera.ipd, which);
      cam.position.set(x, y, z);
      cam.updateMatrixWorld(true);
      // A render pass clears the whole attachment, not the viewport: clear colour for the first eye
      // only, so the second keeps the first's half (depth is cleared for each eye, as it must be).
      renderer.autoClearColor = i === 0;
      renderer.setViewport(i * width, 0, width, height);
      renderer.setScissor(i * width, 0, width, height);
      renderer.render(scene, cam);
    });
    await this.#gpu.device.queue.onSubmittedWorkDone();
    const rendered = performance.now();

    const pixels = await this.#readback(fullWidth, height);
    const done = performance.now();
    return {
      pixels,
      width: fullWidth,
      height,
      order: this.#canvas.format.startsWith('bgra') ? 'bgra' : 'rgba',
      renderMs: rendered - started,
      readbackMs: done - rendered,
    };
  }

  async #readback(width: number, height: number): Promise<Uint8Array> {
    const device = this.#gpu.device;
    // copyTextureToBuffer wants rows padded to 256 bytes.
    const bytesPerRow = align(width * 4, 256);
    const size = bytesPerRow * height;
    if (!this.#readBuffer || this.#readBuffer.size < size) {
      this.#readBuffer?.destroy();
      this.#readBuffer = device.createBuffer({ label: 'frame readback', size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    }
    const buffer = this.#readBuffer;
    const encoder = device.createCommandEncoder();
    encoder.copyTextureToBuffer({ texture: this.#canvas.currentTexture() }, { buffer, bytesPerRow }, [width, height]);
    device.queue.submit([encoder.finish()]);
    await buffer.mapAsync(GPUMapMode.READ, 0, size);
    const mapped = new Uint8Array(buffer.getMappedRange(0, size));
    const rowBytes = width * 4;
    const out = new Uint8Array(rowBytes * height);
    if (bytesPerRow === rowBytes) out.set(mapped);
    else for (let y = 0; y < height; y++) out.set(mapped.subarray(y * bytesPerRow, y * bytesPerRow + rowBytes), y * rowBytes);
    buffer.unmap();
    return out;
  }

  describe(): Record<string, unknown> {
    return { renderer: 'three.js WebGPURenderer', frameFormat: CANVAS_FORMAT };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#renderer.dispose();
    this.#readBuffer?.destroy();
    this.#canvas.destroy();
  }
}
