/**
 * A stream of rendered frames that follows the head: the app reports poses as often as it likes,
 * the stream keeps one render request in flight and, when it completes, asks for the newest pose
 * reported meanwhile (never a backlog of old ones). Frames arrive through `onFrame` with the pose
 * they were rendered at, ready for `reproject.ts` to warp to the display pose.
 *
 * It takes the session's `render(request)` (so it follows the session across failover); no DOM or
 * Node imports.
 */
import type { CameraParams, Codec, Eye, PoseSample } from '../../protocol/messages.js';
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
  onFrame: (frame: Frame, info: { requestedAt: number; receivedAt: number; latencyMs: number }) => void;
  /** A request that failed (SUPERSEDED, SLOW_CONSUMER… included); the stream carries on with the next pose. */
  onError?: (error: Error) => void;
  /** Clock in ms; default `performance.now`. */
  now?: () => number;
}

export class FrameStream {
  readonly #render: RenderFn;
  readonly #options: FrameStreamOptions;
  readonly #now: () => number;
  #latest: PoseSample | null = null;
  #inFlight = false;
  #closed = false;
  #frames = 0;
  #errors = 0;

  constructor(render: RenderFn, options: FrameStreamOptions) {
    this.#render = render;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Reports the pose to render next (usually the predicted display-time pose). */
  update(pose: PoseSample): void {
    if (this.#closed) return;
    this.#latest = pose;
    if (!this.#inFlight) this.#next();
  }

  #next(): void {
    const pose = this.#latest;
    if (!pose || this.#closed) return;
    this.#latest = null;
    this.#inFlight = true;
    const { camera, eye = 'both', codec = 'jpeg', quality, scene } = this.#options;
    const requestedAt = this.#now();
    this.#render({ pose, eye, camera, codec, ...(quality !== undefined ? { quality } : {}), ...(scene !== undefined ? { scene } : {}) })
      .then(
        (frame) => {
          if (this.#closed) return;
          this.#frames++;
          const receivedAt = this.#now();
          try {
            this.#options.onFrame(frame, { requestedAt, receivedAt, latencyMs: receivedAt - requestedAt });
          } catch (error) {
            this.#report(error as Error); // a throwing listener must not stop the stream
          }
        },
        (error: Error) => {
          if (this.#closed) return;
          this.#errors++;
          this.#report(error);
        },
      )
      .finally(() => {
        this.#inFlight = false;
        this.#next();
      });
  }

  #report(error: Error): void {
    try {
      this.#options.onError?.(error);
    } catch {
      // nothing left to tell
    }
  }

  get stats(): { frames: number; errors: number; inFlight: boolean } {
    return { frames: this.#frames, errors: this.#errors, inFlight: this.#inFlight };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops asking for frames; a frame still in flight is discarded. */
  close(): void {
    this.#closed = true;
    this.#latest = null;
  }
}
