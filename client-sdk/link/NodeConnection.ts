/**
 * One live connection to one node: handshake, requests matched to answers by id (pairing from
 * protocol/replies.ts), ping/pong RTT and clock offset. It does not ping on its own: the one ping
 * loop is `LinkMonitor`, run by whoever owns the connection. It knows nothing of tiers or failover; `Session` builds those on top, so a
 * session can hold several connections (an edge and a warm cloud standby) at once.
 */
import {
  CloseCode,
  DEFAULT_CLIENT_MAX_FRAME_BYTES,
  ErrorCode,
  InvalidStateError,
  Logger,
  PROTOCOL_VERSION,
  ProtocolError,
  RequestError,
  decode,
  encode,
  resolveLimits,
  type DrainMessage,
  type ErrorMessage,
  type HelloMessage,
  type Message,
  answers,
  type ReplyOf,
  type RequestBody,
  type RequestType,
  type PoseSample,
  type WelcomeMessage,
  type SealMessage,
  helloNonce,
  verifyWelcome,
} from '../../protocol/index.js';
import { ConnectError, ConnectErrorCode } from '../errors.js';
import { EnhancedEventEmitter } from '../../protocol/EnhancedEventEmitter.js';
import { RttStats, type RttSummary } from './RttStats.js';
import type { Transport } from '../transport/Transport.js';
import { WebSocketTransport, type WebSocketConstructor } from '../transport/WebSocketTransport.js';
import type { RtcDataPath } from '../transport/RtcDataPath.js';
import type { DataPathOptions } from '../transport/RtcPeer.js';
import { RtcUpgrade } from './RtcUpgrade.js';
import { PendingRequests } from './PendingRequests.js';
import type { WireTap } from './WireTap.js';

const logger = new Logger('client:connection');
/** Extra copies of an unanswered predict on the data channel before the one on ws (see request()). */
const DATAGRAM_RESENDS = 2;

export type NodeConnectionEvents = {
  /** A ping came back, ms. */
  latency: [rttMs: number];
  /** The node asks us to move. */
  drain: [message: DrainMessage];
  /** The node sealed a block of its signed answers (trap verification keeps them). */
  seal: [message: SealMessage];
  /** The node reported an error not tied to a request (fatal ones precede `close`). */
  nodeerror: [error: RequestError | ProtocolError];
  close: [code: number, reason: string];
  /** The hot path moved: onto WebRTC data channels, or back on (or staying on) ws, and why. */
  transport: [kind: 'ws' | 'webrtc', why: string];
  /** The node lost our WebRTC transport; open a new one after `retryAfterMs`. */
  rtclost: [retryAfterMs: number];
  /** The node's video track stopped (its encoder died): render jpeg, or open video again. */
  videolost: [error: RequestError];
  /** An answer (or error) carried a request id this connection never sent: a broken or lying node. */
  strayanswer: [id: number, kind: string];
};

export interface NodeConnectionOptions extends DataPathOptions {
  /** What `hello` carries besides the version (resume state, token, capabilities). */
  hello?: Omit<HelloMessage, 't' | 'v'>;
  /** @default 3000 */
  connectTimeoutMs?: number;
  /** Largest frame accepted from the node. @default 32 MiB */
  maxFrameBytes?: number;
  /** WebSocket implementation (browsers: the global one; Node: ws, set by the Node entry). */
  WebSocket?: WebSocketConstructor;
  /** A ready socket-like transport instead of a URL to dial (tests, an in-memory pair). */
  socket?: Transport;
  /**
   * The node's public key as discovery vouched for it: `hello` then carries a fresh nonce and the
   * connection opens only if `welcome.proof` signs it with this key (else NODE_IDENTITY).
   */
  publicKey?: string;
}

export class NodeConnection extends EnhancedEventEmitter<NodeConnectionEvents> {
  readonly welcome: WelcomeMessage;
  readonly #transport: Transport;
  readonly #pending = new PendingRequests();
  readonly #rtt = new RttStats();
  readonly #limits;
  #nextId = 1;
  /** The id counter wrapped (after 2³² requests): every id may have been sent, none is stray. */
  #idsWrapped = false;
  #clockOffsetMs = Number.NaN;
  #closed = false;
  /** Tracked poses not sent yet: they ride on this turn's `predict`, or leave alone at its end. */
  #outgoingPoses: PoseSample[] = [];
  #flushQueued = false;
  #dataPath: RtcDataPath | undefined;
  #upgrade: RtcUpgrade | undefined;
  #resendAfterMs: number | undefined;
  tap: WireTap | undefined; // set by the owner right after `open`, before anything else is sent (NodeLink: spot checks)

