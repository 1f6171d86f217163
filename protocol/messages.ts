/**
 * The wire contract: every message type, its schema, and the TypeScript type inferred from it.
 * Envelope: `{ t: type, id?: requestId, ... }`. Requests (`ping`, `predict`, `infer`, `render`,
 * `scene`) carry a client-chosen `id` that the answer (or an `error`) echoes.
 *
 * Conventions: positions in metres, right-handed, y up (WebXR); quaternions `[x, y, z, w]`
 * (WebXR/three.js order); pose `time` in microseconds on the client's monotonic clock; `ping`/`pong`
 * times in milliseconds on each side's own monotonic clock (`performance.now()`).
 */
import {
  array,
  boolean,
  bytes,
  literal,
  number,
  numbers,
  object,
  oneOf,
  optional,
  reject,
  string,
  uint,
  type Infer,
  type Schema,
} from './schema.js';
import { ErrorCode } from './errors.js';
import { rtcSchemas } from './webrtc.js';
import { rtcVideoSchemas } from './webrtcVideo.js';

export const PROTOCOL_VERSION = 1;

export const DEVICES = ['head', 'left', 'right'] as const;
export type Device = (typeof DEVICES)[number];
/**
 * `webrtc`: the node serves pose/predict over WebRTC data channels (signalling: protocol/webrtc.ts).
 * `video`: it also sends rendered frames as H.264 on a WebRTC video track (protocol/webrtcVideo.ts).
 */
export const CAPABILITIES = ['predict', 'infer', 'render', 'webrtc', 'video'] as const;
/**
 * Why a prediction did not come from the requested predictor's normal path: `reset` (the tracker
 * re-localised: a position or orientation jump no head makes), `stall` (a gap in the samples, or
 * samples stamped too close together after one: the recorder or link caught up), `out-of-range`
 * (the learned model was asked about motion or a horizon outside what it was trained on). The
 * node then answered from a restarted Kalman filter; clients and metrics count these.
 */
export const PREDICTION_FALLBACKS = ['reset', 'stall', 'out-of-range'] as const;
export type PredictionFallback = (typeof PREDICTION_FALLBACKS)[number];
export type Capability = (typeof CAPABILITIES)[number];
export const NODE_TIERS = ['edge', 'cloud'] as const;
export type NodeTier = (typeof NODE_TIERS)[number];
export const DTYPES = ['float32', 'int32', 'uint8'] as const;
export type DType = (typeof DTYPES)[number];
/**
 * `h264`: the frame goes on the session's WebRTC video track (rtcConsumeVideo first); its `frame`
 * answer carries no pixels, only the pose and the RTP timestamp of the video frame.
 */
export const CODECS = ['jpeg', 'webp', 'raw', 'h264'] as const;
export type Codec = (typeof CODECS)[number];
export const EYES = ['left', 'right', 'both'] as const;
export type Eye = (typeof EYES)[number];

const name = () => string(128);
export type Vec3 = [number, number, number];
export type Quat = [number, number, number, number];
const vec3 = numbers<Vec3>(3, 'a vector [x, y, z]');
const quat = numbers<Quat>(4, 'a quaternion [x, y, z, w]');

/**
 * What a pose may hold, far beyond any head or hand, near enough that the motion math (squares,
 * extrapolation over the longest horizon) stays finite: a pose past these is refused
 * `BAD_REQUEST` (non-fatal) where it used to reach the predictors and come back `INTERNAL`.
 */
export const POSE_BOUNDS = {
  /** |x|, |y|, |z| of a position, metres (1000 km from the tracking origin). */
  maxPositionM: 1e6,
  /** Each component of a reported linear velocity, m/s. */
  maxSpeedMps: 1e4,
  /** Each component of a reported angular velocity, rad/s. */
  maxAngularRadPerS: 1e4,
  /** Below this norm a quaternion carries no rotation: refused rather than normalised into noise. */
  minQuaternionNorm: 1e-6,
} as const;

/** A vector whose components are finite and within ±`max`. */
function boundedVec3(max: number, what: string): Schema<Vec3> {
  return {
    parse(value, path, limits) {
      const v = vec3.parse(value, path, limits);
      if (Math.abs(v[0]) > max || Math.abs(v[1]) > max || Math.abs(v[2]) > max) reject(path, `has a component beyond ±${max} ${what}`);
      return v;
    },
  };
}

