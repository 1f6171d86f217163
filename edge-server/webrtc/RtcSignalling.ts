/**
 * One session's WebRTC signalling, independent of how the session frames its socket: `rtc*`
 * requests in, their answers out (for the session to send as it answers any request), `rtcLost`
 * notices through the host, and client data-channel messages handed to the host like frames from
 * its socket. This object owns the session's (at most one) RtcTransport; the session owns it and
 * closes it with itself.
 *
 * Data-channel messages pass a FrameGate like the socket's frames (issue #15, attack 2 over
 * WebRTC): mediasoup's worker channel hands this process a burst of messages in one read, and a
 * flooding peer's burst was handled whole before any other session's input. Here a "read" is an
 * event-loop turn with messages for this session: at most `frames.perRead` of them are handled in
 * it, the rest queue in order and drain one batch per turn. A data channel cannot be told to stop
 * (SCTP flow control ends in the media worker), so the queue is bounded by `frames.maxQueuedBytes`
 * alone: past it the host is told (`flooded`) and closes the session RATE_LIMITED, as on ws.
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, RequestError } from '../../protocol/errors.js';
import type { AckMessage } from '../../protocol/messages.js';
import type { RtcEdgeChannel, RtcMessageOf } from '../../protocol/webrtc.js';
import type { RtcVideoMessageOf } from '../../protocol/webrtcVideo.js';
import { VideoSender } from './video/VideoSender.js';
import { TokenBucket } from '../TokenBucket.js';
import { FrameGate, type FrameGateOptions, type PausableSource } from '../admission/FrameGate.js';
import type { RtcTransport } from './RtcTransport.js';
import type { WorkerPool } from './WorkerPool.js';

/** The signalling requests a client sends (decoded and schema-checked by the session's codec). */
export type RtcRequest = RtcMessageOf<'rtcOpen' | 'rtcConnect' | 'rtcProduceData' | 'rtcConsumeData'> | RtcVideoMessageOf<'rtcConsumeVideo'>;

export type RtcAnswer = RtcMessageOf<'rtcTransport'> | RtcMessageOf<'rtcDataConsumer'> | RtcVideoMessageOf<'rtcVideo'> | AckMessage;

export interface RtcSignallingHost {
  readonly sessionId: string;
  /** Sends a notice that answers no request (`rtcLost`, `rtcVideoLost`) on the session socket. */
  notify(message: RtcMessageOf<'rtcLost'> | RtcVideoMessageOf<'rtcVideoLost'>): void;
  /** A wire message from a client data channel: handle it as one from the socket. */
  receive(data: Buffer): void;
  /** More than `frames.maxQueuedBytes` of data-channel messages wait to be handled: close the session. */
  flooded(queuedBytes: number): void;
}

/** The data channel's "socket reads" for the FrameGate: one per event-loop turn with messages. */
class TurnReads extends EventEmitter {
  #inTurn = false;

