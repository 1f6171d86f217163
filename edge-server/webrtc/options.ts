/**
 * The edge's WebRTC settings, each with a documented default, and the router's codecs.
 */
import os from 'node:os';
import type { types } from 'mediasoup';
import { RTC_MAX_SCTP_STREAMS } from '../../protocol/webrtc.js';
import { VIDEO_CODEC } from '../../protocol/webrtcVideo.js';
import { resolveVideoOptions, type ResolvedVideoOptions, type VideoOptions } from './video/videoOptions.js';

export interface ListenIp {
  /** Address the worker binds (e.g. '0.0.0.0' or an interface address). */
  ip: string;
  /** Address put in ICE candidates when `ip` is not reachable as is (NAT, 0.0.0.0, containers). */
  announcedIp?: string;
}

export interface WebRtcOptions {
  /** mediasoup workers (processes), one per core the edge is given; default os.availableParallelism(). */
  workers?: number;
  /** Lowest UDP/TCP port a transport may take (per worker), default 40000. */
  rtcMinPort?: number;
  /** Highest port, default 49999: 10 000 ports is 10 000 concurrent transports per worker at most. */
  rtcMaxPort?: number;
  /** Where transports listen, default [{ ip: '127.0.0.1' }]: set a reachable address in production. */
  listenIps?: ListenIp[];
  /** PEM certificate for DTLS; default: each worker generates a self-signed one (WebRTC pins fingerprints). */
  dtlsCertificateFile?: string;
  /** PEM private key of `dtlsCertificateFile`. */
  dtlsPrivateKeyFile?: string;
  /** ICE over UDP (default true) and TCP (default true: networks that block UDP still connect). */
  enableUdp?: boolean;
  enableTcp?: boolean;
  /** Largest data-channel message either way, default 256 KiB (mediasoup's default). */
  maxMessageSize?: number;
  /** Sender bitrate estimate a new transport starts from, bit/s, default 10 Mbit/s (a video frame is big). */
  initialAvailableOutgoingBitrate?: number;
  /**
   * Transports one worker serves at most, default 500 (a few hundred sessions per core keeps one
   * worker's event loop responsive); beyond it on every worker, opening a transport is BUSY.
   */
  maxTransportsPerWorker?: number;
  /** First wait before replacing a dead worker, ms, default 100; doubles per death in a row. */
  respawnDelayMs?: number;
  /** Longest such wait, ms, default 10 000: a worker that keeps crashing does not spin the CPU. */
  maxRespawnDelayMs?: number;
  /** How long a new session waits for a live worker while one is being replaced, ms, default 10 000. */
  workerWaitTimeoutMs?: number;
  /** mediasoup worker log level, default 'warn'. */
  logLevel?: types.WorkerLogLevel;
  /**
   * H.264 video tracks (edge-server/webrtc/video), default on when ffmpeg is installed; `false`
   * turns video off (sessions keep JPEG over ws).
   */
  video?: VideoOptions | false;
}

export type ResolvedWebRtcOptions = Required<Omit<WebRtcOptions, 'dtlsCertificateFile' | 'dtlsPrivateKeyFile' | 'video'>> &
  Pick<WebRtcOptions, 'dtlsCertificateFile' | 'dtlsPrivateKeyFile'> & { video: ResolvedVideoOptions | false };

function positiveInt(value: unknown, path: string, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > max) {
    throw new TypeError(`${path} must be an integer in [1, ${max}]`);
  }
}

export function resolveWebRtcOptions(options: WebRtcOptions = {}): ResolvedWebRtcOptions {
  const resolved: ResolvedWebRtcOptions = {
    workers: options.workers ?? os.availableParallelism(),
    rtcMinPort: options.rtcMinPort ?? 40000,
    rtcMaxPort: options.rtcMaxPort ?? 49999,
    listenIps: options.listenIps ?? [{ ip: '127.0.0.1' }],
    dtlsCertificateFile: options.dtlsCertificateFile,
    dtlsPrivateKeyFile: options.dtlsPrivateKeyFile,
    enableUdp: options.enableUdp ?? true,
    enableTcp: options.enableTcp ?? true,
    maxMessageSize: options.maxMessageSize ?? 262144,
    initialAvailableOutgoingBitrate: options.initialAvailableOutgoingBitrate ?? 10_000_000,
    maxTransportsPerWorker: options.maxTransportsPerWorker ?? 500,
    respawnDelayMs: options.respawnDelayMs ?? 100,
    maxRespawnDelayMs: options.maxRespawnDelayMs ?? 10_000,
    workerWaitTimeoutMs: options.workerWaitTimeoutMs ?? 10_000,
    logLevel: options.logLevel ?? 'warn',
    video: options.video === false ? false : resolveVideoOptions(options.video),
  };
  positiveInt(resolved.workers, 'webrtc.workers', 256);
  positiveInt(resolved.rtcMinPort, 'webrtc.rtcMinPort', 65535);
  positiveInt(resolved.rtcMaxPort, 'webrtc.rtcMaxPort', 65535);
  if (resolved.rtcMinPort > resolved.rtcMaxPort) throw new TypeError('webrtc.rtcMinPort must not exceed webrtc.rtcMaxPort');
  if (!Array.isArray(resolved.listenIps) || resolved.listenIps.length === 0 || resolved.listenIps.some((l) => typeof l?.ip !== 'string')) {
    throw new TypeError('webrtc.listenIps must be a non-empty array of { ip, announcedIp? }');
  }
  if ((resolved.dtlsCertificateFile === undefined) !== (resolved.dtlsPrivateKeyFile === undefined)) {
    throw new TypeError('webrtc.dtlsCertificateFile and webrtc.dtlsPrivateKeyFile go together');
  }
  if (!resolved.enableUdp && !resolved.enableTcp) throw new TypeError('webrtc: enable UDP, TCP or both');
  positiveInt(resolved.maxMessageSize, 'webrtc.maxMessageSize', 1 << 30);
  positiveInt(resolved.initialAvailableOutgoingBitrate, 'webrtc.initialAvailableOutgoingBitrate');
  for (const key of ['maxTransportsPerWorker', 'respawnDelayMs', 'maxRespawnDelayMs', 'workerWaitTimeoutMs'] as const) positiveInt(resolved[key], `webrtc.${key}`);
  return resolved;
}

/**
 * H.264 Main (VIDEO_CODEC.profileLevelId) with packetization-mode 1: what every browser and hardware
 * decoder takes, and what libx264 `zerolatency -profile:v main` without B-frames produces.
 */
export const ROUTER_MEDIA_CODECS: types.RtpCodecCapability[] = [
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': VIDEO_CODEC.profileLevelId, 'level-asymmetry-allowed': 1 },
    rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }],
  },
];

export const SCTP_STREAMS = { OS: RTC_MAX_SCTP_STREAMS, MIS: RTC_MAX_SCTP_STREAMS };
