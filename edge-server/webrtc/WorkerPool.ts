/**
 * The edge's mediasoup workers: one process per core it is given, one Router each (H.264 video
 * and SCTP data channels), and per-session transports placed on the least-loaded live worker.
 *
 * A worker can die (a crash, an OOM kill, `kill -9`). Its transports die with it and cannot be
 * moved (ICE and DTLS state lived in that process), so the pool tells each affected transport
 * (`lost`, which the session relays as `rtcLost` so the client opens a new transport on a live
 * worker, the ws session meanwhile carrying on) and reports the sessions in `workerdied`; then it
 * starts a replacement, backing off if workers keep dying. No session is lost silently.
 *
 *   const pool = await WorkerPool.create({ workers: 2 });
 *   const transport = await pool.createTransport(sessionId);
 *   pool.on('workerdied', (pid, sessionIds) => …);
 */
import type { types } from 'mediasoup';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import { ErrorCode, InvalidStateError, RequestError } from '../../protocol/errors.js';
import { Logger } from '../../protocol/Logger.js';
import { RtcTransport } from './RtcTransport.js';
import { ROUTER_MEDIA_CODECS, SCTP_STREAMS, resolveWebRtcOptions, type ResolvedWebRtcOptions, type WebRtcOptions } from './options.js';
import { loadMediasoup } from './workerBin.js';
import { probeFfmpeg, type FfmpegInfo } from './video/ffmpegProbe.js';
import type { H264EncoderName } from './video/H264Encoder.js';

const logger = new Logger('webrtc:pool');

type Mediasoup = Awaited<ReturnType<typeof loadMediasoup>>;

export type WorkerPoolEvents = {
  /** A worker died; `sessionIds` are the sessions whose transports it took (each got `lost`). */
  workerdied: [pid: number, sessionIds: string[], error: Error];
  /** A worker (first or replacement) is serving. */
  workerstarted: [pid: number];
  close: [];
};

interface Slot {
  worker: types.Worker;
  router: types.Router;
  transports: Set<RtcTransport>;
}

export interface WorkerInfo {
  pid: number;
  transports: number;
}

export class WorkerPool extends EnhancedEventEmitter<WorkerPoolEvents> {
  readonly options: ResolvedWebRtcOptions;
  readonly #mediasoup: Mediasoup;
  readonly #slots = new Set<Slot>();
  /** Replacements being started, so createTransport can wait for one. */
  readonly #starting = new Set<Promise<Slot | undefined>>();
  /** The encoder video tracks use, or why the node sends no video (VIDEO_UNAVAILABLE). */
  #video: { ffmpeg: FfmpegInfo; encoder: H264EncoderName } | RequestError = new RequestError(ErrorCode.VIDEO_UNAVAILABLE, 'video is off on this node (webrtc.video: false)');
  #deathsInARow = 0;
  /** Video tracks running on this node (RtcSignalling counts them against video.maxTracks). */
  videoTracks = 0;
  #closed = false;

