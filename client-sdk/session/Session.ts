/**
 * The object a game engine holds. It hides where work runs: a backend decides that — one fixed
 * node (`connect(url)`) or the failover machine that moves between edge, cloud and local answers
 * (`openSession`) — and the app's calls stay the same either way.
 */
import { InvalidStateError, type Device, type PoseSample, type Tensor } from '../../protocol/index.js';
import { ConnectError, ConnectErrorCode } from '../errors.js';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import { NodeConnection, type NodeConnectionOptions } from '../link/NodeConnection.js';
import type { RttSummary } from '../link/RttStats.js';
import { Failover } from '../placement/Failover.js';
import { checkPose, checkPredict, checkRequest } from './checks.js';
import { DirectLink } from './DirectLink.js';
import { renderBody, type Frame, type NodeInfo, type Prediction, type RenderRequest, type SessionBackend, type SessionEvents, type Tier } from './SessionBackend.js';

export type { Frame, NodeInfo, Prediction, RenderRequest, SessionEvents, Tier } from './SessionBackend.js';

export interface SessionOptions extends NodeConnectionOptions {
  /**
   * The most any one call may take, ms. `connect` sessions: per node request, default 1000.
   * `openSession` sessions: across every node the call is tried on, default 10000.
   */
  requestTimeoutMs?: number;
  /** Predictor the node should use for this session. */
  predictor?: string;
  /** `connect` sessions: RTT ping interval, ms (the `latency` event); 0 turns pinging off. @default 250 */
  pingIntervalMs?: number;
}

export class Session extends EnhancedEventEmitter<SessionEvents> {
  readonly #backend: SessionBackend;
  readonly #options: SessionOptions;
  #closed = false;

  constructor(backend: SessionBackend, options: SessionOptions = {}) {
    super();
    this.#backend = backend;
    this.#options = options;
    backend.on('tier', (tier, reason) => this.safeEmit('tier', tier, reason));
    backend.on('latency', (rtt) => this.safeEmit('latency', rtt));
    backend.on('drain', (reason) => this.safeEmit('drain', reason));
    backend.on('nodeFault', (fault) => this.safeEmit('nodeFault', fault));
    backend.on('error', (error) => this.safeEmit('error', error));
    backend.on('transport', (kind, why) => this.safeEmit('transport', kind, why));
    backend.on('videolost', (error) => this.safeEmit('videolost', error));
    backend.on('videotrack', (track, nodeId) => this.safeEmit('videotrack', track, nodeId));
    backend.on('close', () => this.close());
  }
  /** Where calls go now: the node's tier, or `local` while no node answers. */
  get tier(): Tier {
    return this.#backend.node?.tier ?? 'local';
  }

  /** The node doing the work now; undefined while the session answers locally. */
  get nodeId(): string | undefined {
    return this.#backend.node?.id;
  }

  /** What carries pose/predict now: WebRTC data channels, the WebSocket, or nothing (`local`). */
  get transport(): 'ws' | 'webrtc' | 'local' {
    return this.#backend.transport ?? 'local';
  }

