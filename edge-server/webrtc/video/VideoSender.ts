/**
 * One session's video track: rendered RGBA frames in, H.264 over the session's WebRtcTransport out.
 *
 *   frames → H264Encoder (ffmpeg, RTP) → RtpRelay (loopback: one SSRC, continuous sequence,
 *          wall-clock timestamps) → PlainTransport (loopback, comedia, rtcp-mux)
 *          → Producer (H.264 42e01f, packetization-mode 1) → Consumer on the session's WebRtcTransport
 *
 * Each `push` resolves with the RTP timestamp the frame went out with: the relay stamps each frame
 * from the monotonic clock when the encoder took it (90 kHz), and the producer's RTP trace says
 * which timestamp reached the router: since the encoder turns each frame into one access unit at
 * once and in order (no lookahead, no B-frames), the k-th new timestamp is the k-th frame written.
 * The session puts it in the `frame` answer (the pose side channel), for the client to match
 * decoded frames by RTP timestamp.
 *
 * Why wall-clock timestamps: Chromium's playout timing maps RTP timestamps to arrival times, and
 * frames that come at the renderer's uneven pace but are stamped 1/fps apart look like jitter it
 * buffers for (bench webrtc-video: 89.5 ms of 124 ms pose → shown was decoded → shown).
 *
 * The encoder restarts (stdin EOF; the relay carries the sequence and timestamps on across
 * processes) when the frame size changes, when a receiver asks for a keyframe (PLI/FIR: ffmpeg cannot be told), and when
 * bitrate adaptation (BitrateController) picks a new rate. An encoder that dies on its own is
 * reported as `lost` (ENCODER_DIED) and the sender closes: the session tells the client.
 */
import type { types } from 'mediasoup';
import { EnhancedEventEmitter } from '../../../protocol/EnhancedEventEmitter.js';
import { ErrorCode, InvalidStateError, RequestError } from '../../../protocol/errors.js';
import { Logger } from '../../../protocol/Logger.js';
import { VIDEO_CODEC, type RtcVideoParameters } from '../../../protocol/webrtcVideo.js';
import type { RtcTransport } from '../RtcTransport.js';
import { BitrateController } from './BitrateController.js';
import { H264Encoder, type EncoderSpec, type H264EncoderName } from './H264Encoder.js';
import { RtpRelay } from './RtpRelay.js';
import type { ResolvedVideoOptions } from './videoOptions.js';

const logger = new Logger('webrtc:video');

/** The producer's payload type on the loopback leg (the consumer's is the router's). */
const PRODUCER_PAYLOAD_TYPE = 101;
/** The consumer's media section id: not a number, so it never meets the ids a browser gives its own sections. */
export const VIDEO_MID = 'video';
const H264_PARAMETERS = { 'packetization-mode': 1, 'profile-level-id': VIDEO_CODEC.profileLevelId, 'level-asymmetry-allowed': 1 };
/** Header extensions the consumer stamps: mid (demux), abs-send-time and transport-cc (the receiver's bandwidth estimate). */
const VIDEO_EXTENSIONS = new Set([
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
]);

export type VideoSenderEvents = {
  /** The track stopped on its own (the encoder died): tell the client, who renders JPEG again. */
  lost: [error: RequestError];
  /** The encoder (re)started at this bitrate, bit/s. */
  bitrate: [bitrate: number, reason: string];
  close: [];
};

/** The receiver's loss on the consumer's stream, 0…1 (from its RTCP receiver reports). */
async function consumerLoss(consumer: types.Consumer): Promise<{ fractionLost?: number }> {
  const stats = (await consumer.getStats()) as { type: string; fractionLost?: number }[];
  const outbound = stats.find((s) => s.type === 'outbound-rtp');
  return outbound?.fractionLost !== undefined ? { fractionLost: outbound.fractionLost / 256 } : {};
}

interface Pending {
  encoder: H264Encoder;
  resolve: (rtpTimestamp: number) => void;
  reject: (error: Error) => void;
}

export class VideoSender extends EnhancedEventEmitter<VideoSenderEvents> {
  readonly #options: ResolvedVideoOptions;
  readonly #encoderName: H264EncoderName;
  readonly #plain: types.PlainTransport;
  readonly #consumer: types.Consumer;
  readonly #relay: RtpRelay;
  readonly #pending: Pending[] = [];
  readonly #rate: BitrateController | undefined;
  #encoder: H264Encoder | undefined;
  #restarting: Promise<void> | undefined;
  #bitrate: number;
  #lastTimestamp: number | undefined;
  #lastKeyframeAt = -Infinity;
  #closed = false;
  /** Frames sent, frames dropped because the encoder was behind, encoder restarts. */
  readonly stats = { frames: 0, dropped: 0, restarts: 0 };

