/**
 * One session's WebRTC presence on the edge: a WebRtcTransport the client connects to, plus a
 * DirectTransport through which this process reads the client's data channels (poses, predicts)
 * and writes its own (predictions). Messages on the channels are the session's ordinary wire
 * messages; the session handler treats `message` events like frames from its ws.
 *
 * Every method parses its argument with the protocol/webrtc.ts schema again, even when the
 * handler already did: nothing unchecked reaches the worker, which serves other sessions too.
 * A mediasoup rejection of well-formed input (connecting twice, a stream id in use) is a
 * RequestError BAD_REQUEST; the worker and the session carry on.
 */
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { types } from 'mediasoup';
import { ErrorCode, InvalidStateError, RequestError } from '../../protocol/errors.js';
import { DEFAULT_LIMITS } from '../../protocol/limits.js';
import { Logger } from '../../protocol/Logger.js';
import {
  RTC_CLIENT_CHANNELS,
  RTC_EDGE_CHANNELS,
  clientStreamParametersSchema,
  dtlsParametersSchema,
  rtcSchemas,
  type RtcClientChannel,
  type RtcEdgeChannel,
  type RtcMessageOf,
  type RtcSctpStreamParameters,
} from '../../protocol/webrtc.js';
import { oneOf } from '../../protocol/schema.js';

const logger = new Logger('webrtc:transport');

export type RtcTransportEvents = {
  /** A message on one of the client's data channels. */
  message: [channel: RtcClientChannel, data: Buffer];
  /** The transport died under the session (worker death): the client must open a new one. */
  lost: [error: RequestError];
  close: [];
};

export type RtcTransportInfo = Omit<RtcMessageOf<'rtcTransport'>, 't' | 'id'>;

const clientChannel = oneOf(RTC_CLIENT_CHANNELS);
const edgeChannel = oneOf(RTC_EDGE_CHANNELS);

/** mediasoup's own errors on valid-looking input become the peer's BAD_REQUEST. */
function rejected(what: string, err: unknown): RequestError {
  return new RequestError(ErrorCode.BAD_REQUEST, `${what}: ${(err as Error)?.message ?? String(err)}`.slice(0, 512));
}

export class RtcTransport extends EnhancedEventEmitter<RtcTransportEvents> {
  readonly sessionId: string;
  /** pid of the worker serving this transport. */
  readonly workerPid: number;
  /** Largest message either way; a bigger one is refused by `send` (the worker would drop it). */
  readonly maxMessageSize: number;
  readonly #webRtc: types.WebRtcTransport;
  readonly #direct: types.DirectTransport;
  readonly #producers = new Map<RtcClientChannel, { fromClient: types.DataProducer; toEdge: types.DataConsumer }>();
  readonly #consumers = new Map<RtcEdgeChannel, { fromEdge: types.DataProducer; toClient: types.DataConsumer }>();
  #connected = false;
  #closed = false;

