/**
 * A real WebRTC client peer for tests: node-datachannel (libdatachannel) connected to the edge
 * through the signalling a session carries (RtcSignalling), with a session stand-in that answers
 * each `predict` arriving on the data channel with a `prediction`, as the edge's handler does.
 */
import nodeDataChannel from 'node-datachannel';
import type { DataChannel, PeerConnection } from 'node-datachannel';
import { ErrorCode, ProtocolError, decode, encode, validate, type AckMessage, type PredictionMessage } from '../../protocol/index.js';
import { RTC_CLIENT_STREAM_MIN, type RtcDtlsParameters, type RtcIceCandidate, type RtcMessageOf, type RtcMessageType } from '../../protocol/webrtc.js';
import { answerSdp, dtlsParametersFromSdp } from '../../protocol/webrtcSdp.js';
import type { RtcVideoMessageOf, RtcVideoMessageType } from '../../protocol/webrtcVideo.js';
import { RtcSignalling, type RtcRequest } from '../../edge-server/webrtc/RtcSignalling.js';
import type { WorkerPool } from '../../edge-server/webrtc/WorkerPool.js';
import { withTimeout } from './wait.js';

type Answer = RtcMessageOf<RtcMessageType> | RtcVideoMessageOf<RtcVideoMessageType> | AckMessage;
const RTC_REQUESTS = new Set(['rtcOpen', 'rtcConnect', 'rtcProduceData', 'rtcConsumeData', 'rtcConsumeVideo']);

export interface TestSession {
  signalling: RtcSignalling;
  /** What the edge sent unasked (rtcLost). */
  notices: Answer[];
  /** Resolves with the next unasked message. */
  nextNotice(): Promise<Answer>;
  /** Sends one signalling request (an id is added) and resolves with its answer. */
  request(message: Record<string, unknown>): Promise<Answer>;
}

/** A session's WebRTC side on `pool`, answering predicts from its data channel with predictions. */
export function testSession(pool: WorkerPool, sessionId: string): TestSession {
  const notices: Answer[] = [];
  const noticeWaiters: ((answer: Answer) => void)[] = [];
  const signalling: RtcSignalling = new RtcSignalling(pool, {
    sessionId,
    notify(message) {
      notices.push(message);
      noticeWaiters.splice(0).forEach((resolve) => resolve(message));
    },
    receive(data) {
      const msg = decode(data);
      if (msg.t !== 'predict') return;
      const answer: PredictionMessage = { t: 'prediction', id: msg.id, pose: msg.poses![0]!, predictor: 'echo', horizonMs: msg.horizonMs, computeMs: 0 };
      signalling.send('predictions', encode(answer));
    },
    // a test peer that floods past the gate's queue loses its transport, as a session would close
    flooded: () => signalling.close(),
  });
  let nextId = 1;
  return {
    signalling,
    notices,
    nextNotice: () => new Promise((resolve) => noticeWaiters.push(resolve)),
    async request(message) {
      const id = nextId++;
      // what a session does with a frame: the codec's schema check, then the handler table
      // (which has no entry for what the edge sends, such as rtcLost)
      const checked = validate({ ...message, id });
      if (!RTC_REQUESTS.has(checked.t)) throw new ProtocolError(ErrorCode.BAD_MESSAGE, `'${checked.t}' is sent by nodes, not clients`);
      const answer = await withTimeout(signalling.handle(checked as RtcRequest), `the answer to ${String(message.t)}`);
      if (answer.id !== id) throw new Error(`answer to ${id} came with id ${answer.id}`);
      return answer;
    },
  };
}

export interface RtcPeer {
  pc: PeerConnection;
  /** client → edge, unordered, no retransmits */
  poses: DataChannel;
  /** edge → client */
  predictions: DataChannel;
  /** Messages received on `predictions`, in order. */
  received: Buffer[];
  /** Resolves with the next message on `predictions`. */
  next(timeoutMs?: number): Promise<Buffer>;
  close(): void;
}