  /** Called before each message: the first of a turn starts a new read. */
  mark(): void {
    if (this.#inTurn) return;
    this.#inTurn = true;
    this.emit('data');
    setImmediate(() => (this.#inTurn = false));
  }
}

/** Nothing to pause: the peer's SCTP stream ends in the media worker, not in this process. */
const NO_PUSHBACK: PausableSource = { pause() {}, resume() {} };

export interface RtcSignallingOptions {
  /**
   * Transports a session may open per minute (each `rtcOpen` costs the worker ports, ICE and DTLS
   * state), default 6 with a burst of 3: enough to reopen after a worker death or an ICE failure.
   */
  opensPerMinute?: number;
  opensBurst?: number;
  /** Data-channel messages handled per turn and queued at most (the session's FrameGate options). @default FrameGate's */
  frames?: FrameGateOptions;
}

export class RtcSignalling {
  readonly #pool: WorkerPool;
  readonly #host: RtcSignallingHost;
  readonly #opens: TokenBucket;
  readonly #reads = new TurnReads();
  readonly #gate: FrameGate;
  #transport: RtcTransport | undefined;
  #video: VideoSender | undefined;
  #closed = false;

  constructor(pool: WorkerPool, host: RtcSignallingHost, options: RtcSignallingOptions = {}) {
    this.#pool = pool;
    this.#host = host;
    this.#opens = new TokenBucket((options.opensPerMinute ?? 6) / 60, options.opensBurst ?? 3);
    this.#gate = new FrameGate(this.#reads, NO_PUSHBACK, (data) => host.receive(data), (bytes) => host.flooded(bytes), options.frames);
  }

  get transport(): RtcTransport | undefined {
    return this.#transport;
  }

  /** The session's video track, once `rtcConsumeVideo` set it up (and until it stops). */
  get video(): VideoSender | undefined {
    return this.#video;
  }

  /**
   * Serves one signalling request, already checked against its schema by `decode` (the one
   * validation path, protocol/codec.ts), and resolves with its answer. Rejects with a
   * RequestError carrying a code, for the session to answer as `error { id, code }`.
   */
  async handle(message: RtcRequest): Promise<RtcAnswer> {
    if (this.#closed) throw new RequestError(ErrorCode.SHUTTING_DOWN, 'the session is closing');
    switch (message.t) {
      case 'rtcOpen':
        return this.#open(message);
      case 'rtcConnect':
        await this.#current().connect(message.dtlsParameters);
        return { t: 'ack', id: message.id };
      case 'rtcProduceData':
        await this.#current().produceData(message.channel, message.sctpStreamParameters);
        return { t: 'ack', id: message.id };
      case 'rtcConsumeData': {
        const sctpStreamParameters = await this.#current().consumeData(message.channel);
        return { t: 'rtcDataConsumer', id: message.id, channel: message.channel, sctpStreamParameters };
      }
      case 'rtcConsumeVideo':
        return this.#consumeVideo(message);
    }
  }

  /** Sends on the edge's data channel; false when it is not open (the caller uses the socket). */
  send(channel: RtcEdgeChannel, data: Uint8Array): boolean {
    return this.#transport?.send(channel, data) ?? false;
  }

  close(): void {
    this.#closed = true;
    this.#gate.close();
    this.#video?.close();
    this.#video = undefined;
    this.#transport?.close();
    this.#transport = undefined;
  }

  async #open(message: RtcMessageOf<'rtcOpen'>): Promise<RtcMessageOf<'rtcTransport'>> {
    if (!this.#opens.take()) throw new RequestError(ErrorCode.RATE_LIMITED, 'too many rtcOpen; wait, or stay on ws');
    // one transport per session: a new open replaces the old one (an ICE restart the simple way)
    this.#transport?.close();
    this.#transport = undefined;
    const transport = await this.#pool.createTransport(this.#host.sessionId);
    if (this.#closed) {
      transport.close();
      throw new RequestError(ErrorCode.SHUTTING_DOWN, 'the session is closing');
    }
    this.#transport = transport;
    transport.on('message', (_channel, data) => {
      this.#reads.mark();
      this.#gate.receive(data, true);
    });
    transport.on('lost', (error) => {
      if (this.#transport === transport) this.#transport = undefined;
      this.#host.notify({ t: 'rtcLost', code: error.code, reason: error.message.slice(0, 256), retryAfterMs: this.#pool.options.respawnDelayMs });
    });
    return { t: 'rtcTransport', id: message.id, ...transport.info() };
  }

  async #consumeVideo(message: RtcVideoMessageOf<'rtcConsumeVideo'>): Promise<RtcVideoMessageOf<'rtcVideo'>> {
    const transport = this.#current();
    const video = this.#pool.video;
    if (video instanceof Error) throw video;
    const options = this.#pool.options.video;
    if (!options) throw new RequestError(ErrorCode.VIDEO_UNAVAILABLE, 'video is off on this node');
    if (this.#video && !this.#video.closed) throw new RequestError(ErrorCode.BAD_REQUEST, 'this transport already has a video track');
    const router = this.#pool.routerOf(transport);
    if (!router) throw new RequestError(ErrorCode.TRANSPORT_LOST, 'the transport has no live media worker; send rtcOpen');
    if (this.#pool.videoTracks >= options.maxTracks) throw new RequestError(ErrorCode.BUSY, `this node encodes ${options.maxTracks} video tracks already; render jpeg`);
    // counted from now: concurrent requests cannot all pass the check above while one awaits
    this.#pool.videoTracks++;
    let sender: VideoSender;
    try {
      sender = await VideoSender.create(router, transport, { ...options, ffmpegPath: video.ffmpeg.path }, video.encoder);
    } catch (err) {
      this.#pool.videoTracks--;
      throw err;
    }
    sender.once('close', () => this.#pool.videoTracks--);
    if (this.#closed || this.#transport !== transport || transport.closed) {
      sender.close();
      throw new RequestError(ErrorCode.TRANSPORT_LOST, 'the transport closed while the video track was being set up');
    }
    this.#video = sender;
    sender.on('lost', (error) => this.#host.notify({ t: 'rtcVideoLost', code: error.code, reason: error.message.slice(0, 256) }));
    sender.once('close', () => {
      if (this.#video === sender) this.#video = undefined;
    });
    return { t: 'rtcVideo', id: message.id, ...sender.parameters() };
  }

  #current(): RtcTransport {
    if (!this.#transport || this.#transport.closed) throw new RequestError(ErrorCode.BAD_REQUEST, 'no WebRTC transport: send rtcOpen first');
    return this.#transport;
  }
}
