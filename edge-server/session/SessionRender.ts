/**
 * One session's rendering: the scene it uploaded and the newest-wins pacer for its frames.
 *
 * Pacing is `protocol/NewestWins` (the pacer the client's frame stream uses too): at most one
 * render of this session runs and one waits; a newer request replaces the waiting one, which is
 * answered `SUPERSEDED` (a stale frame is worse than none), so a slow client never builds a
 * queue. The GPU's RenderQueue then only has to be fair between sessions.
 */
import { ErrorCode, NewestWins, RequestError, type Message, type RenderMessage } from '../../protocol/index.js';
import type { RenderedFrame, RenderEngine } from '../engines.js';

/** How a render answers: the session's reply paths and its socket backlog. */
export interface RenderOutput {
  answer(id: number, message: Message): void;
  answerError(id: number, err: unknown): void;
  /** Bytes queued on the socket to this client. */
  readonly bufferedAmount: number;
  /** Whether a frame of about `bytes` would be sent now (the send budget's soft cap). */
  canTake(bytes: number): boolean;
  /** Runs CPU-heavy work in this session's fair turn. */
  heavy<T>(kind: 'render' | 'scene', job: () => Promise<T>): Promise<T>;
  /** Render and encode times, for `/metrics`. */
  timings(renderMs: number, encodeMs: number): void;
  /** The session's WebRTC video track (codec h264), when it has one. */
  video(): VideoTrackInput | undefined;
  /** Records a frame already sent in the session's signed results (SessionSeals), when it signs them. */
  sealFrame(id: number, request: RenderMessage, frame: RenderedFrame): void;
}

/** Where `h264` frames go: VideoSender (edge-server/webrtc/video). */
export interface VideoTrackInput {
  /** Encodes RGBA pixels; resolves with the RTP timestamp they went out with. */
  push(rgba: Uint8Array, width: number, height: number): Promise<number>;
}

/** What a frame will weigh on the wire, roughly: raw RGBA, or a JPEG/WebP at ~1 byte a pixel pair. */
function frameBytesEstimate(request: RenderMessage): number {
  // an h264 frame's answer is its pose and timestamp; the pixels go on the video track
  if (request.codec === 'h264') return 256;
  const pixels = request.camera.width * request.camera.height * (request.eye === 'both' ? 2 : 1);
  return request.codec === 'raw' ? pixels * 4 : pixels / 2;
}

export class SessionRender {
  readonly #sessionId: string;
  readonly #renderer: RenderEngine;
  readonly #maxBufferedBytes: number;
  readonly #out: RenderOutput;
  readonly #pacer: NewestWins<RenderMessage>;
  #scene: string | undefined;
  /** The latest scene upload; renders wait for it so a frame never races its own scene. */
  #sceneLoaded: Promise<unknown> = Promise.resolve();

  constructor(sessionId: string, renderer: RenderEngine, maxBufferedBytes: number, out: RenderOutput) {
    this.#sessionId = sessionId;
    this.#renderer = renderer;
    this.#maxBufferedBytes = maxBufferedBytes;
    this.#out = out;
    this.#pacer = new NewestWins(
      (request) => this.#render(request),
      (stale) => out.answerError(stale.id, new RequestError(ErrorCode.SUPERSEDED, 'a newer render request replaced this one')),
    );
  }

  /** The scene renders use when a request names none. */
  get scene(): string | undefined {
    return this.#scene;
  }

  /** Adopts the scene a resuming client had on its previous node. */
  resume(scene: string | undefined): void {
    if (scene) this.#scene = scene;
  }

  /** Renders `request` now, or after the running one, replacing any waiting request. */
  offer(request: RenderMessage): void {
    this.#pacer.offer(request);
  }

  /** Loads an uploaded scene; later renders wait for it, and a failed upload does not stop them. */
  loadScene(name: string, data: Uint8Array): Promise<void> {
    // decoding is CPU-heavy: it runs in this session's fair turn; #sceneLoaded is set now, so a
    // render sent right after the upload still waits for it
    const loading = this.#out.heavy('scene', () => this.#renderer.loadScene(this.#sessionId, name, data)).then(() => {
      this.#scene = name;
    });
    this.#sceneLoaded = loading.catch(() => {}); // the upload's own answer reports the failure
    return loading;
  }

  /** Stops the pacer: the waiting request is dropped (the socket is closing, nobody can be answered). */
  close(): void {
    this.#pacer.close();
  }

  async #render(request: RenderMessage): Promise<void> {
    try {
      await this.#sceneLoaded;
      // a frame the client could not take now would be rendered only to be dropped: skip the work
      if (!this.#out.canTake(frameBytesEstimate(request))) {
        throw new RequestError(ErrorCode.SLOW_CONSUMER, `frame skipped: ${this.#out.bufferedAmount} bytes still queued to this client`);
      }
      const scene = this.#scene && !request.scene ? { ...request, scene: this.#scene } : request;
      const video = request.codec === 'h264' ? this.#out.video() : undefined;
      if (request.codec === 'h264' && !video) {
        throw new RequestError(ErrorCode.VIDEO_UNAVAILABLE, 'this session has no video track: send rtcConsumeVideo first, or render jpeg');
      }
      const frame = await this.#out.heavy('render', () => this.#renderer.render(this.#sessionId, scene));
      if (video) {
        const renderedAt = performance.now();
        const rtpTimestamp = await video.push(frame.data, frame.width, frame.height);
        frame.timings.encodeMs = performance.now() - renderedAt;
        Object.assign(frame, { data: new Uint8Array(0), rtpTimestamp, renderedAt });
      }
      this.#out.timings(frame.timings.renderMs + frame.timings.readbackMs, frame.timings.encodeMs);
      // a client that does not read its socket gets no more frames piling up in our memory
      if (this.#out.bufferedAmount > this.#maxBufferedBytes) {
        throw new RequestError(ErrorCode.SLOW_CONSUMER, `frame dropped: ${this.#out.bufferedAmount} bytes still queued to this client`);
      }
      this.#out.answer(request.id, { t: 'frame', id: request.id, ...frame });
      // recorded after it is sent, in the same turn: the chain's order is the order answers left
      this.#out.sealFrame(request.id, request, frame);
    } catch (err) {
      this.#out.answerError(request.id, err);
    }
  }
}
