/**
 * An edge that renders (WebGPU on Mesa llvmpipe) and speaks WebRTC with video (one mediasoup
 * worker, ffmpeg): what the video test and `bench webrtc-video` connect to. Closing it waits
 * for the worker process to exit.
 */
import { EdgeServer, type EdgeServerOptions } from '../../edge-server/index.js';
import { WebGpuRenderEngine } from '../../edge-server/render/WebGpuRenderEngine.js';
import { WorkerPool } from '../../edge-server/webrtc/WorkerPool.js';
import type { VideoOptions } from '../../edge-server/webrtc/video/videoOptions.js';
import type { WebRtcOptions } from '../../edge-server/webrtc/options.js';
import { processAlive } from './processAlive.js';

export class WebRtcEngineHost {
  readonly url: string;
  readonly edge: EdgeServer;
  readonly pool: WorkerPool;
  readonly #pids: number[];

  /** `video: false`: WebRTC data channels but no video track (a node without ffmpeg). */
  static async start(video: VideoOptions | false = {}, webrtc: Omit<WebRtcOptions, 'video'> = {}, node: Pick<EdgeServerOptions, 'nodeId' | 'tier'> = {}): Promise<WebRtcEngineHost> {
    const renderer = await WebGpuRenderEngine.create({});
    let pool: WorkerPool | undefined;
    try {
      pool = await WorkerPool.create({ workers: 1, ...webrtc, video });
      const edge = new EdgeServer({ ...node, renderer, webrtc: pool });
      const { url } = await edge.listen();
      return new WebRtcEngineHost(url, edge, pool);
    } catch (err) {
      pool?.close();
      await renderer.close();
      throw err;
    }
  }

  private constructor(url: string, edge: EdgeServer, pool: WorkerPool) {
    this.url = url;
    this.edge = edge;
    this.pool = pool;
    this.#pids = pool.workers.map((w) => w.pid);
  }

  async close(): Promise<void> {
    await this.edge.close({ deadlineMs: 0 });
    // the worker exits (and is reaped) a moment after close(): wait, so nothing is left behind
    const deadline = performance.now() + 10_000;
    while (this.#pids.some(processAlive)) {
      if (performance.now() > deadline) throw new Error(`media worker ${this.#pids.join(', ')} still running 10 s after close`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
