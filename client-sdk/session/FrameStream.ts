/**
 * A stream of rendered frames that follows the head: the app reports poses as often as it likes,
 * the stream keeps one render request in flight and, when it completes, asks for the newest pose
 * reported meanwhile (never a backlog of old ones): protocol/NewestWins, the pacer the edge uses
 * too. Frames arrive as `frame` events with the pose they were rendered at, ready for
 * `reproject.ts` to warp to the display pose.
 *
 * It takes the session's `render(request)` (so it follows the session across failover); no DOM or
 * Node imports.
 */
import { NewestWins } from '../../protocol/NewestWins.js';
import type { CameraParams, Codec, Eye, PoseSample } from '../../protocol/messages.js';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { Frame, RenderRequest } from './SessionBackend.js';

/** `session.render`, bound: `new FrameStream((r) => session.render(r), { … })`. */
export type RenderFn = (request: RenderRequest) => Promise<Frame>;

export interface FrameStreamOptions {
  camera: CameraParams;
  /** Default 'both' (one side-by-side frame per request). */
  eye?: Eye;
  /** Default 'jpeg'. */
  codec?: Codec;
  quality?: number;
  scene?: string;
  /** Clock in ms; default `performance.now`. */
  now?: () => number;
}

export interface FrameTiming {
  requestedAt: number;
  receivedAt: number;
  latencyMs: number;
}

export type FrameStreamEvents = {
  frame: [frame: Frame, timing: FrameTiming];
  /** A request that failed (SUPERSEDED, SLOW_CONSUMER… included); the stream carries on with the next pose. */
  error: [error: Error];
};

export class FrameStream extends EnhancedEventEmitter<FrameStreamEvents> {
  readonly #render: RenderFn;
  readonly #options: FrameStreamOptions;
  readonly #now: () => number;
  readonly #pacer: NewestWins<PoseSample>;
  #frames = 0;
  #errors = 0;

  constructor(render: RenderFn, options: FrameStreamOptions) {
    super();
    this.#render = render;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#pacer = new NewestWins((pose) => this.#renderOne(pose));
  }

  /** Reports the pose to render next (usually the predicted display-time pose). */
  update(pose: PoseSample): void {
    this.#pacer.offer(pose);
  }

  #renderOne(pose: PoseSample): Promise<void> {
    const { camera, eye = 'both', codec = 'jpeg', quality, scene } = this.#options;
    const requestedAt = this.#now();
    return this.#render({ pose, eye, camera, codec, ...(quality !== undefined ? { quality } : {}), ...(scene !== undefined ? { scene } : {}) }).then(
      (frame) => {
        if (this.closed) return;
        this.#frames++;
        const receivedAt = this.#now();
        // a throwing listener is reported through `listenererror` and does not stop the stream
        this.safeEmit('frame', frame, { requestedAt, receivedAt, latencyMs: receivedAt - requestedAt });
      },
      (error: Error) => {
        if (this.closed) return;
        this.#errors++;
        this.safeEmit('error', error);
      },
    );
  }

  get stats(): { frames: number; errors: number; inFlight: boolean } {
    return { frames: this.#frames, errors: this.#errors, inFlight: this.#pacer.busy };
  }

  get closed(): boolean {
    return this.#pacer.closed;
  }

  /** Stops asking for frames; a frame still in flight is discarded. */
  close(): void {
    this.#pacer.close();
  }
}