/** Any non-zero finite quaternion, returned normalised (to 1e-6: the one place the protocol does it). */
const unitQuat: Schema<Quat> = {
  parse(value, path, limits) {
    const q = quat.parse(value, path, limits);
    // hypot: no overflow for components near Number.MAX_VALUE, no underflow for tiny ones
    const norm = Math.hypot(q[0], q[1], q[2], q[3]);
    if (!(norm >= POSE_BOUNDS.minQuaternionNorm)) reject(path, `has norm ${norm}: not a rotation`);
    // a unit quaternion as sent (float32 from a tracker, say) travels bit for bit; dividing would
    // only move its last digits
    if (Math.abs(norm - 1) <= 1e-6) return q;
    return [q[0] / norm, q[1] / norm, q[2] / norm, q[3] / norm];
  },
};

export const poseSampleSchema = object({
  device: oneOf(DEVICES),
  /** Microseconds on the client's monotonic clock. */
  time: number(0),
  position: boundedVec3(POSE_BOUNDS.maxPositionM, 'm'),
  /** Quaternion [x, y, z, w], any non-zero norm; the schema hands it on normalised. */
  orientation: unitQuat,
  /** m/s, when the runtime reports it. */
  linearVelocity: optional(boundedVec3(POSE_BOUNDS.maxSpeedMps, 'm/s')),
  /** rad/s in the world frame, when the runtime reports it. */
  angularVelocity: optional(boundedVec3(POSE_BOUNDS.maxAngularRadPerS, 'rad/s')),
});
export type PoseSample = Infer<typeof poseSampleSchema>;

/** A tensor travels as raw little-endian bytes + dtype + shape; never as a msgpack extension. */
export const tensorSchema = object({
  dtype: oneOf(DTYPES),
  shape: array(uint(1 << 24), () => 8),
  data: bytes((l) => l.maxTensorElements * 4),
});
export type Tensor = Infer<typeof tensorSchema>;

export const cameraSchema = object({
  /** Vertical field of view per eye, degrees. */
  fovY: number(10, 170),
  /** Inter-pupillary distance, metres. */
  ipd: number(0, 0.2),
  width: uint(8192),
  height: uint(8192),
  near: optional(number(0.001, 1e6)),
  far: optional(number(0.01, 1e7)),
});
export type CameraParams = Infer<typeof cameraSchema>;

/** What a client replays on a new node so the node itself stays stateless. */
export const resumeSchema = object({
  poses: optional(array(poseSampleSchema, (l) => l.maxPosesPerMessage)),
  predictor: optional(name()),
  scene: optional(name()),
  model: optional(name()),
});
export type ResumeState = Infer<typeof resumeSchema>;

const requestId = uint(2 ** 32);
const millis = number(0);

