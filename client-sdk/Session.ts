/**
 * The object a game engine holds. It hides where work runs: today one node; the failover state
 * machine (edge ⇄ cloud ⇄ local) builds on the same surface, so apps never change their calls.
 */
import {
  CloseCode,
  DEVICES,
  InvalidStateError,
  extrapolateConstantVelocity,
  type CameraParams,
  type Codec,
  type Device,
  type Eye,
  type FrameMessage,
  type NodeTier,
  type PoseSample,
  type Tensor,
} from '../protocol/index.js';
import { EnhancedEventEmitter } from './EnhancedEventEmitter.js';
import { NodeConnection, type NodeConnectionOptions } from './NodeConnection.js';
import type { RttSummary } from './RttStats.js';

/** Where an answer came from: a node of a tier, or the SDK itself. */
export type Tier = NodeTier | 'local';

export interface Prediction {
  pose: PoseSample;
  predictor: string;
  horizonMs: number;
  tier: Tier;
  /** Node id, or undefined when answered locally. */
  nodeId?: string;
  /** Request → answer, ms. */
  roundTripMs: number;
}

export interface RenderRequest {
  pose: PoseSample;
  eye?: Eye;
  camera: CameraParams;
  codec?: Codec;
  quality?: number;
  scene?: string;
}
export type Frame = Omit<FrameMessage, 't' | 'id'> & { roundTripMs: number };

export type SessionEvents = {
  latency: [rtt: RttSummary];
  tier: [tier: Tier, reason: string];
  drain: [reason: string];
  close: [];
};

export interface SessionOptions extends NodeConnectionOptions {
  /** Deadline for any one call, ms. @default 1000 */
  requestTimeoutMs?: number;
  /** Predictor the node should use for this session. */
  predictor?: string;
}

/** Poses kept per device for local prediction and for resuming on another node. */
const LOCAL_HISTORY = 32;

export class Session extends EnhancedEventEmitter<SessionEvents> {
  readonly #connection: NodeConnection;
  readonly #options: SessionOptions;
  readonly #history = new Map<Device, PoseSample[]>();
  #closed = false;

  constructor(connection: NodeConnection, options: SessionOptions = {}) {
    super();
    this.#connection = connection;
    this.#options = options;
    connection.on('latency', () => this.safeEmit('latency', connection.rtt()));
    connection.on('drain', (message) => this.safeEmit('drain', message.reason));
    connection.on('close', () => this.close());
  }

  get tier(): Tier {
    return this.#connection.welcome.node.tier;
  }

  get nodeId(): string {
    return this.#connection.nodeId;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Streams one tracked pose to the node. Call at the tracker's rate (e.g. 90 Hz). */
  sendPose(pose: PoseSample): void {
    this.#assertOpen();
    checkPose(pose);
    let history = this.#history.get(pose.device);
    if (!history) this.#history.set(pose.device, (history = []));
    history.push(pose);
    if (history.length > LOCAL_HISTORY) history.shift();
    this.#connection.send({ t: 'pose', poses: [pose] });
  }

  /** The pose of `device` `horizonMs` after its latest sample. */
  async predict(horizonMs: number, { device = 'head', predictor = this.#options.predictor }: { device?: Device; predictor?: string } = {}): Promise<Prediction> {
    this.#assertOpen();
    if (!Number.isFinite(horizonMs) || horizonMs < 0) throw new TypeError('horizonMs must be a non-negative number');
    const started = performance.now();
    const answer = await this.#connection.request<'predict'>(
      predictor ? { t: 'predict', horizonMs, device, predictor } : { t: 'predict', horizonMs, device },
      this.#timeout(),
    );
    return { pose: answer.pose, predictor: answer.predictor, horizonMs, tier: this.tier, nodeId: this.nodeId, roundTripMs: performance.now() - started };
  }

  /** What the SDK predicts on its own (constant velocity), with no node involved. */
  predictLocally(horizonMs: number, device: Device = 'head'): Prediction {
    const history = this.#history.get(device);
    if (!history?.length) throw new TypeError(`no poses sent yet for device '${device}'`);
    return { pose: extrapolateConstantVelocity(history, horizonMs), predictor: 'constant-velocity', horizonMs, tier: 'local', roundTripMs: 0 };
  }

  async infer(model: string, input: Tensor): Promise<Tensor> {
    this.#assertOpen();
    const answer = await this.#connection.request<'infer'>({ t: 'infer', model, input }, this.#timeout());
    return answer.output;
  }

  async render(request: RenderRequest): Promise<Frame> {
    this.#assertOpen();
    const started = performance.now();
    const { pose, camera, eye = 'both', codec = 'jpeg', quality, scene } = request;
    const body = { t: 'render' as const, pose, camera, eye, codec, ...(quality === undefined ? {} : { quality }), ...(scene === undefined ? {} : { scene }) };
    const { t: _t, id: _id, ...frame } = await this.#connection.request<'render'>(body, this.#timeout());
    return { ...frame, roundTripMs: performance.now() - started };
  }

  /** Uploads a glTF binary scene that later `render` calls draw. */
  async uploadScene(name: string, glb: Uint8Array): Promise<void> {
    this.#assertOpen();
    await this.#connection.request<'scene'>({ t: 'scene', name, format: 'glb', data: glb }, this.#timeout() * 10);
  }

  rtt(): RttSummary {
    return this.#connection.rtt();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connection.close(CloseCode.NORMAL, 'session closed');
    this.safeEmit('close');
  }

  #timeout(): number {
    return this.#options.requestTimeoutMs ?? 1000;
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('session is closed');
  }
}

/** Argument checks at the SDK boundary: a TypeError naming the field beats a remote BAD_MESSAGE. */
function checkPose(pose: PoseSample): void {
  const finite = (v: unknown, n: number) => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (!pose || typeof pose !== 'object') throw new TypeError('pose is not an object');
  if (!(DEVICES as readonly string[]).includes(pose.device)) throw new TypeError(`pose.device must be one of ${DEVICES.join(', ')}`);
  if (typeof pose.time !== 'number' || !Number.isFinite(pose.time) || pose.time < 0) throw new TypeError('pose.time is not a non-negative number of microseconds');
  if (!finite(pose.position, 3)) throw new TypeError('pose.position is not a vector [x, y, z]');
  if (!finite(pose.orientation, 4)) throw new TypeError('pose.orientation is not a quaternion [x, y, z, w]');
}

/** Opens a session on the node at `url` (a `ws://…/v1/session` URL). */
export async function connect(url: string, options: SessionOptions = {}): Promise<Session> {
  const hello = { ...options.hello };
  if (options.predictor) hello.resume = { ...hello.resume, predictor: options.predictor };
  const connection = await NodeConnection.open(url, { ...options, hello });
  return new Session(connection, options);
}
