/**
 * One ffmpeg process turning raw RGBA frames (stdin) into H.264 RTP packets sent to a mediasoup
 * PlainTransport on loopback: libx264 `superfast` (by default) + `zerolatency` (no lookahead, no
 * B-frames: each frame written comes out as one access unit at once, in order, which is what lets
 * VideoSender match RTP timestamps to frames by counting), Main profile (CABAC), or h264_nvenc in
 * its low-latency mode.
 *
 * Why superfast and Main, not ultrafast and Baseline: `bench webrtc-video` measures ultrafast at
 * 0.31× JPEG's bits at JPEG q80's SSIM on its textured scene, superfast + Main at under 0.2×, for
 * about 1.5 ms more encode per 640×360 frame on one core (ultrafast turns off CABAC, motion search
 * beyond a diamond, sub-pixel refinement and the deblocking-aware decisions).
 *
 * ffmpeg cannot change its bitrate or size while running: VideoSender ends this process (stdin
 * EOF: every frame written still goes out) and starts another; RtpRelay, between them and the
 * PlainTransport, makes one stream of them (SSRC, sequence, timestamps).
 * A process that exits without being asked to is reported as `died` (EncoderDiedError), with the
 * end of its stderr; never silently.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { EnhancedEventEmitter } from '../../../protocol/EnhancedEventEmitter.js';
import { ErrorCode } from '../../../protocol/errors.js';
import { Logger } from '../../../protocol/Logger.js';

const logger = new Logger('webrtc:encoder');

export type H264EncoderName = 'libx264' | 'h264_nvenc';

/** libx264 presets the edge accepts: the ones that encode a frame in a few ms (slower ones add lookahead-free but costly analysis). */
export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster'] as const;
export type X264Preset = (typeof X264_PRESETS)[number];

export interface EncoderSpec {
  ffmpeg: string;
  encoder: H264EncoderName;
  /** libx264's speed/efficiency trade (ignored by h264_nvenc). */
  preset: X264Preset;
  width: number;
  height: number;
  /** Frames per second the rate control budgets for (frames may come slower). */
  fps: number;
  /** Target (and VBV max) bitrate, bits per second. */
  bitrate: number;
  /** Frames between IDR frames. */
  gop: number;
  /** Where the RTP goes (the track's RtpRelay on loopback). */
  rtpHost: string;
  rtpPort: number;
  /** The UDP port ffmpeg sends from; default: one the system picks. */
  localPort?: number;
  payloadType: number;
  ssrc: number;
  /** First RTP sequence number (the relay renumbers; fixed for offline runs and tests). */
  firstSeq: number;
  /** RTP packet size, bytes (under the path MTU with SRTP and TURN overhead). */
  packetSize: number;
}

export class EncoderDiedError extends Error {
  override readonly name = 'EncoderDiedError';
  readonly code = ErrorCode.ENCODER_DIED;
}

export type H264EncoderEvents = {
  /** The process exited without being asked to (crash, kill -9, bad arguments). */
  died: [error: EncoderDiedError];
};