export const schemas = {
  hello: object({
    t: literal('hello'),
    v: uint(1000),
    token: optional(string(2048)),
    caps: optional(array(oneOf(CAPABILITIES), () => CAPABILITIES.length)),
    /** Free text naming the client build, for logs. */
    client: optional(name()),
    resume: optional(resumeSchema),
    /** A fresh random value (16-64 base64url characters) the node signs in `welcome.proof` (protocol/nodeIdentity.ts). */
    nonce: optional(string(64)),
  }),
  welcome: object({
    t: literal('welcome'),
    v: uint(1000),
    session: name(),
    node: object({ id: name(), tier: oneOf(NODE_TIERS) }),
    caps: array(oneOf(CAPABILITIES), () => CAPABILITIES.length),
    predictors: array(name(), () => 64),
    models: array(name(), () => 256),
    limits: object({
      maxFrameBytes: uint(),
      maxPosesPerMessage: uint(),
      maxTensorElements: uint(),
      maxMessagesPerSecond: uint(),
      maxHorizonMs: uint(),
    }),
    /** Server monotonic ms when sent. */
    time: millis,
    /** Ed25519 signature (base64url) over the hello nonce, node id, session and tier with the node's registered key. */
    proof: optional(string(128)),
  }),
  ping: object({ t: literal('ping'), id: requestId, /** client ms */ c: millis }),
  pong: object({
    t: literal('pong'),
    id: requestId,
    /** client ms, echoed */
    c: millis,
    /** server ms when the ping arrived */
    r: millis,
    /** server ms when the pong left */
    s: millis,
  }),
  pose: object({ t: literal('pose'), poses: array(poseSampleSchema, (l) => l.maxPosesPerMessage) }),
  predict: object({
    t: literal('predict'),
    id: requestId,
    horizonMs: number(0, 10_000),
    device: optional(oneOf(DEVICES)),
    predictor: optional(name()),
    /**
     * Samples tracked since the last `pose` message, observed before predicting: a headset's
     * per-frame "here is my pose, where will it be" is one message, not two (half the frames,
     * syscalls and wake-ups on both sides at 90 Hz).
     */
    poses: optional(array(poseSampleSchema, (l) => l.maxPosesPerMessage)),
  }),
  prediction: object({
    t: literal('prediction'),
    id: requestId,
    pose: poseSampleSchema,
    predictor: name(),
    horizonMs: number(0),
    /** Time the node spent predicting. */
    computeMs: millis,
    /** Set when the answer came from a fallback path (PREDICTION_FALLBACKS); absent normally. */
    fallback: optional(oneOf(PREDICTION_FALLBACKS)),
  }),
  infer: object({ t: literal('infer'), id: requestId, model: name(), input: tensorSchema }),
  result: object({ t: literal('result'), id: requestId, model: name(), output: tensorSchema, computeMs: millis }),
  render: object({
    t: literal('render'),
    id: requestId,
    /** The pose the frame will be displayed at (usually predicted). */
    pose: poseSampleSchema,
    eye: oneOf(EYES),
    camera: cameraSchema,
    codec: oneOf(CODECS),
    quality: optional(uint(100)),
    scene: optional(name()),
  }),
  frame: object({
    t: literal('frame'),
    id: requestId,
    /** The pose the frame was rendered at, for reprojection. */
    pose: poseSampleSchema,
    eye: oneOf(EYES),
    codec: oneOf(CODECS),
    width: uint(16384),
    height: uint(8192),
    data: bytes((l) => l.maxFrameBytes),
    timings: object({ queueMs: millis, renderMs: millis, readbackMs: millis, encodeMs: millis }),
    /** codec h264: the RTP timestamp (90 kHz) of the video frame these pixels went out as. */
    rtpTimestamp: optional(uint(2 ** 32 - 1)),
    /** codec h264: when the node handed the frame to its encoder, node ms (the clock of `pong.s`). */
    renderedAt: optional(millis),
  }),
  /** Upload a glTF binary scene for this session. */
  scene: object({ t: literal('scene'), id: requestId, name: name(), format: literal('glb'), data: bytes() }),
  /** A request that has no other answer (scene upload) succeeded. */
  ack: object({ t: literal('ack'), id: requestId }),
  error: object({
    t: literal('error'),
    id: optional(requestId),
    code: oneOf(Object.values(ErrorCode)),
    message: string(1024),
    /** True when the sender closes the session right after. */
    fatal: boolean(),
  }),
  /** The node asks the client to move elsewhere before `deadlineMs` elapses. */
  drain: object({ t: literal('drain'), reason: string(256), deadlineMs: millis, redirect: optional(string(2048)) }),
  bye: object({ t: literal('bye'), reason: optional(string(256)) }),
  /** The node seals a block of its signed answers (protocol/resultSigning.ts). */
  seal: object({
    t: literal('seal'),
    node: name(),
    session: name(),
    to: uint(),
    link: string(64),
    inputs: uint(),
    inputDigest: string(64),
    signature: string(128),
  }),
  /** WebRTC signalling (protocol/webrtc.ts): rtcOpen/rtcConnect/rtcProduceData/rtcConsumeData and their answers, rtcLost. */
  ...rtcSchemas,
  /** WebRTC video (protocol/webrtcVideo.ts): rtcConsumeVideo and its answer rtcVideo, rtcVideoLost. */
  ...rtcVideoSchemas,
} satisfies Record<string, Schema<{ t: string }>>;

export type MessageType = keyof typeof schemas;
export const MESSAGE_TYPES = Object.keys(schemas) as MessageType[];
export type MessageOf<T extends MessageType> = Infer<(typeof schemas)[T]>;
export type Message = { [T in MessageType]: MessageOf<T> }[MessageType];

export type HelloMessage = MessageOf<'hello'>;
export type WelcomeMessage = MessageOf<'welcome'>;
export type PingMessage = MessageOf<'ping'>;
export type PongMessage = MessageOf<'pong'>;
export type PoseMessage = MessageOf<'pose'>;
export type PredictMessage = MessageOf<'predict'>;
export type PredictionMessage = MessageOf<'prediction'>;
export type InferMessage = MessageOf<'infer'>;
export type ResultMessage = MessageOf<'result'>;
export type RenderMessage = MessageOf<'render'>;
export type FrameMessage = MessageOf<'frame'>;
export type SceneMessage = MessageOf<'scene'>;
export type AckMessage = MessageOf<'ack'>;
export type ErrorMessage = MessageOf<'error'>;
export type DrainMessage = MessageOf<'drain'>;
export type ByeMessage = MessageOf<'bye'>;
export type SealMessage = MessageOf<'seal'>;
export type RenderTimings = FrameMessage['timings'];