  /** Starts `options.workers` workers; rejects (MediasoupUnavailableError) when mediasoup is missing. */
  static async create(options: WebRtcOptions = {}): Promise<WorkerPool> {
    const resolved = resolveWebRtcOptions(options);
    const pool = new WorkerPool(await loadMediasoup(), resolved);
    try {
      await Promise.all([...Array.from({ length: resolved.workers }, () => pool.#start()), pool.#probeVideo()]);
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  private constructor(mediasoup: Mediasoup, options: ResolvedWebRtcOptions) {
    super();
    this.#mediasoup = mediasoup;
    this.options = options;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get workers(): WorkerInfo[] {
    return [...this.#slots].map((s) => ({ pid: s.worker.pid, transports: s.transports.size }));
  }

  /** The H.264 encoder video tracks use, or the RequestError (VIDEO_UNAVAILABLE) saying why there is none. */
  get video(): { ffmpeg: FfmpegInfo; encoder: H264EncoderName } | RequestError {
    return this.#video;
  }

  /** Finds ffmpeg once at start: the `video` capability is advertised only when it is there. */
  async #probeVideo(): Promise<void> {
    const options = this.options.video;
    if (!options) return;
    try {
      const ffmpeg = await probeFfmpeg(options.ffmpegPath);
      const encoder = options.allowNvenc && ffmpeg.encoders.has('h264_nvenc') ? 'h264_nvenc' : 'libx264';
      if (!ffmpeg.encoders.has(encoder)) throw new RequestError(ErrorCode.VIDEO_UNAVAILABLE, `${ffmpeg.path} lacks ${encoder}; install Debian's ffmpeg (scripts/install-ffmpeg.sh)`);
      this.#video = { ffmpeg, encoder };
    } catch (err) {
      this.#video = err instanceof RequestError ? err : new RequestError(ErrorCode.VIDEO_UNAVAILABLE, String(err));
      logger.warn(`no video over WebRTC: ${this.#video.message}`);
    }
  }

  /** The router of the worker serving `transport` (for media producers added later). */
  routerOf(transport: RtcTransport): types.Router | undefined {
    for (const slot of this.#slots) if (slot.transports.has(transport)) return slot.router;
    return undefined;
  }

  /**
   * A new WebRtcTransport (ICE-lite, DTLS, SCTP) for `sessionId` on the least-loaded live worker,
   * waiting up to `workerWaitTimeoutMs` while a dead worker is being replaced.
   */
  async createTransport(sessionId: string): Promise<RtcTransport> {
    const slot = await this.#liveSlot();
    const o = this.options;
    const webRtc = await slot.router.createWebRtcTransport({
      listenIps: o.listenIps.map(({ ip, announcedIp }) => (announcedIp ? { ip, announcedIp } : { ip })),
      enableUdp: o.enableUdp,
      enableTcp: o.enableTcp,
      preferUdp: true,
      enableSctp: true,
      numSctpStreams: SCTP_STREAMS,
      maxSctpMessageSize: o.maxMessageSize,
      initialAvailableOutgoingBitrate: o.initialAvailableOutgoingBitrate,
      appData: { sessionId },
    });
    let direct: types.DirectTransport;
    try {
      direct = await slot.router.createDirectTransport({ maxMessageSize: o.maxMessageSize });
    } catch (err) {
      webRtc.close();
      throw err;
    }
    const transport = new RtcTransport(sessionId, slot.worker.pid, o.maxMessageSize, webRtc, direct);
    if (this.#closed || !this.#slots.has(slot)) {
      // the worker died (or the pool closed) while we awaited: say so rather than hand out a corpse
      transport.close();
      throw new RequestError(ErrorCode.TRANSPORT_LOST, 'the media worker died while the transport was being created; try again');
    }
    slot.transports.add(transport);
    transport.once('close', () => slot.transports.delete(transport));
    return transport;
  }

  /** Closes every transport and worker; pending createTransport calls reject. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of this.#slots) {
      for (const transport of [...slot.transports]) transport.close();
      slot.worker.close();
    }
    this.#slots.clear();
    this.safeEmit('close');
  }

  async #liveSlot(): Promise<Slot> {
    if (this.#closed) throw new InvalidStateError('the WebRTC worker pool is closed');
    // no live worker: wait for a replacement (one that fails to start is retried with backoff)
    const deadline = performance.now() + this.options.workerWaitTimeoutMs;
    while (this.#slots.size === 0 && this.#starting.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, left))), ...this.#starting]);
      clearTimeout(timer);
      if (this.#closed) throw new InvalidStateError('the WebRTC worker pool is closed');
    }
    let best: Slot | undefined;
    for (const slot of this.#slots) if (!best || slot.transports.size < best.transports.size) best = slot;
    if (!best) throw new RequestError(ErrorCode.TRANSPORT_LOST, `no media worker came up within ${this.options.workerWaitTimeoutMs} ms; stay on ws`);
    if (best.transports.size >= this.options.maxTransportsPerWorker) {
      throw new RequestError(ErrorCode.BUSY, `every media worker serves ${this.options.maxTransportsPerWorker} transports; stay on ws`);
    }
    return best;
  }

  /** Starts one worker and its router; the first start failing rejects, a replacement's only logs. */
  async #start(): Promise<Slot> {
    const o = this.options;
    const worker = await this.#mediasoup.createWorker({
      logLevel: o.logLevel,
      rtcMinPort: o.rtcMinPort,
      rtcMaxPort: o.rtcMaxPort,
      ...(o.dtlsCertificateFile ? { dtlsCertificateFile: o.dtlsCertificateFile, dtlsPrivateKeyFile: o.dtlsPrivateKeyFile } : {}),
    });
    let router: types.Router;
    try {
      router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
    } catch (err) {
      worker.close();
      throw err;
    }
    const slot: Slot = { worker, router, transports: new Set() };
    if (this.#closed) {
      worker.close();
      return slot;
    }
    this.#slots.add(slot);
    worker.on('died', (error) => this.#onDied(slot, error));
    logger.debug(`worker ${worker.pid} started`);
    this.safeEmit('workerstarted', worker.pid);
    return slot;
  }

  #onDied(slot: Slot, error: Error): void {
    if (!this.#slots.delete(slot)) return;
    const lost = [...slot.transports];
    slot.transports.clear();
    logger.warn(`worker ${slot.worker.pid} died (${error.message}); ${lost.length} session transport(s) lost`);
    const reason = new RequestError(ErrorCode.TRANSPORT_LOST, `media worker ${slot.worker.pid} died; open a new transport`);
    for (const transport of lost) transport.lose(reason);
    this.safeEmit(
      'workerdied',
      slot.worker.pid,
      lost.map((t) => t.sessionId),
      error,
    );
    this.#replace();
  }

  /** Starts a replacement after a backoff that doubles per death or failed start in a row. */
  #replace(): void {
    if (this.#closed) return;
    const delay = Math.min(this.options.respawnDelayMs * 2 ** this.#deathsInARow, this.options.maxRespawnDelayMs);
    this.#deathsInARow++;
    const replacement: Promise<Slot | undefined> = new Promise<void>((resolve) => setTimeout(resolve, delay))
      .then(() => (this.#closed ? undefined : this.#start()))
      .then(
        (started) => {
          // a replacement that stays up ends the crash streak
          if (started) setTimeout(() => this.#slots.has(started) && (this.#deathsInARow = 0), this.options.maxRespawnDelayMs).unref();
          return started;
        },
        (err: Error) => {
          logger.error(`could not start a replacement worker (${err.message}); trying again`);
          this.#replace();
          return undefined;
        },
      )
      .finally(() => this.#starting.delete(replacement));
    this.#starting.add(replacement);
  }
}
