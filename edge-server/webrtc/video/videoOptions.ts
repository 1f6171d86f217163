/** The edge's video settings (WebRtcOptions.video), each with a documented default. */
import { X264_PRESETS, type H264EncoderName, type X264Preset } from './H264Encoder.js';
import { RTP_STAMPS, type RtpStamp } from './RtpRelay.js';

export interface VideoOptions {
  /** ffmpeg binary, default `$FFMPEG_PATH` or `ffmpeg` on the PATH. */
  ffmpegPath?: string;
  /**
   * Use h264_nvenc when `ffmpeg -encoders` lists it, default false: ffmpeg lists it on machines
   * without an NVIDIA GPU too, where it fails at start; turn it on where the GPU is known.
   */
  allowNvenc?: boolean;
  /**
   * libx264 preset, default 'superfast': at JPEG q80's quality it needs under a fifth of JPEG's
   * bits where 'ultrafast' needs a third, for ~1.5 ms more per 640×360 frame (bench webrtc-video).
   */
  preset?: X264Preset;
  /** Frame rate the encoder's rate control budgets for, default 30 (frames may come slower). */
  fps?: number;
  /**
   * Frames between IDR frames, default 300 (10 s at 30 fps). A receiver that lost packets NACK
   * cannot repair asks for a keyframe (PLI/FIR, which restarts the encoder at once), so periodic
   * IDRs are only the fallback for a lost PLI; each costs bits (bench webrtc-video: ~0.002 SSIM at
   * the same rate over 3 s with one every 2 s) and is a burst on a capped link.
   */
  gop?: number;
  /** Bitrate the encoder starts at, bit/s, default 4 Mbit/s. */
  startBitrate?: number;
  /** Highest bitrate, bit/s, default 8 Mbit/s. */
  maxBitrate?: number;
  /** Lowest bitrate, bit/s, default 300 kbit/s. */
  minBitrate?: number;
  /**
   * Follow the receiver's bandwidth estimate (transport-cc, read every `statsIntervalMs`) and its
   * loss, restarting the encoder at the new rate; default true. Off: the rate stays `startBitrate`.
   */
  adaptBitrate?: boolean;
  /** How often the transport's estimate is read, ms, default 500. */
  statsIntervalMs?: number;
  /** Share of the estimate the encoder may use, default 0.8 (RTCP, retransmissions and data channels need the rest). */
  bitrateHeadroom?: number;
  /** Fewest ms between two rate changes down, default 1000 (each costs an encoder restart and an IDR). */
  downRateIntervalMs?: number;
  /**
   * Fewest ms between two rate changes up, default 4000 (probing up slowly keeps queues empty);
   * each change down doubles it (up to 8×), each change up halves it back (BitrateController).
   */
  upRateIntervalMs?: number;
  /** Fewest ms between two keyframes asked by receivers (PLI/FIR; each restarts the encoder), default 1000. */
  keyframeIntervalMs?: number;
  /** How long an ending encoder may take to flush its frames before it is killed, ms, default 2000. */
  restartTimeoutMs?: number;
  /**
   * A frame whose packets have not reached the router this long after it was written means a stalled
   * encoder, ms, default 3000: the track is then reported lost (ENCODER_DIED) like a crash.
   */
  frameTimeoutMs?: number;
  /** RTP packet size, bytes, default 1200 (fits a 1280-byte path after SRTP, TURN and IPv6 headers). */
  packetSize?: number;
  /**
   * Video tracks (ffmpeg processes) the node runs at once, default 16: each costs a core's share
   * of encoding; past it `rtcConsumeVideo` is answered BUSY and the session keeps JPEG.
   */
  maxTracks?: number;
  /** Largest frame side the encoder accepts, px, default 4096. */
  maxFrameSide?: number;
  /**
   * What each frame's RTP timestamp says (RtpRelay), default 'taken': the time the encoder took
   * the frame. Chromium times playout from RTP timestamps against arrival, so stamps must follow
   * the frames' real, uneven pace: 'fps' (1/fps apart, ffmpeg's own) held each decoded frame
   * ~90 ms in bench webrtc-video. 'sent' stamps when the first packet left the encoder.
   */
  rtpStamp?: RtpStamp;
}

export type ResolvedVideoOptions = Required<Omit<VideoOptions, 'ffmpegPath'>> & { ffmpegPath: string; encoder?: H264EncoderName };

function check(value: number, path: string, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) throw new TypeError(`${path} must be a number in [${min}, ${max}]`);
}

export function resolveVideoOptions(options: VideoOptions = {}): ResolvedVideoOptions {
  const resolved: ResolvedVideoOptions = {
    ffmpegPath: options.ffmpegPath ?? (process.env.FFMPEG_PATH || 'ffmpeg'),
    allowNvenc: options.allowNvenc ?? false,
    preset: options.preset ?? 'superfast',
    fps: options.fps ?? 30,
    gop: options.gop ?? 300,
    startBitrate: options.startBitrate ?? 4_000_000,
    maxBitrate: options.maxBitrate ?? 8_000_000,
    minBitrate: options.minBitrate ?? 300_000,
    adaptBitrate: options.adaptBitrate ?? true,
    statsIntervalMs: options.statsIntervalMs ?? 500,
    bitrateHeadroom: options.bitrateHeadroom ?? 0.8,
    downRateIntervalMs: options.downRateIntervalMs ?? 1000,
    upRateIntervalMs: options.upRateIntervalMs ?? 4000,
    keyframeIntervalMs: options.keyframeIntervalMs ?? 1000,
    restartTimeoutMs: options.restartTimeoutMs ?? 2000,
    frameTimeoutMs: options.frameTimeoutMs ?? 3000,
    packetSize: options.packetSize ?? 1200,
    maxFrameSide: options.maxFrameSide ?? 4096,
    maxTracks: options.maxTracks ?? 16,
    rtpStamp: options.rtpStamp ?? 'taken',
  };
  if (!RTP_STAMPS.includes(resolved.rtpStamp)) throw new TypeError(`video.rtpStamp must be one of ${RTP_STAMPS.join(', ')}`);
  if (!X264_PRESETS.includes(resolved.preset)) throw new TypeError(`video.preset must be one of ${X264_PRESETS.join(', ')}`);
  check(resolved.maxTracks, 'video.maxTracks', 1, 100_000);
  check(resolved.fps, 'video.fps', 1, 240);
  check(resolved.gop, 'video.gop', 1, 10_000);
  check(resolved.minBitrate, 'video.minBitrate', 50_000, 1e9);
  check(resolved.maxBitrate, 'video.maxBitrate', resolved.minBitrate, 1e9);
  check(resolved.startBitrate, 'video.startBitrate', resolved.minBitrate, resolved.maxBitrate);
  check(resolved.statsIntervalMs, 'video.statsIntervalMs', 50, 60_000);
  check(resolved.bitrateHeadroom, 'video.bitrateHeadroom', 0.1, 1);
  for (const key of ['downRateIntervalMs', 'upRateIntervalMs', 'keyframeIntervalMs', 'restartTimeoutMs', 'frameTimeoutMs'] as const) check(resolved[key], `video.${key}`, 0, 600_000);
  check(resolved.packetSize, 'video.packetSize', 300, 1400);
  check(resolved.maxFrameSide, 'video.maxFrameSide', 16, 8192);
  return resolved;
}