  /** Use WorkerPool.createTransport(). */
  constructor(sessionId: string, workerPid: number, maxMessageSize: number, webRtc: types.WebRtcTransport, direct: types.DirectTransport) {
    super();
    this.sessionId = sessionId;
    this.workerPid = workerPid;
    this.maxMessageSize = maxMessageSize;
    this.#webRtc = webRtc;
    this.#direct = direct;
    // mediasoup closes a dead worker's routers (and so this transport) just before it emits the
    // worker's `died`, on which the pool reports the session as lost. Should anything else close
    // the router under us, the session still hears of it.
    // A failed DTLS handshake (a fingerprint that does not match the client's certificate, a
    // client that gave up) never recovers: the client must open a new transport.
    webRtc.on('dtlsstatechange', (state) => {
      if (state === 'failed') this.lose(new RequestError(ErrorCode.TRANSPORT_LOST, 'the DTLS handshake failed; open a new transport'));
    });
    webRtc.observer.once('close', () => {
      if (!this.#closed) queueMicrotask(() => this.lose(new RequestError(ErrorCode.TRANSPORT_LOST, 'the media router closed; open a new transport')));
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get id(): string {
    return this.#webRtc.id;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** What the client needs to reach this transport (the `rtcTransport` answer, less t and id). */
  info(): RtcTransportInfo {
    const t = this.#webRtc;
    return {
      transportId: t.id,
      iceParameters: { ...t.iceParameters },
      iceCandidates: t.iceCandidates.map((c) => ({
        foundation: c.foundation,
        priority: c.priority,
        ip: c.ip,
        protocol: c.protocol,
        port: c.port,
        type: c.type,
        ...(c.tcpType ? { tcpType: c.tcpType } : {}),
      })),
      dtlsParameters: { role: t.dtlsParameters.role, fingerprints: t.dtlsParameters.fingerprints.map((f) => ({ ...f })) } as RtcTransportInfo['dtlsParameters'],
      sctpParameters: { ...t.sctpParameters! },
    };
  }

  /** The client's DTLS parameters (`rtcConnect`); once per transport. */
  async connect(dtlsParameters: unknown): Promise<void> {
    const parsed = dtlsParametersSchema.parse(dtlsParameters, 'dtlsParameters', DEFAULT_LIMITS);
    if (parsed.fingerprints.length === 0) throw new RequestError(ErrorCode.BAD_REQUEST, 'dtlsParameters.fingerprints is empty');
    this.#assertOpen();
    if (this.#connected) throw new RequestError(ErrorCode.BAD_REQUEST, 'the transport is already connected');
    this.#connected = true; // before the await: a second connect racing this one is refused too
    try {
      await this.#webRtc.connect({ dtlsParameters: parsed as types.DtlsParameters });
    } catch (err) {
      this.#connected = false;
      throw rejected('connect', err);
    }
  }

  /** The client opens `channel` on `sctpStreamParameters.streamId` (`rtcProduceData`). */
  async produceData(channel: unknown, sctpStreamParameters: unknown): Promise<void> {
    const name = clientChannel.parse(channel, 'channel', DEFAULT_LIMITS);
    const stream = clientStreamParametersSchema.parse(sctpStreamParameters, 'sctpStreamParameters', DEFAULT_LIMITS);
    this.#assertOpen();
    if (this.#producers.has(name)) throw new RequestError(ErrorCode.BAD_REQUEST, `channel '${name}' is already open`);
    let fromClient: types.DataProducer | undefined;
    try {
      fromClient = await this.#webRtc.produceData({ sctpStreamParameters: stream, label: name, protocol: '' });
      const toEdge = await this.#direct.consumeData({ dataProducerId: fromClient.id });
      this.#producers.set(name, { fromClient, toEdge });
      toEdge.on('message', (data) => this.safeEmit('message', name, data));
    } catch (err) {
      fromClient?.close();
      throw rejected(`produceData(${name})`, err);
    }
  }

  /**
   * Opens the edge's `channel` towards the client (`rtcConsumeData`): unordered and never
   * retransmitted, since a late prediction is worse than none. Returns the stream the client
   * opens its negotiated channel on.
   */
  async consumeData(channel: unknown): Promise<RtcSctpStreamParameters> {
    const name = edgeChannel.parse(channel, 'channel', DEFAULT_LIMITS);
    this.#assertOpen();
    if (this.#consumers.has(name)) throw new RequestError(ErrorCode.BAD_REQUEST, `channel '${name}' is already open`);
    let fromEdge: types.DataProducer | undefined;
    try {
      fromEdge = await this.#direct.produceData({ label: name, protocol: '' });
      const toClient = await this.#webRtc.consumeData({ dataProducerId: fromEdge.id, ordered: false, maxRetransmits: 0 });
      this.#consumers.set(name, { fromEdge, toClient });
      const { streamId, ordered, maxRetransmits, maxPacketLifeTime } = toClient.sctpStreamParameters!;
      return rtcSchemas.rtcDataConsumer.parse(
        { t: 'rtcDataConsumer', id: 0, channel: name, sctpStreamParameters: { streamId, ordered, maxRetransmits, maxPacketLifeTime } },
        'rtcDataConsumer',
        DEFAULT_LIMITS,
      ).sctpStreamParameters;
    } catch (err) {
      fromEdge?.close();
      throw rejected(`consumeData(${name})`, err);
    }
  }

  /**
   * Sends on the edge's `channel`; false when that channel is not open or the message is over
   * `maxMessageSize` (the caller uses the socket instead).
   */
  send(channel: RtcEdgeChannel, data: Uint8Array): boolean {
    const consumer = this.#consumers.get(channel);
    if (this.#closed || !consumer || data.byteLength > this.maxMessageSize) return false;
    try {
      // binary PPID (53); mediasoup wants a Buffer
      consumer.fromEdge.send(Buffer.from(data.buffer, data.byteOffset, data.byteLength), 53);
      return true;
    } catch (err) {
      // over maxMessageSize, or the producer closed under us: the caller falls back to the socket
      logger.debug(`session ${this.sessionId}: send on ${channel} failed (${(err as Error).message})`);
      return false;
    }
  }

  /** A video consumer on this transport for `producerId` (VideoSender), stamped with `mid`. */
  async consumeVideo(producerId: string, rtpCapabilities: types.RtpCapabilities, mid: string): Promise<types.Consumer> {
    this.#assertOpen();
    try {
      return await this.#webRtc.consume({ producerId, rtpCapabilities, mid, paused: false });
    } catch (err) {
      throw rejected('consume(video)', err);
    }
  }

  /** The send-side bandwidth estimate (transport-cc), bit/s; absent before the receiver's first feedback. */
  async estimate(): Promise<{ availableOutgoingBitrate?: number }> {
    this.#assertOpen();
    const [stats] = await this.#webRtc.getStats();
    return stats?.availableOutgoingBitrate !== undefined ? { availableOutgoingBitrate: stats.availableOutgoingBitrate } : {};
  }

  /** @internal The pool calls this when the worker under the transport died. */
  lose(error: RequestError): void {
    if (this.#closed) return;
    logger.warn(`session ${this.sessionId}: transport lost (${error.message})`);
    this.safeEmit('lost', error);
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { fromClient } of this.#producers.values()) fromClient.close();
    for (const { fromEdge } of this.#consumers.values()) fromEdge.close();
    this.#producers.clear();
    this.#consumers.clear();
    this.#webRtc.close();
    this.#direct.close();
    this.safeEmit('close');
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('the WebRTC transport is closed');
  }
}