  /** Dials `url`, says `hello`, and resolves once the node's `welcome` arrives. */
  static async open(url: string, options: NodeConnectionOptions = {}): Promise<NodeConnection> {
    const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_CLIENT_MAX_FRAME_BYTES;
    const started = performance.now();
    const transport = options.socket ?? (await WebSocketTransport.open(url, { WebSocket: options.WebSocket, maxFrameBytes, connectTimeoutMs }));
    const limits = resolveLimits({ maxFrameBytes });
    // a node discovery vouched for must prove it holds the key: a fresh nonce per connection
    const nonce = options.publicKey === undefined ? undefined : helloNonce();
    const welcome = await new Promise<WelcomeMessage>((resolve, reject) => {
      const timer = setTimeout(() => fail(new ConnectError(ConnectErrorCode.HANDSHAKE_TIMEOUT, `no welcome from ${url} within ${connectTimeoutMs} ms; is it an edge-offload node?`, { url })), Math.max(1, connectTimeoutMs - (performance.now() - started)));
      const cleanup = () => {
        clearTimeout(timer);
        transport.off('message', onMessage);
        transport.off('close', onClose);
      };
      const fail = (error: Error) => {
        cleanup();
        transport.close(CloseCode.NORMAL, 'handshake failed');
        reject(error);
      };
      const onMessage = (bytes: Uint8Array) => {
        let message: Message;
        try {
          message = decode(bytes, limits);
        } catch (err) {
          return fail(new ConnectError(ConnectErrorCode.HANDSHAKE_FAILED, `${url} sent an invalid handshake frame: ${(err as Error).message}`, { url, cause: err }));
        }
        if (message.t === 'welcome') {
          if (nonce === undefined) {
            cleanup();
            return resolve(message);
          }
          const claim = { nonce, node: message.node.id, session: message.session, tier: message.node.tier };
          verifyWelcome(options.publicKey!, claim, message.proof).then(
            () => {
              cleanup();
              resolve(message);
            },
            (err: Error) => fail(new ConnectError(ConnectErrorCode.NODE_IDENTITY, `${url}: ${err.message}; trying another node`, { url, cause: err })),
          );
        } else if (message.t === 'error') {
          fail(new ConnectError(ConnectErrorCode.HANDSHAKE_REJECTED, `${url} refused the session: ${message.message} (${message.code})`, { url, cause: new ProtocolError(message.code, message.message) }));
        } else {
          fail(new ConnectError(ConnectErrorCode.HANDSHAKE_FAILED, `${url} sent '${message.t}' before welcome`, { url }));
        }
      };
      const onClose = (code: number, reason: string) => fail(new ConnectError(ConnectErrorCode.HANDSHAKE_FAILED, `${url} closed during the handshake (${code} ${reason})`, { url }));
      transport.on('message', onMessage);
      transport.on('close', onClose);
      transport.send(encode({ t: 'hello', v: PROTOCOL_VERSION, ...options.hello, ...(nonce === undefined ? {} : { nonce }) }));
    });
    const conn = new NodeConnection(transport, welcome, limits);
    conn.#resendAfterMs = options.rtcResendAfterMs;
    if (welcome.caps.includes('webrtc') && (options.transport ?? 'auto') !== 'ws') conn.#upgrade = new RtcUpgrade(conn, options);
    return conn;
  }