  /** Builds the pipeline on `transport`'s router; the encoder starts with the first frame. */
  static async create(router: types.Router, transport: RtcTransport, options: ResolvedVideoOptions, encoderName: H264EncoderName): Promise<VideoSender> {
    const plain = await router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
    try {
      const ssrc = 1 + Math.floor(Math.random() * 0xfffffffe);
      const producer = await plain.produce({
        kind: 'video',
        rtpParameters: {
          codecs: [{ mimeType: VIDEO_CODEC.mimeType, payloadType: PRODUCER_PAYLOAD_TYPE, clockRate: VIDEO_CODEC.clockRate, parameters: H264_PARAMETERS, rtcpFeedback: [] }],
          encodings: [{ ssrc }],
        },
      });
      const caps = router.rtpCapabilities;
      const consumer = await transport.consumeVideo(producer.id, {
        codecs: (caps.codecs ?? []).filter((c) => c.mimeType.toLowerCase() === VIDEO_CODEC.mimeType.toLowerCase() && c.parameters?.['packetization-mode'] === 1),
        headerExtensions: (caps.headerExtensions ?? []).filter((h) => h.kind === 'video' && VIDEO_EXTENSIONS.has(h.uri)),
      }, VIDEO_MID);
      const relay = await RtpRelay.start({ target: { host: plain.tuple.localIp, port: plain.tuple.localPort }, ssrc, payloadType: PRODUCER_PAYLOAD_TYPE, maxPacketBytes: options.packetSize, stamp: options.rtpStamp, fps: options.fps });
      return new VideoSender(options, encoderName, plain, producer, consumer, relay, transport);
    } catch (err) {
      plain.close();
      throw err;
    }
  }