function opened(channel: DataChannel, what: string, timeoutMs: number): Promise<void> {
  if (channel.isOpen()) return Promise.resolve();
  return withTimeout(new Promise<void>((resolve) => channel.onOpen(resolve)), what, timeoutMs);
}

/** rtcOpen, offer from the peer, answer from the transport, connect, then both data channels open. */
export interface ConnectOptions {
  timeoutMs?: number;
  /** Rewrites the edge's ICE candidates before the peer sees them (to go through netem). */
  candidates?: (candidates: RtcIceCandidate[]) => RtcIceCandidate[] | Promise<RtcIceCandidate[]>;
  /** Replaces the DTLS parameters read from the offer (to test a wrong fingerprint). */
  dtlsParameters?: (fromOffer: RtcDtlsParameters) => unknown;
}

export async function connectPeer(session: TestSession, options: ConnectOptions = {}): Promise<RtcPeer> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { PeerConnection } = nodeDataChannel;
  const pc = new PeerConnection('test-client', { iceServers: [] });
  try {
    const transport = await session.request({ t: 'rtcOpen' });
    if (transport.t !== 'rtcTransport') throw new Error(`rtcOpen answered ${transport.t}`);
    // a client gives up on its transport as soon as the edge says it is lost
    const lost = session.nextNotice().then((notice) => {
      throw new Error(`the edge sent ${notice.t} while connecting`);
    });
    lost.catch(() => {});
    const gathered = new Promise<void>((resolve) => pc.onGatheringStateChange((state) => state === 'complete' && resolve()));
    // the first channel triggers the offer; the streams are negotiated out of band (no DCEP)
    const poses = pc.createDataChannel('poses', { negotiated: true, id: RTC_CLIENT_STREAM_MIN, unordered: true, maxRetransmits: 0 });
    // wait for every candidate to be in the SDP: this signalling does not trickle
    await withTimeout(gathered, 'ICE gathering', timeoutMs);
    const offer = pc.localDescription()!.sdp;
    const candidates = (await options.candidates?.(transport.iceCandidates)) ?? transport.iceCandidates;
    pc.setRemoteDescription(answerSdp(offer, { ...transport, iceCandidates: candidates }), 'answer');
    const dtls = dtlsParametersFromSdp(offer);
    await session.request({ t: 'rtcConnect', dtlsParameters: options.dtlsParameters?.(dtls) ?? dtls });
    await session.request({
      t: 'rtcProduceData',
      channel: 'poses',
      sctpStreamParameters: { streamId: RTC_CLIENT_STREAM_MIN, ordered: false, maxRetransmits: 0 },
    });
    const consumer = await session.request({ t: 'rtcConsumeData', channel: 'predictions' });
    if (consumer.t !== 'rtcDataConsumer') throw new Error(`rtcConsumeData answered ${consumer.t}`);
    const stream = consumer.sctpStreamParameters;
    const predictions = pc.createDataChannel('predictions', {
      negotiated: true,
      id: stream.streamId,
      unordered: stream.ordered === false,
      ...(stream.maxRetransmits !== undefined ? { maxRetransmits: stream.maxRetransmits } : {}),
    });
    const received: Buffer[] = [];
    const waiters: ((b: Buffer) => void)[] = [];
    predictions.onMessage((msg) => {
      const buffer = typeof msg === 'string' ? Buffer.from(msg) : Buffer.from(msg as ArrayBuffer);
      received.push(buffer);
      waiters.shift()?.(buffer);
    });
    await Promise.race([lost, opened(poses, 'the poses channel to open', timeoutMs)]);
    await Promise.race([lost, opened(predictions, 'the predictions channel to open', timeoutMs)]);
    return {
      pc,
      poses,
      predictions,
      received,
      next: (ms = 5000) => withTimeout(new Promise<Buffer>((resolve) => waiters.push(resolve)), 'a message on predictions', ms),
      close: () => pc.close(),
    };
  } catch (err) {
    pc.close();
    throw err;
  }
}