  private constructor(transport: Transport, welcome: WelcomeMessage, limits: ReturnType<typeof resolveLimits>) {
    super();
    this.#transport = transport;
    this.welcome = welcome;
    this.#limits = limits;
    transport.on('message', (bytes) => this.#onMessage(bytes));
    transport.on('close', (code, reason) => this.#onClose(code, reason));
  }

  get url(): string {
    return this.#transport.url;
  }

  get nodeId(): string {
    return this.welcome.node.id;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes sent but not yet on the network: a growing number means the link is stalling. */
  get bufferedAmount(): number {
    return this.#transport.bufferedAmount;
  }

  /** Node clock minus client clock, ms, from the latest ping (NaN before the first pong). */
  get clockOffsetMs(): number {
    return this.#clockOffsetMs;
  }

  rtt(): RttSummary {
    return this.#rtt.summary();
  }

  /** The open WebRTC data path carrying pose/predict, or undefined while they go on ws. */
  get dataPath(): RtcDataPath | undefined {
    return this.#dataPath;
  }

  /** @internal RtcUpgrade: moves the hot path onto `path` (undefined: it stays on ws, `why`). */
  useDataPath(path: RtcDataPath | undefined, why = 'WebRTC data channels open'): void {
    if (this.#closed) return void path?.close();
    this.#dataPath?.close();
    this.#dataPath = path;
    if (!path) return void this.safeEmit('transport', 'ws', why);
    path.on('message', (bytes) => this.#onMessage(bytes));
    path.on('close', () => {
      if (this.#dataPath !== path) return;
      this.#dataPath = undefined;
      this.safeEmit('transport', 'ws', 'the WebRTC data channels closed');
    });
    this.safeEmit('transport', 'webrtc', why);
  }

  /** pose/predict bytes: on the data channel when one is open (true), else on ws. */
  #sendHot(bytes: Uint8Array): boolean {
    if (this.#dataPath?.send(bytes)) return true;
    this.#transport.send(bytes);
    return false;
  }

  /** Sends a message that has no answer (`pose`, `bye`); queued poses go first, order kept. */
  send(message: Message): void {
    if (this.#closed) throw new InvalidStateError('connection closed');
    this.#flushPoses();
    this.#transport.send(encode(message));
  }

  /**
   * Streams one tracked pose. It is held until the end of the current turn: a `predict` asked
   * in the same turn (the usual frame: pose, then "where will it be") carries it, so each frame
   * is one message; otherwise it leaves alone, microseconds later. Order with every other
   * message is kept.
   */
  sendPose(pose: PoseSample): void {
    if (this.#closed) throw new InvalidStateError('connection closed');
    this.#outgoingPoses.push(pose);
    if (this.#outgoingPoses.length >= this.welcome.limits.maxPosesPerMessage) return this.#flushPoses();
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      if (!this.#closed) this.#flushPoses();
    });
  }

  #flushPoses(): void {
    if (this.#outgoingPoses.length === 0) return;
    const message = { t: 'pose' as const, poses: this.#outgoingPoses };
    this.#outgoingPoses = [];
    this.#sendHot(encode(message));
    this.tap?.sent(message);
  }

  /** The id the next `request` is sent with (a trap's predicts must carry the ids the node signs). */
  get nextRequestId(): number {
    return this.#nextId;
  }

  request<T extends RequestType>(body: RequestBody<T>, timeoutMs: number): Promise<ReplyOf<T>> {
    if (this.#closed) return Promise.reject(new InvalidStateError(`connection to ${this.url} is closed`));
    const id = this.#nextId;
    this.#idsWrapped ||= this.#nextId >= 2 ** 32;
    this.#nextId = this.#nextId >= 2 ** 32 ? 1 : this.#nextId + 1;
    const message = { ...body, id } as Message;
    if (message.t === 'predict' && this.#outgoingPoses.length > 0) {
      message.poses = this.#outgoingPoses;
      this.#outgoingPoses = [];
    } else {
      this.#flushPoses();
    }
    return new Promise((resolve, reject) => {
      this.tap?.sent(message); // records only: the same turn as the send
      const timedOut = () => new RequestError(ErrorCode.TIMEOUT, `${body.t} got no answer from ${this.url} within ${timeoutMs} ms`);
      this.#pending.add(id, body.t as RequestType, resolve as (m: Message) => void, reject, timeoutMs, timedOut);
      const bytes = encode(message);
      if (message.t !== 'predict') return this.#transport.send(bytes);
      if (!this.#sendHot(bytes)) return;
      // A datagram lost either way must not fail the call: the same request again, first on the
      // data channel (a lost datagram is independent of the last one, so two more cover all but
      // ~0.1 % at 5 % loss each way, in a few RTTs), then once on ws, whose retransmit timer
      // (≥ 200 ms) is the reason not to go there first. The node answers every copy; the later
      // answers find nobody waiting.
      const srtt = this.#rtt.summary().p50;
      const after = this.#resendAfterMs ?? Math.max(5, Number.isFinite(srtt) ? 1.5 * srtt : 50);
      let copies = 0;
      // an answer, the timeout or close() clears the scheduled copy (PendingRequests)
      const resend = () => {
        if (++copies > DATAGRAM_RESENDS || !this.#dataPath?.send(bytes)) return this.#transport.send(bytes);
        this.#pending.resendAfter(id, after, resend);
      };
      this.#pending.resendAfter(id, after, resend);
    });
  }

  /** One ping round trip, ms. */
  async ping(timeoutMs = 1000): Promise<number> {
    const c = performance.now();
    const pong = await this.request<'ping'>({ t: 'ping', c }, timeoutMs);
    const now = performance.now();
    // our own clock at both ends: the echoed `pong.c` is the node's word, and a node that lies
    // about it could make itself look near (or a rival far)
    const rttMs = now - c;
    // NTP-style: the node's clock read halfway through the round trip
    this.#clockOffsetMs = (pong.r - c + (pong.s - now)) / 2;
    this.#rtt.add(rttMs);
    this.safeEmit('latency', rttMs);
    return rttMs;
  }

  close(code: number = CloseCode.NORMAL, reason = 'client closed'): void {
    if (this.#closed) return;
    try {
      this.#flushPoses();
      this.#transport.send(encode({ t: 'bye', reason }));
    } catch {
      // the socket may already be gone; closing below is what matters
    }
    this.#transport.close(code, reason);
    this.#onClose(code, reason);
  }

  #onMessage(bytes: Uint8Array): void {
    let message: Message;
    try {
      message = decode(bytes, this.#limits);
    } catch (err) {
      // a node that sends garbage is broken or hostile: stop talking to it
      logger.warn(`${this.url} sent an invalid frame: ${(err as Error).message}`);
      this.safeEmit('nodeerror', err as ProtocolError);
      this.#transport.close(CloseCode.PROTOCOL, (err as ProtocolError).code ?? 'BAD_FRAME');
      return;
    }
    if (message.t === 'prediction' || message.t === 'result' || message.t === 'frame' || message.t === 'seal' || message.t === 'error') this.tap?.received(message);
    switch (message.t) {
      case 'pong':
      case 'prediction':
      case 'result':
      case 'frame':
      case 'ack':
      case 'rtcTransport':
      case 'rtcDataConsumer':
      case 'rtcVideo':
        return this.#settle(message.id, message);
      case 'rtcVideoLost':
        this.safeEmit('videolost', new RequestError(message.code, message.reason));
        return;
      case 'rtcLost':
        this.safeEmit('rtclost', message.retryAfterMs ?? 0);
        return;
      case 'error':
        return this.#onError(message);
      case 'drain':
        this.safeEmit('drain', message);
        return;
      case 'seal':
        this.safeEmit('seal', message);
        return;
      default:
        logger.debug(`ignoring '${message.t}' from ${this.url}`);
    }
  }

  #settle(id: number, message: Message): void {
    const type = this.#pending.typeOf(id);
    if (type === undefined) return this.#unmatched(id, message.t); // answered after its timeout: nobody waits any more
    if (answers(type, message.t)) this.#pending.resolve(id, message);
    else this.#pending.reject(id, new ProtocolError(ErrorCode.BAD_MESSAGE, `${type} answered with '${message.t}'`));
  }

  #onError(message: ErrorMessage): void {
    const error = message.fatal ? new ProtocolError(message.code, message.message) : new RequestError(message.code, message.message);
    if (message.id === undefined || !this.#pending.reject(message.id, error)) {
      if (message.id !== undefined) this.#unmatched(message.id, 'error');
      this.safeEmit('nodeerror', error);
    }
  }

  /**
   * An answer nobody waits for: late (its request timed out, or a re-sent predict answered
   * twice) is normal; an id this connection never sent is not, and is reported.
   */
  #unmatched(id: number, kind: string): void {
    if (this.#idsWrapped || (Number.isInteger(id) && id >= 1 && id < this.#nextId)) return;
    this.safeEmit('strayanswer', id, kind);
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#upgrade?.close();
    this.#dataPath?.close();
    this.#dataPath = undefined;
    this.#pending.rejectAll((id, type) => new InvalidStateError(`connection to ${this.url} closed (${code}) with ${type} ${id} outstanding`));
    this.safeEmit('close', code, reason);
  }
}
