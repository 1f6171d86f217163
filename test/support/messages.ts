/** One valid example of every message type, for codec round trips and socket tests. */
import type { Message, MessageType, PoseSample } from '../../protocol/index.js';

export const pose: PoseSample = {
  device: 'head',
  time: 1_000_000,
  position: [0.1, 1.6, -0.2],
  orientation: [0, 0.3826834, 0, 0.9238795],
  angularVelocity: [0, 1.5, 0],
};

const FINGERPRINT = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0')).join(':');

export const examples: { [T in MessageType]: Extract<Message, { t: T }> } = {
  hello: { t: 'hello', v: 1, token: 'abc', caps: ['predict', 'render'], client: 'test', resume: { poses: [pose], predictor: 'constant-velocity' }, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' },
  welcome: {
    t: 'welcome',
    v: 1,
    session: 's-1',
    node: { id: 'n-1', tier: 'edge' },
    caps: ['predict'],
    predictors: ['constant-velocity', 'none'],
    models: [],
    limits: { maxFrameBytes: 1 << 20, maxPosesPerMessage: 64, maxTensorElements: 1 << 20, maxMessagesPerSecond: 2000, maxHorizonMs: 500 },
    time: 12.5,
  },
  ping: { t: 'ping', id: 7, c: 123.456 },
  pong: { t: 'pong', id: 7, c: 123.456, r: 99.5, s: 99.75 },
  pose: { t: 'pose', poses: [pose, { ...pose, time: 1_011_111 }] },
  predict: { t: 'predict', id: 8, horizonMs: 50, device: 'head', predictor: 'constant-velocity' },
  prediction: { t: 'prediction', id: 8, pose, predictor: 'constant-velocity', horizonMs: 50, computeMs: 0.02 },
  infer: { t: 'infer', id: 9, model: 'head-predictor', input: { dtype: 'float32', shape: [1, 2], data: new Uint8Array(new Float32Array([1.5, -2]).buffer) } },
  result: { t: 'result', id: 9, model: 'head-predictor', output: { dtype: 'int32', shape: [1], data: new Uint8Array(4) }, computeMs: 1.25 },
  render: { t: 'render', id: 10, pose, eye: 'both', camera: { fovY: 90, ipd: 0.064, width: 640, height: 640 }, codec: 'jpeg', quality: 80 },
  frame: {
    t: 'frame',
    id: 10,
    pose,
    eye: 'left',
    codec: 'jpeg',
    width: 640,
    height: 640,
    data: new Uint8Array([0xff, 0xd8, 0xff]),
    timings: { queueMs: 0.1, renderMs: 20, readbackMs: 2, encodeMs: 5 },
  },
  scene: { t: 'scene', id: 11, name: 'room', format: 'glb', data: new Uint8Array([0x67, 0x6c, 0x54, 0x46]) },
  ack: { t: 'ack', id: 11 },
  error: { t: 'error', id: 8, code: 'BAD_REQUEST', message: 'no poses yet', fatal: false },
  drain: { t: 'drain', reason: 'maintenance', deadlineMs: 2000, redirect: 'ws://127.0.0.1:1/v1/session' },
  bye: { t: 'bye', reason: 'done' },
  seal: { t: 'seal', node: 'edge-1', session: 's-1', to: 128, link: 'A'.repeat(43), inputs: 130, inputDigest: 'B'.repeat(43), signature: 'C'.repeat(86) },
  rtcOpen: { t: 'rtcOpen', id: 11 },
  rtcTransport: {
    t: 'rtcTransport',
    id: 11,
    transportId: 't-1',
    iceParameters: { usernameFragment: 'uf', password: 'pw', iceLite: true },
    iceCandidates: [{ foundation: 'udpcandidate', priority: 1076302079, ip: '127.0.0.1', protocol: 'udp', port: 40000, type: 'host' }],
    dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: FINGERPRINT }] },
    sctpParameters: { port: 5000, OS: 1024, MIS: 1024, maxMessageSize: 262144 },
  },
  rtcConnect: { t: 'rtcConnect', id: 12, dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: FINGERPRINT }] } },
  rtcProduceData: { t: 'rtcProduceData', id: 13, channel: 'poses', sctpStreamParameters: { streamId: 512, ordered: false, maxRetransmits: 0 } },
  rtcConsumeData: { t: 'rtcConsumeData', id: 14, channel: 'predictions' },
  rtcDataConsumer: { t: 'rtcDataConsumer', id: 14, channel: 'predictions', sctpStreamParameters: { streamId: 0, ordered: false, maxRetransmits: 0 } },
  rtcLost: { t: 'rtcLost', code: 'TRANSPORT_LOST', reason: 'worker died', retryAfterMs: 100 },
};
