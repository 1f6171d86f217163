/**
 * Moves a connection's hot path onto WebRTC data channels: `pose` and `predict` leave on an
 * unordered channel that never retransmits (a late pose is useless; a lost one is replaced 11 ms
 * later), answers come back on the edge's unreliable `predictions` channel. Everything else,
 * signalling included, stays on the connection's ws, which also carries the hot path whenever the
 * channels are not open (before the upgrade, after ICE fails, after the edge's worker died).
 * Browser-safe: the peer implementation is injected (RtcPeer.ts).
 */
import {
  ErrorCode,
  RTC_CLIENT_STREAM_MIN,
  RequestError,
  answerSdp,
  dataMid,
  dtlsParametersFromSdp,
  videoOfferSdp,
  type ReplyOf,
  type RequestBody,
  type RtcTransportParameters,
} from '../../protocol/index.js';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import type { RtcChannelLike, RtcPeerFactory, RtcPeerLike } from './RtcPeer.js';

export type RtcDataPathEvents = {
  message: [bytes: Uint8Array];
  /** The channels are gone (ICE failed, the peer or the edge closed): the hot path is back on ws. */
  close: [];
};

/** What the upgrade needs from a connection: signalling requests on its socket. */
export interface RtcSignaller {
  request<T extends 'rtcOpen' | 'rtcConnect' | 'rtcProduceData' | 'rtcConsumeData' | 'rtcConsumeVideo'>(body: RequestBody<T>, timeoutMs: number): Promise<ReplyOf<T>>;
}

export class RtcDataPath extends EnhancedEventEmitter<RtcDataPathEvents> {
  readonly #peer: RtcPeerLike;
  readonly #poses: RtcChannelLike;
  /** What the video offer is built from: the edge transport and our data section's id. */
  readonly #transport: RtcTransportParameters;
  readonly #dataMid: string;
  #sdpVersion = 1;
  #video: Promise<MediaStreamTrack> | undefined;
  #closed = false;
  /** Messages sent and received on the channels (diagnostics, tests). */
  sent = 0;
  received = 0;

  /** Signals over `signal`, connects a new peer, resolves once both channels are open. */
  static async open(signal: RtcSignaller, peers: RtcPeerFactory, timeoutMs: number): Promise<RtcDataPath> {
    const transport = await signal.request<'rtcOpen'>({ t: 'rtcOpen' }, timeoutMs);
    const peer = peers();
    try {
      const poses = peer.channel('poses', { id: RTC_CLIENT_STREAM_MIN, ordered: false, maxRetransmits: 0 });
      const offer = await peer.offer(timeoutMs);
      await peer.answer(answerSdp(offer, transport));
      await signal.request<'rtcConnect'>({ t: 'rtcConnect', dtlsParameters: dtlsParametersFromSdp(offer) }, timeoutMs);
      await signal.request<'rtcProduceData'>(
        { t: 'rtcProduceData', channel: 'poses', sctpStreamParameters: { streamId: RTC_CLIENT_STREAM_MIN, ordered: false, maxRetransmits: 0 } },
        timeoutMs,
      );
      const consumer = await signal.request<'rtcConsumeData'>({ t: 'rtcConsumeData', channel: 'predictions' }, timeoutMs);
      const s = consumer.sctpStreamParameters;
      const predictions = peer.channel('predictions', { id: s.streamId, ordered: s.ordered !== false, ...(s.maxRetransmits !== undefined ? { maxRetransmits: s.maxRetransmits } : {}) });
      await Promise.all([opened(poses, timeoutMs), opened(predictions, timeoutMs)]);
      const { t: _t, id: _id, ...parameters } = transport;
      return new RtcDataPath(peer, poses, predictions, parameters, dataMid(offer));
    } catch (err) {
      peer.close();
      throw err;
    }
  }

  private constructor(peer: RtcPeerLike, poses: RtcChannelLike, predictions: RtcChannelLike, transport: RtcTransportParameters, mid: string) {
    super();
    this.#peer = peer;
    this.#poses = poses;
    this.#transport = transport;
    this.#dataMid = mid;
    predictions.onMessage((bytes) => {
      this.received++;
      this.safeEmit('message', bytes);
    });
    for (const channel of [poses, predictions]) channel.onClose(() => this.close());
    peer.onFailed(() => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** False when the channel cannot take it (closed): send on ws instead. */
  send(bytes: Uint8Array): boolean {
    if (this.#closed || !this.#poses.send(bytes)) return false;
    this.sent++;
    return true;
  }

  /**
   * Adds the edge's H.264 track to this connection (`rtcConsumeVideo`, then the edge's offer
   * answered by the peer) and resolves with it; once per path, later calls get the same track.
   * Rejects VIDEO_UNAVAILABLE where the peer cannot receive video (Node: no H.264 decoder).
   */
  openVideo(signal: RtcSignaller, timeoutMs: number): Promise<MediaStreamTrack> {
    this.#video ??= (async () => {
      const receive = this.#peer.receiveVideo;
      if (!receive) throw new RequestError(ErrorCode.VIDEO_UNAVAILABLE, 'this WebRTC peer decodes no H.264 (Node): render jpeg frames over ws');
      const { t: _t, id: _id, ...video } = await signal.request<'rtcConsumeVideo'>({ t: 'rtcConsumeVideo' }, timeoutMs);
      return receive.call(this.#peer, videoOfferSdp(this.#transport, this.#dataMid, video, ++this.#sdpVersion), timeoutMs);
    })();
    this.#video.catch(() => (this.#video = undefined));
    return this.#video;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#peer.close();
    this.safeEmit('close');
  }
}

function opened(channel: RtcChannelLike, timeoutMs: number): Promise<void> {
  if (channel.isOpen) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`a data channel did not open within ${timeoutMs} ms`)), timeoutMs);
    channel.onOpen(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