/** ffmpeg's arguments for `spec` (exported for the bench's offline runs and for tests). */
export function ffmpegArgs(spec: EncoderSpec): string[] {
  // VBV buffer of 100 ms: a frame (a keyframe too) never takes more than ~100 ms of the link,
  // which bounds the latency a big frame adds on a capped link. Smaller buffers were measured
  // (bench webrtc-video, getStats): one frame's budget cost bits at equal SSIM (0.249× JPEG at
  // q80's SSIM instead of 0.192×), two frames' 0.204×, and neither kept Chromium's jitter-buffer
  // target low under the cap (58-210 ms per frame with one keyframe in the timed frames): what it
  // holds there follows the queueing on the capped link, not the keyframes' size
  const bufsize = Math.max(1000, Math.round(spec.bitrate / 10));
  const codec =
    spec.encoder === 'h264_nvenc'
      ? ['-c:v', 'h264_nvenc', '-preset', 'p1', '-tune', 'ull', '-zerolatency', '1', '-rc', 'cbr', '-delay', '0']
      : ['-c:v', 'libx264', '-preset', spec.preset, '-tune', 'zerolatency', '-x264-params', `keyint=${spec.gop}:min-keyint=${spec.gop}:scenecut=0`];
  return [
    '-hide_banner',
    '-loglevel', 'error',
    '-nostats',
    '-f', 'rawvideo',
    '-pix_fmt', 'rgba',
    '-s', `${spec.width}x${spec.height}`,
    '-framerate', String(spec.fps),
    '-i', 'pipe:0',
    '-an',
    ...codec,
    '-bf', '0',
    '-g', String(spec.gop),
    // Main: CABAC (Baseline has only CAVLC); what VIDEO_CODEC.profileLevelId (4d001f) says
    '-profile:v', 'main',
    '-pix_fmt', 'yuv420p',
    '-b:v', String(spec.bitrate),
    '-maxrate', String(spec.bitrate),
    '-bufsize', String(bufsize),
    // one output frame per input frame, stamped as it came (no duplication or dropping to a rate)
    '-fps_mode', 'passthrough',
    '-flush_packets', '1',
    // the consumer's RTCP is mediasoup's own; ours would come from another port and be dropped
    '-rtpflags', 'skip_rtcp',
    '-f', 'rtp',
    '-payload_type', String(spec.payloadType),
    '-ssrc', String(spec.ssrc | 0),
    '-seq', String(spec.firstSeq),
    `rtp://${spec.rtpHost}:${spec.rtpPort}?pkt_size=${spec.packetSize}${spec.localPort === undefined ? '' : `&localrtpport=${spec.localPort}&localrtcpport=${spec.localPort + 1}`}`,
  ];
}

export class H264Encoder extends EnhancedEventEmitter<H264EncoderEvents> {
  readonly spec: EncoderSpec;
  readonly #child: ChildProcessByStdio<Writable, null, Readable>;
  readonly #exited: Promise<void>;
  #stderr = '';
  #ending = false;
  #exitedFlag = false;
  /** Frames written to this process. */
  written = 0;

  constructor(spec: EncoderSpec) {
    super();
    this.spec = spec;
    this.#child = spawn(spec.ffmpeg, ffmpegArgs(spec), { stdio: ['pipe', 'ignore', 'pipe'] });
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      // the end of stderr says why ffmpeg stopped; keep only that
      this.#stderr = (this.#stderr + chunk).slice(-2048);
    });
    // EPIPE after the process died: the exit handler reports it
    this.#child.stdin.on('error', (err) => logger.debug(`ffmpeg ${this.#child.pid} stdin: ${err.message}`));
    this.#exited = new Promise((resolve) => {
      this.#child.on('error', (err) => {
        this.#stderr += `\n${err.message}`;
        this.#onExit(null, null);
        resolve();
      });
      this.#child.on('exit', (code, signal) => {
        this.#onExit(code, signal);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Still taking frames. */
  get running(): boolean {
    return !this.#ending && !this.#exitedFlag;
  }

  /**
   * Writes one frame (width × height × 4 bytes, RGBA). False when the process is not taking frames
   * or its pipe is full (the encoder is behind: the frame is dropped rather than queued).
   */
  write(rgba: Uint8Array): boolean {
    if (!this.running) return false;
    if (rgba.byteLength !== this.spec.width * this.spec.height * 4) {
      throw new RangeError(`frame has ${rgba.byteLength} bytes, the encoder takes ${this.spec.width}×${this.spec.height}×4`);
    }
    if (this.#child.stdin.writableNeedDrain) return false;
    this.#child.stdin.write(rgba);
    this.written++;
    return true;
  }

  /** Closes stdin: ffmpeg encodes and sends every frame written, then exits. Resolves on exit. */
  end(timeoutMs: number): Promise<void> {
    if (!this.#ending) {
      this.#ending = true;
      this.#child.stdin.end();
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
      timer.unref();
      void this.#exited.then(() => clearTimeout(timer));
    }
    return this.#exited;
  }

  /** Stops the process now; frames not yet sent are lost. */
  kill(): void {
    this.#ending = true;
    if (!this.#exitedFlag) this.#child.kill('SIGKILL');
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#exitedFlag) return;
    this.#exitedFlag = true;
    if (this.#ending) return;
    const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
    const tail = this.#stderr.trim().split('\n').slice(-3).join(' | ');
    const error = new EncoderDiedError(`ffmpeg (${this.spec.encoder}) ${why}${tail ? `: ${tail}` : ''}`.slice(0, 1024));
    logger.warn(error.message);
    this.safeEmit('died', error);
  }
}