  private constructor(options: ResolvedVideoOptions, encoderName: H264EncoderName, plain: types.PlainTransport, producer: types.Producer, consumer: types.Consumer, relay: RtpRelay, transport: RtcTransport) {
    super();
    this.#options = options;
    this.#encoderName = encoderName;
    this.#plain = plain;
    this.#consumer = consumer;
    this.#relay = relay;
    this.#bitrate = options.startBitrate;
    // rejects only when the worker is already gone, which closes this sender anyway
    producer.enableTraceEvent(['rtp', 'pli', 'fir']).catch(() => {});
    producer.on('trace', (trace) => {
      if (trace.type === 'rtp') this.#onRtp(trace.info as { timestamp: number });
      else this.#keyframeAsked();
    });
    // the consumer closes with the session's transport (worker death, a new rtcOpen): so do we
    consumer.observer.once('close', () => this.close());
    if (options.adaptBitrate) {
      this.#rate = new BitrateController(options, () => this.#bitrate, async () => ({ ...(await transport.estimate()), ...(await consumerLoss(consumer)) }), (bitrate, reason) =>
        this.#setBitrate(bitrate, reason),
      );
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The encoder's bitrate now, bit/s. */
  get bitrate(): number {
    return this.#bitrate;
  }

  /** pid of the running ffmpeg (none before the first frame). */
  get encoderPid(): number | undefined {
    return this.#encoder?.pid;
  }

  /** What the client builds its SDP from (the `rtcVideo` answer, less t and id). */
  parameters(): RtcVideoParameters {
    const rtp = this.#consumer.rtpParameters;
    const codec = rtp.codecs[0]!;
    return {
      mid: rtp.mid ?? VIDEO_MID,
      payloadType: codec.payloadType,
      ssrc: rtp.encodings![0]!.ssrc!,
      cname: rtp.rtcp?.cname ?? 'edge-offload',
      fmtp: Object.entries(codec.parameters ?? {}).map(([k, v]) => `${k}=${v}`).join(';'),
      rtcpFeedback: (codec.rtcpFeedback ?? []).map((f) => ({ type: f.type, ...(f.parameter ? { parameter: f.parameter } : {}) })),
      headerExtensions: (rtp.headerExtensions ?? []).map((h) => ({ uri: h.uri, id: h.id })),
    };
  }

  /**
   * Encodes one RGBA frame; resolves with its RTP timestamp once its packets reached the router.
   * Rejects SLOW_CONSUMER when the encoder is behind (the frame is dropped, not queued).
   */
  async push(rgba: Uint8Array, width: number, height: number): Promise<number> {
    if (this.#closed) throw new InvalidStateError('the video track is closed');
    const max = this.#options.maxFrameSide;
    // yuv420p needs even sides
    if (width % 2 || height % 2 || width > max || height > max) throw new RequestError(ErrorCode.BAD_REQUEST, `video frames must have even sides up to ${max} px (got ${width}×${height})`);
    while (this.#restarting) await this.#restarting;
    if (this.#closed) throw new InvalidStateError('the video track is closed');
    const encoder = this.#encoder;
    if (!encoder || encoder.spec.width !== width || encoder.spec.height !== height) {
      await this.#restart({ width, height }, encoder ? 'frame size changed' : 'first frame');
      return this.push(rgba, width, height);
    }
    return new Promise<number>((resolve, reject) => {
      if (!encoder.write(rgba)) {
        this.stats.dropped++;
        reject(new RequestError(ErrorCode.SLOW_CONSUMER, 'the video encoder is behind: frame dropped'));
        return;
      }
      this.stats.frames++;
      this.#relay.frame();
      const timer = setTimeout(() => this.#stalled(encoder), this.#options.frameTimeoutMs);
      this.#pending.push({
        encoder,
        resolve: (ts) => {
          clearTimeout(timer);
          resolve(ts);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rate?.close();
    this.#encoder?.kill();
    this.#encoder = undefined;
    this.#rejectPending(undefined, new InvalidStateError('the video track closed'));
    this.#plain.close();
    this.#relay.close();
    this.safeEmit('close');
  }

  #onRtp(info: { timestamp: number }): void {
    if (info.timestamp === this.#lastTimestamp) return;
    this.#lastTimestamp = info.timestamp;
    this.#pending.shift()?.resolve(info.timestamp);
  }

  /** A frame never came out: the encoder hangs. Reported like a death (no frame would be matched right after it). */
  #stalled(encoder: H264Encoder): void {
    if (this.#closed || this.#encoder !== encoder) return;
    encoder.kill();
    this.safeEmit('lost', new RequestError(ErrorCode.ENCODER_DIED, `ffmpeg sent no frame for ${this.#options.frameTimeoutMs} ms; the encoder was stopped`));
    this.close();
  }

  #keyframeAsked(): void {
    const now = performance.now();
    if (!this.#encoder || this.#restarting || now - this.#lastKeyframeAt < this.#options.keyframeIntervalMs) return;
    this.#lastKeyframeAt = now;
    void this.#restart({}, 'keyframe asked (PLI/FIR)').catch(() => {});
  }

  #setBitrate(bitrate: number, reason: string): void {
    if (this.#closed || bitrate === this.#bitrate) return;
    this.#bitrate = bitrate;
    if (this.#encoder && !this.#restarting) void this.#restart({}, reason).catch(() => {});
  }

  /** Ends the running encoder (its frames still go out), then starts one with `changes`. */
  #restart(changes: Partial<Pick<EncoderSpec, 'width' | 'height'>>, reason: string): Promise<void> {
    const restarting = (async () => {
      const old = this.#encoder;
      if (old) {
        await old.end(this.#options.restartTimeoutMs);
        // its last packets may still be on their way through the worker: wait for their traces
        await this.#drained(old);
        this.#rejectPending(old, new RequestError(ErrorCode.SUPERSEDED, 'the video encoder restarted before this frame went out'));
      }
      if (this.#closed) return;
      // each encoder sends with its own SSRC (ffmpeg's -ssrc is a signed 32-bit option: below
      // 2^31), so the relay drops a finished one's stragglers; what leaves the relay has the track's
      const inputSsrc = 1 + Math.floor(Math.random() * 0x7ffffffe);
      this.#relay.source(inputSsrc);
      const spec: EncoderSpec = {
        ffmpeg: this.#options.ffmpegPath,
        encoder: this.#encoderName,
        preset: this.#options.preset,
        width: changes.width ?? old!.spec.width,
        height: changes.height ?? old!.spec.height,
        fps: this.#options.fps,
        bitrate: this.#bitrate,
        gop: this.#options.gop,
        rtpHost: this.#relay.host,
        rtpPort: this.#relay.port,
        payloadType: PRODUCER_PAYLOAD_TYPE,
        ssrc: inputSsrc,
        // the relay renumbers: any start will do
        firstSeq: 0,
        packetSize: this.#options.packetSize,
      };
      const encoder = new H264Encoder(spec);
      this.#encoder = encoder;
      this.stats.restarts++;
      logger.debug(`encoder ${encoder.pid} ${spec.width}×${spec.height} at ${spec.bitrate} bit/s (${reason})`);
      encoder.on('died', (error) => {
        if (this.#encoder !== encoder || this.#closed) return;
        this.safeEmit('lost', new RequestError(ErrorCode.ENCODER_DIED, error.message));
        this.close();
      });
      this.safeEmit('bitrate', spec.bitrate, reason);
    })();
    this.#restarting = restarting;
    return restarting.finally(() => {
      if (this.#restarting === restarting) this.#restarting = undefined;
    });
  }

  /** Resolves once no frame of `encoder` waits for its timestamp, or after restartTimeoutMs. */
  #drained(encoder: H264Encoder): Promise<void> {
    const deadline = performance.now() + this.#options.restartTimeoutMs;
    return new Promise((resolve) => {
      const check = () => {
        if (!this.#pending.some((p) => p.encoder === encoder) || performance.now() > deadline || this.#closed) resolve();
        else setTimeout(check, 5);
      };
      check();
    });
  }

  #rejectPending(encoder: H264Encoder | undefined, error: Error): void {
    for (let i = this.#pending.length - 1; i >= 0; i--) {
      const p = this.#pending[i]!;
      if (encoder && p.encoder !== encoder) continue;
      this.#pending.splice(i, 1);
      p.reject(error);
    }
  }
}
