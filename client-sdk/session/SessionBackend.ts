/**
 * What a `Session` delegates to: one fixed node (`DirectLink`, from `connect(url)`) or the
 * failover machine (`Failover`, from `openSession`). The app sees only `Session`; the backend
 * decides where each call runs. Also the shapes every call returns.
 */
import type { CameraParams, Codec, Device, Eye, FrameMessage, NodeTier, PoseSample, PredictionFallback, RequestError, Tensor, WelcomeMessage } from '../../protocol/index.js';
import type { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { RttSummary } from '../link/RttStats.js';
import type { SessionMemory } from './SessionMemory.js';
import type { TierReason } from './TierReason.js';
import type { NodeFaultCode } from '../errors.js';

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
  /** Set when the node's guard answered instead of its model (tracking reset, stall, input out of range). */
  fallback?: PredictionFallback;
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

/** What the node said about itself in its `welcome`: identity, protocol version, capabilities, limits. */
export type NodeInfo = Omit<WelcomeMessage, 't' | 'time'>;

export type SessionEvents = {
  /** The RTT window after each pong on the active node. */
  latency: [rtt: RttSummary];
  /** The session moved (edge, cloud, local), and why. */
  tier: [tier: Tier, reason: TierReason];
  /** The node asked its clients to move; the session is moving. */
  drain: [reason: string];
  /** A rendered frame arrived (every `render`, including a `FrameStream`'s). */
  frame: [frame: Frame];
  /** Something went wrong that no call is waiting for (a node's error, a broken frame). */
  error: [error: Error];
  /**
   * A node answered pings but failed its requests (`REQUESTS_UNANSWERED`, `WRONG_IDS`): an
   * `openSession` session leaves it (a `tier` event with reason `node-fault` follows); a
   * `connect` session has nowhere to go and only reports it.
   */
  nodeFault: [fault: NodeFaultEvent];
  /** pose/predict moved onto WebRTC data channels or back onto ws (the `transport` option), and why. */
  transport: [kind: 'ws' | 'webrtc', why: string];
  /**
   * The video track stopped: its encoder died (ENCODER_DIED: render jpeg, or `openVideo()` again),
   * or the node that took over sends no video (VIDEO_UNAVAILABLE: no WebRTC or ffmpeg there, or
   * no node at all; render jpeg, a `videotrack` follows when a node with video takes over).
   */
  videolost: [error: RequestError];
  /**
   * After a failover, the new node's video track, opened by the SDK because the app had opened one
   * (`openVideo()`): show it where the old one was (`video.srcObject = new MediaStream([track])`);
   * a VideoFramePoses on that element keeps matching frames.
   */
  videotrack: [track: MediaStreamTrack, nodeId: string];
  close: [];
};

export interface NodeFaultEvent {
  /** The node's id (from its welcome) and URL. */
  node: string;
  url: string;
  code: NodeFaultCode;
  detail: string;
}

/** Per-call options; `deadlineMs` is the most the app will wait (each backend has a default). */
export interface CallOptions {
  deadlineMs?: number;
}

export type PredictOptions = CallOptions & { device?: Device; predictor?: string };

export interface SessionBackend extends EnhancedEventEmitter<SessionEvents> {
  /** The node doing the work now; undefined while answers are local. */
  readonly node: { id: string; tier: Tier } | undefined;
  /** What carries pose/predict to that node now; undefined while answers are local. */
  readonly transport: 'ws' | 'webrtc' | undefined;
  /** The session's one pose history (local prediction, replay on a new node). */
  readonly memory: SessionMemory;
  sendPose(pose: PoseSample): void;
  predict(horizonMs: number, options: PredictOptions): Promise<Prediction>;
  infer(model: string, input: Tensor, options: CallOptions): Promise<Tensor>;
  render(request: RenderRequest, options: CallOptions): Promise<Frame>;
  uploadScene(name: string, glb: Uint8Array, options: CallOptions): Promise<void>;
  rtt(): RttSummary;
  /** One ping round trip to the node doing the work now, ms; rejects when none does or on timeout. */
  ping(timeoutMs: number): Promise<number>;
  /** The `welcome` of the node doing the work now. */
  readonly nodeInfo: NodeInfo | undefined;
  /** The H.264 track of the node doing the work now (client-sdk/link/openVideo.ts). */
  openVideo(timeoutMs: number): Promise<MediaStreamTrack>;
  close(): void;
}

/** The `render` message body for a request, with the SDK's defaults filled in. */
export function renderBody(request: RenderRequest) {
  const { pose, camera, eye = 'both', codec = 'jpeg', quality, scene } = request;
  return { t: 'render' as const, pose, camera, eye, codec, ...(quality === undefined ? {} : { quality }), ...(scene === undefined ? {} : { scene }) };
}