  /** The state machine behind an `openSession` session (standby, state), for diagnostics. */
  get failover(): Failover | undefined {
    return this.#backend instanceof Failover ? this.#backend : undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Resolves with the time (`performance.now()`) the session is on `tier`: at once when it
   * already is, else at the `tier` event that takes it there; rejects after `timeoutMs`.
   */
  waitForTier(tier: Tier, timeoutMs: number): Promise<number> {
    if (this.tier === tier) return Promise.resolve(performance.now());
    return this.waitFor('tier', timeoutMs, (now) => now === tier).then(
      () => performance.now(),
      () => Promise.reject(new ConnectError(ConnectErrorCode.NO_NODE, `session not on ${tier} within ${timeoutMs} ms; it is on ${this.tier}`)),
    );
  }

  /** Streams one tracked pose to the node. Call at the tracker's rate (e.g. 90 Hz). */
  sendPose(pose: PoseSample): void {
    this.#assertOpen();
    checkPose(pose);
    this.#backend.sendPose(pose);
  }

  /** The pose of `device` `horizonMs` after its latest sample. */
  async predict(horizonMs: number, { device = 'head', predictor = this.#options.predictor }: { device?: Device; predictor?: string } = {}): Promise<Prediction> {
    this.#assertOpen();
    checkPredict(horizonMs, device, predictor);
    return this.#backend.predict(horizonMs, { device, ...(predictor ? { predictor } : {}), ...this.#deadline() });
  }

  /** What the SDK predicts on its own (constant velocity), with no node involved. */
  predictLocally(horizonMs: number, device: Device = 'head'): Prediction {
    const pose = this.#backend.memory.predictLocally(device, horizonMs);
    if (!pose) throw new TypeError(`no poses sent yet for device '${device}'`);
    return { pose, predictor: 'constant-velocity', horizonMs, tier: 'local', roundTripMs: 0 };
  }

  async infer(model: string, input: Tensor): Promise<Tensor> {
    this.#assertOpen();
    checkRequest<'infer'>({ t: 'infer', model, input });
    return this.#backend.infer(model, input, this.#deadline());
  }

  async render(request: RenderRequest): Promise<Frame> {
    this.#assertOpen();
    if (!request || typeof request !== 'object') throw new TypeError('request is not an object');
    checkRequest<'render'>(renderBody(request));
    const frame = await this.#backend.render(request, this.#deadline());
    this.safeEmit('frame', frame);
    return frame;
  }

  /**
   * The node's rendered frames as an H.264 WebRTC video track (browsers): put it in a `<video>`
   * (`showVideoTrack(track)`), then `render({ codec: 'h264', … })` sends each frame on the
   * track and resolves with its pose and `rtpTimestamp`, which `VideoFramePoses` matches to the
   * decoded frame. Rejects with a RequestError VIDEO_UNAVAILABLE (render jpeg instead) when the
   * node has no video, the session stayed on ws, or the platform decodes no H.264 (Node).
   * It is the current node's track: when another node takes over (`openSession`), the SDK opens
   * that node's track and emits `videotrack` with it, or `videolost` (VIDEO_UNAVAILABLE) when that
   * node sends no video; `render({ codec: 'h264' })` fails VIDEO_UNAVAILABLE until the new track is open.
   */
  openVideo({ timeoutMs = 5000 }: { timeoutMs?: number } = {}): Promise<MediaStreamTrack> {
    this.#assertOpen();
    return this.#backend.openVideo(timeoutMs);
  }

  /** Uploads a glTF binary scene that later `render` calls draw. */
  async uploadScene(name: string, glb: Uint8Array): Promise<void> {
    this.#assertOpen();
    checkRequest<'scene'>({ t: 'scene', name, format: 'glb', data: glb });
    const timeout = this.#options.requestTimeoutMs;
    await this.#backend.uploadScene(name, glb, timeout === undefined ? {} : { deadlineMs: timeout * 10 });
  }

  rtt(): RttSummary {
    return this.#backend.rtt();
  }

  /**
   * One ping round trip to the node doing the work now, ms on this client's clock; rejects with a
   * `TIMEOUT` RequestError after `timeoutMs`, or when no node does the work. For measuring tools:
   * the session's own pinging (the `latency` event) never needs it.
   */
  ping(timeoutMs = 1000): Promise<number> {
    this.#assertOpen();
    return this.#backend.ping(timeoutMs);
  }

  /** What the node doing the work now said about itself (id, tier, protocol version, caps, limits). */
  get nodeInfo(): NodeInfo | undefined {
    return this.#backend.nodeInfo;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#backend.close();
    this.safeEmit('close');
  }

  #deadline(): { deadlineMs?: number } {
    const deadlineMs = this.#options.requestTimeoutMs;
    return deadlineMs === undefined ? {} : { deadlineMs };
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('session is closed');
  }
}

/** Opens a session on the node at `url` (a `ws://…/v1/session` URL). */
export async function connect(url: string, options: SessionOptions = {}): Promise<Session> {
  const hello = { ...options.hello };
  if (options.predictor) hello.resume = { ...hello.resume, predictor: options.predictor };
  const connection = await NodeConnection.open(url, { ...options, hello });
  return new Session(new DirectLink(connection, options.pingIntervalMs ?? 250), options);
}
