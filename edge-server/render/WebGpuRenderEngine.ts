/**
 * The edge's RenderEngine: three.js on WebGPU (Dawn), stereo frames at the pose the client asks for,
 * encoded with sharp. Composition only: gpu.ts opens the device, SceneStore holds scenes,
 * StereoRenderer draws and reads back, RenderQueue shares the GPU fairly between sessions (each
 * session paces its own requests newest-wins in session/SessionRender.ts), encode.ts compresses.
 *
 * The GPU stage (render + readback) runs one request at a time through the RenderQueue; encoding
 * runs after it, off the JS thread in libvips, so the next frame renders while this one encodes.
 */
import { DEFAULT_LIMITS, ErrorCode, InvalidStateError, Logger, quaternion, RequestError, type RenderMessage } from '../../protocol/index.js';
import type { RenderedFrame, RenderEngine } from '../engines.js';
import { encodeFrame, type EncodeOptions } from './encode.js';
import { createGpu, type GpuContext, type GpuOptions } from './gpu.js';
import type { SceneLimits } from './glb.js';
import { RenderQueue, type RenderQueueOptions } from './RenderQueue.js';
import { SceneStore } from './SceneStore.js';
import { StereoRenderer, type RenderedPixels } from './StereoRenderer.js';

const logger = new Logger('render');

export interface WebGpuRenderEngineOptions extends RenderQueueOptions {
  gpu?: GpuOptions;
  scenes?: Partial<SceneLimits>;
  encode?: EncodeOptions;
  /** Largest eye width or height in pixels a request may ask for. Default 2048. */
  maxEyeSize?: number;
  /**
   * Largest encoded frame, bytes. Default the wire's `maxFrameBytes` (1 MiB): a `frame` message
   * over it could not be sent. Raw requests over it are refused before rendering.
   */
  maxFrameBytes?: number;
}

export const DEFAULT_MAX_EYE_SIZE = 2048;

export class WebGpuRenderEngine implements RenderEngine {
  readonly #gpu: GpuContext;
  readonly #stereo: StereoRenderer;
  readonly #scenes: SceneStore;
  readonly #queue: RenderQueue<RenderedPixels>;
  readonly #encode: EncodeOptions;
  readonly #maxEyeSize: number;
  readonly #maxFrameBytes: number;
  #closed = false;
  #frames = 0;

  private constructor(gpu: GpuContext, stereo: StereoRenderer, options: WebGpuRenderEngineOptions) {
    this.#gpu = gpu;
    this.#stereo = stereo;
    this.#scenes = new SceneStore(options.scenes);
    this.#queue = new RenderQueue(options);
    this.#encode = options.encode ?? {};
    this.#maxEyeSize = options.maxEyeSize ?? DEFAULT_MAX_EYE_SIZE;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes;
  }

  /** Opens the GPU and warms the built-in scene. Rejects with GpuUnavailableError (install hint) without a GPU stack. */
  static async create(options: WebGpuRenderEngineOptions = {}): Promise<WebGpuRenderEngine> {
    const gpu = await createGpu(options.gpu);
    try {
      const stereo = await StereoRenderer.create(gpu);
      const engine = new WebGpuRenderEngine(gpu, stereo, options);
      await engine.#scenes.testScene();
      logger.debug('ready: %o', gpu.describe());
      return engine;
    } catch (err) {
      gpu.destroy();
      throw err;
    }
  }

  async render(sessionId: string, request: RenderMessage): Promise<RenderedFrame> {
    if (this.#closed) throw new InvalidStateError('render engine is closed');
    const { camera } = request;
    if (camera.width < 1 || camera.height < 1 || camera.width > this.#maxEyeSize || camera.height > this.#maxEyeSize) {
      throw new RequestError(
        ErrorCode.TOO_LARGE,
        `camera ${camera.width}×${camera.height} is outside 1…${this.#maxEyeSize} px per eye`,
      );
    }
    const eyes = request.eye === 'both' ? 2 : 1;
    if (request.codec === 'raw' && camera.width * camera.height * 4 * eyes > this.#maxFrameBytes) {
      throw new RequestError(
        ErrorCode.TOO_LARGE,
        `a raw ${eyes * camera.width}×${camera.height} frame is over the ${this.#maxFrameBytes}-byte frame limit; ask for jpeg or webp`,
      );
    }
    const pose = { ...request.pose, orientation: quaternion.normalize(request.pose.orientation) };
    // Resolve the scene first: an unknown name is the client's error and should not take a turn.
    const { scene } = await this.#scenes.get(sessionId, request.scene);
    const { result: px, queueMs } = await this.#queue.schedule(sessionId, () =>
      this.#stereo.render(scene, pose, camera, request.eye),
    );
    // h264: the session's video sender encodes; it takes the RGBA pixels, which never go on the socket
    const encoded = await encodeFrame(px.pixels, px.width, px.height, px.order, request.codec === 'h264' ? 'raw' : request.codec, {
      ...this.#encode,
      ...(request.quality !== undefined ? { quality: request.quality } : {}),
    });
    if (request.codec !== 'h264' && encoded.data.byteLength > this.#maxFrameBytes) {
      throw new RequestError(ErrorCode.TOO_LARGE, `encoded frame of ${encoded.data.byteLength} bytes is over the ${this.#maxFrameBytes}-byte limit; lower quality or size`);
    }
    this.#frames++;
    return {
      pose,
      eye: request.eye,
      codec: request.codec,
      width: px.width,
      height: px.height,
      data: encoded.data,
      timings: { queueMs, renderMs: px.renderMs, readbackMs: px.readbackMs, encodeMs: encoded.encodeMs },
    };
  }

  async loadScene(sessionId: string, name: string, glb: Uint8Array): Promise<void> {
    if (this.#closed) throw new InvalidStateError('render engine is closed');
    await this.#scenes.load(sessionId, name, glb);
  }

  releaseSession(sessionId: string): void {
    this.#queue.cancel(sessionId);
    this.#scenes.release(sessionId);
  }

  describe(): Record<string, unknown> {
    return {
      engine: 'webgpu',
      gpu: this.#gpu.describe(),
      ...this.#stereo.describe(),
      queue: { ...this.#queue.stats(), maxWaitingSessions: this.#queue.maxWaitingSessions, maxJobsPerSession: this.#queue.maxJobsPerSession },
      frames: this.#frames,
      sessionsWithScenes: this.#scenes.sessionCount,
      limits: { ...this.#scenes.limits, maxEyeSize: this.#maxEyeSize, maxFrameBytes: this.#maxFrameBytes },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.close();
    this.#scenes.close();
    this.#stereo.close();
    this.#gpu.destroy();
  }
}
